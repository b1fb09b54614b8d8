"""pg_password_rotate's run() through a fake driver that plays a server with one role and its current verifier: the
new password sent only as libpq's verifier, proven on fresh connections (the new accepted, the old refused), the
re-run after a done rotation changing nothing, check mode changing nothing, a server that trusts the client (the old
password still accepted) a failure, and no password in any message. The real server is tests/integration/lego."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.pg_password_rotate_run import run

OLD, NEW = "old-canary-pw", "new-canary-pw"


class AuthFailed(Exception):
    sqlstate = "28P01"


class PgConn:
    def __init__(self, server):
        self.server = server
        self.autocommit = False
        self.pgconn = self

    def encrypt_password(self, password, user, algorithm):
        return ("SCRAM-SHA-256$4096:salt$%s" % hash((password, user, algorithm))).encode()

    def cursor(self):
        return Cursor(self.server)

    def close(self):
        pass


class Cursor:
    description = None

    def __init__(self, server):
        self.server = server

    def execute(self, sql, args=None):
        self.server.statements.append(sql)
        if sql.startswith("ALTER ROLE CURRENT_USER PASSWORD '"):
            verifier = sql.split("'")[1]
            self.server.password = self.server.by_verifier[verifier]

    def fetchall(self):
        return []

    def close(self):
        pass


class Server:
    """connect() accepts the role's current password (any password when trust is on)."""

    def __init__(self, password=OLD, trust=False):
        self.password, self.trust = password, trust
        self.statements = []
        self.by_verifier = {}

    def connect(self, **kwargs):
        if not self.trust and kwargs.get("password") != self.password:
            raise AuthFailed('connection failed: FATAL:  password authentication failed for user "%s"' % kwargs["user"])
        conn = PgConn(self)
        original = conn.encrypt_password

        def remember(password, user, algorithm):
            verifier = original(password, user, algorithm)
            self.by_verifier[verifier.decode()] = password.decode()
            return verifier
        conn.encrypt_password = remember
        return conn


def params(**extra):
    p = dict(login_host="db.internal", login_port=5432, login_user="lego_mcp", login_password=OLD,
             login_db="lego_mcp", new_password=NEW, encryption="scram-sha-256", connect_timeout=5)
    p.update(extra)
    return p


def test_rotation_sends_only_the_verifier_and_proves_old_refused_new_accepted():
    server = Server()
    result = run(params(), driver=("psycopg", server))
    assert result["changed"] is True and result["new_accepted"] is True and result["old_refused"] is True
    assert server.password == NEW
    assert not any(NEW in sql or OLD in sql for sql in server.statements)
    assert any(sql.startswith("ALTER ROLE CURRENT_USER PASSWORD 'SCRAM-SHA-256$") for sql in server.statements)


def test_a_rerun_after_the_rotation_changes_nothing():
    server = Server(password=NEW)
    result = run(params(), driver=("psycopg", server))
    assert result["changed"] is False and result["already_rotated"] is True and result["old_refused"] is True
    assert not any(sql.startswith("ALTER") for sql in server.statements)


def test_check_mode_logs_in_and_changes_nothing():
    server = Server()
    result = run(params(), check_mode=True, driver=("psycopg", server))
    assert result["changed"] is True and server.password == OLD
    assert not any(sql.startswith("ALTER") for sql in server.statements)


def test_neither_password_accepted_fails_without_a_change_or_a_password_in_the_message():
    server = Server(password="something-else")
    with pytest.raises(TaskError) as err:
        run(params(), driver=("psycopg", server))
    assert "neither login_password nor new_password" in err.value.msg and "Nothing was changed" in err.value.msg
    assert OLD not in err.value.msg and NEW not in err.value.msg and server.statements == []


def test_a_server_that_still_takes_the_old_password_fails_the_task():
    server = Server(trust=True)
    with pytest.raises(TaskError) as err:
        run(params(), driver=("psycopg", server))
    assert "still accepts the OLD one" in err.value.msg and err.value.result["changed"] is True


@pytest.mark.parametrize("extra,needle", [
    (dict(new_password=OLD), "new_password is the current password"),
    (dict(login_password=""), "login_password (the role's current password) and new_password must both be given"),
    (dict(encryption="crypt"), "encryption must be one of"),
])
def test_bad_input_is_refused_before_connecting(extra, needle):
    server = Server()
    with pytest.raises(TaskError) as err:
        run(params(**extra), driver=("psycopg", server))
    assert needle in err.value.msg and server.statements == []
