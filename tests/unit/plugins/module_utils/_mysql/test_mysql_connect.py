"""The one MySQL connection helper: PyMySQL parameters, the lazy import, messages that name where and never the password."""

import sys

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connect import (
    DriverMissing,
    connect,
    driver_params,
    load_driver,
    missing_driver,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.errors import MysqlError

PARAMS = dict(login_host="db.internal", login_port=3307, login_user="ops", login_password="s3cret-canary",
              login_db="connectorMCP", login_unix_socket="", connect_timeout=5, ca_cert="/etc/ca.pem",
              client_cert=None, client_key=None)


def test_driver_params():
    kw = driver_params(PARAMS)
    assert kw == dict(host="db.internal", port=3307, user="ops", password="s3cret-canary", database="connectorMCP",
                      connect_timeout=5, autocommit=True, charset="utf8mb4", program_name="mcpops.runbooks",
                      ssl={"ca": "/etc/ca.pem"})
    socket = driver_params(dict(PARAMS, login_unix_socket="/run/mysqld/mysqld.sock", login_db="", ca_cert=None))
    assert socket["unix_socket"] == "/run/mysqld/mysqld.sock" and "host" not in socket and "database" not in socket
    assert "ssl" not in socket


class FakeError(Exception):
    pass


class FakeDriver:
    MySQLError = FakeError

    def __init__(self, exc):
        self.exc = exc

    def connect(self, **kw):
        raise self.exc


@pytest.mark.parametrize("exc,hint", [
    (FakeError(1045, "Access denied for user 'ops'@'10.0.0.9' (using password: YES) s3cret-canary"),
     "check login_password for user ops"),
    (FakeError(2003, "Can't connect to MySQL server on 'db.internal' ([Errno 111] Connection refused)"), "mariadb-admin"),
    (FakeError(1040, "Too many connections"), "out of connections"),
    (FakeError(1049, "Unknown database 'connectorMCP'"), "check login_db"),
    (FakeError("ssl handshake failed: certificate verify failed"), "check ca_cert"),
])
def test_connect_errors_name_where_what_and_next(exc, hint):
    with pytest.raises(MysqlError) as err:
        connect(PARAMS, driver=FakeDriver(exc))
    msg = err.value.msg
    assert msg.startswith("could not connect as user ops at db.internal:3307 (database connectorMCP): ")
    assert hint in msg and "s3cret-canary" not in msg
    assert err.value.errno == (exc.args[0] if isinstance(exc.args[0], int) else None)


class BusyThenFreeDriver:
    """A full server whose reserved slot is taken twice ("Too many connections"), then free."""
    MySQLError = FakeError

    def __init__(self, busy):
        self.busy, self.calls = busy, 0

    def connect(self, **kw):
        self.calls += 1
        if self.calls <= self.busy:
            raise FakeError(1040, "Too many connections")
        return "a connection"


def test_too_many_connections_is_tried_again_for_a_moment_before_it_is_the_answer(monkeypatch):
    from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql import connect as connect_module

    monkeypatch.setattr(connect_module.time, "sleep", lambda seconds: None)
    driver = BusyThenFreeDriver(busy=2)
    assert connect(PARAMS, driver=driver).conn == "a connection" and driver.calls == 3
    # other errors are the answer at once: a wrong password is not tried again
    denied = FakeDriver(FakeError(1045, "Access denied"))
    with pytest.raises(MysqlError):
        connect(PARAMS, driver=denied)
    # past the deadline the refusal is the answer, with its hint
    monkeypatch.setattr(connect_module, "TOO_MANY_RETRY_SECONDS", 0.0)
    with pytest.raises(MysqlError) as err:
        connect(PARAMS, driver=BusyThenFreeDriver(busy=5))
    assert "out of connections" in err.value.msg


def test_missing_driver(monkeypatch):
    monkeypatch.setitem(sys.modules, "pymysql", None)  # import raises ImportError
    with pytest.raises(DriverMissing) as err:
        load_driver()
    assert "pymysql" in err.value.traceback
    task_error = missing_driver(err.value, "to talk to MySQL/MariaDB")
    assert (task_error.library, task_error.reason) == ("PyMySQL", "to talk to MySQL/MariaDB")


class Cursor:
    description = None

    def __init__(self, exc):
        self.exc = exc

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def execute(self, sql, args):
        raise self.exc


class Conn:
    def __init__(self, exc):
        self.exc = exc

    def cursor(self):
        return Cursor(self.exc)


def test_statement_errors_carry_the_number_and_never_the_password():
    driver = type("D", (), {"MySQLError": FakeError, "connect": staticmethod(lambda **kw: Conn(FakeError(1095, "You are not owner of thread 7 s3cret-canary")))})
    session = connect(PARAMS, driver=driver)
    with pytest.raises(MysqlError) as err:
        session.execute("KILL CONNECTION %s", (7,), what="KILL CONNECTION")
    assert err.value.errno == 1095 and "KILL CONNECTION as user ops" in err.value.msg
    assert "(1095) You are not owner of thread 7" in err.value.msg and "s3cret-canary" not in err.value.msg
