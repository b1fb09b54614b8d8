"""pg_connections' run(): input refused before connecting, info and signal through a fake driver, every failure a
TaskError (the server's refusal with its SQLSTATE and what to do next, a missing driver as a missing library)."""

import sys

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.pg_connections_run import run

SETTINGS = dict(max_connections=10, superuser_reserved_connections=3, reserved_connections=0, server_version="16.4")


def session(pid, state="idle", user="app"):
    return dict(pid=pid, user=user, database="appdb", client_addr="10.0.0.5", application_name="dash", state=state,
                state_seconds=700.0, xact_seconds=None, wait_event_type=None, wait_event=None, blocked_by=[],
                idle_seconds=700.0, backend_start="2026-01-01 00:00:00+00", query_start="q0", signalled=True)


class Cursor:
    def __init__(self, conn):
        self.conn = conn
        self.description = None
        self.rows = []

    def execute(self, sql, args):
        self.conn.statements.append((sql, args))
        if self.conn.refuse:
            exc = Exception("ERROR:  permission denied to terminate process")
            exc.sqlstate = "42501"
            raise exc
        if "current_setting('max_connections')" in sql:
            self.rows = [SETTINGS]
        elif "WITH target" in sql:
            self.rows = self.conn.sessions
        elif "pid = ANY" in sql:
            self.rows = []  # the poll after a terminate: every signalled session is gone
        else:
            self.rows = self.conn.sessions
        self.description = [(name,) for name in self.rows[0]] if self.rows else [("pid",)]

    def fetchall(self):
        return [tuple(r.values()) for r in self.rows]

    def close(self):
        pass


class Conn:
    def __init__(self, sessions, refuse):
        self.sessions, self.refuse = sessions, refuse
        self.statements = []
        self.autocommit = False
        self.closed = False

    def cursor(self):
        return Cursor(self)

    def close(self):
        self.closed = True


class Driver:
    """A stand-in for psycopg: connect() hands out one Conn and remembers the libpq arguments."""

    def __init__(self, sessions=(), refuse=False):
        self.conn = Conn(list(sessions), refuse)
        self.kwargs = None

    def connect(self, **kwargs):
        self.kwargs = kwargs
        return self.conn


def params(**extra):
    p = dict(state="info", login_host="db.internal", login_port=5432, login_user="ops", login_password="pw-canary",
             login_db="postgres", wait_timeout=5)
    p.update(extra)
    return p


def test_info_reports_the_sessions_and_changes_nothing():
    driver = Driver([session(1), session(2, state="active")])
    result = run(params(), driver=("psycopg", driver))
    assert result["changed"] is False and result["total"] == 2 and result["max_connections"] == 10
    assert result["available"] == 10 - 3 - 2 and result["server_version"] == "16.4"
    assert driver.conn.autocommit is True and driver.conn.closed is True
    assert len(driver.conn.statements) == 2 and all(args is None for _sql, args in driver.conn.statements)


def test_terminate_signals_and_waits_until_gone():
    driver = Driver([session(7)])
    result = run(params(state="terminated", states=["idle"]), driver=("psycopg", driver))
    assert result["changed"] is True and result["gone"] == 1 and result["survived"] == []
    assert driver.conn.statements[0][1]["action"] == "terminate"


def test_check_mode_signals_nothing():
    driver = Driver([session(7)])
    result = run(params(state="terminated", states=["idle"]), check_mode=True, driver=("psycopg", driver))
    assert result["changed"] is True and result["gone"] == 0
    assert [args["action"] for _sql, args in driver.conn.statements] == ["none"]


@pytest.mark.parametrize("extra,needle", [
    (dict(wait_timeout=-1), "wait_timeout must be 0 or more seconds (got -1)"),
    (dict(state="terminated"), "pg_connections state=terminated: refused: no filter"),
    (dict(state="cancelled", idle_for="soon"), "pg_connections state=cancelled: idle_for 'soon'"),
])
def test_bad_input_is_refused_before_connecting(extra, needle):
    driver = Driver([session(1)])
    with pytest.raises(TaskError) as err:
        run(params(**extra), driver=("psycopg", driver))
    assert err.value.msg.startswith(needle) and err.value.result == {}
    assert driver.kwargs is None  # never connected


def test_a_refused_signal_says_which_role_is_needed_and_keeps_the_sqlstate():
    driver = Driver([session(1)], refuse=True)
    with pytest.raises(TaskError) as err:
        run(params(state="terminated", users=["app"]), driver=("psycopg", driver))
    assert "(SQLSTATE 42501)" in err.value.msg and "pg_signal_backend" in err.value.msg
    assert err.value.result == {"sqlstate": "42501"} and "pw-canary" not in err.value.msg


def test_a_connection_failure_names_where():
    class Down:
        @staticmethod
        def connect(**kwargs):
            raise Exception("connection to server failed: Connection refused")

    with pytest.raises(TaskError) as err:
        run(params(), driver=("psycopg", Down))
    assert err.value.msg.startswith("could not connect as user ops to database postgres at db.internal:5432")
    assert err.value.library is None and err.value.result == {}


def test_a_missing_driver_is_a_missing_library(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    with pytest.raises(TaskError) as err:
        run(params())
    assert err.value.library == "psycopg (or psycopg2)"
    assert err.value.reason == "to talk to PostgreSQL; or delegate_to a host that has it"
    assert "psycopg" in err.value.exception
