"""The one connection helper: libpq parameters, the driver import, messages that name where and never the password."""

import sys

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._pg import connect as pg_connect
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.connect import (
    DriverMissing,
    PgError,
    connect,
    libpq_params,
    load_driver,
    missing_driver,
)

PARAMS = dict(login_host="db.internal", login_port=6432, login_user="ops", login_password="s3cret-canary",
              login_db="gateway", login_unix_socket="", ssl_mode="verify-full", ca_cert="/etc/ca.pem", connect_timeout=5)


def test_libpq_params():
    kw = libpq_params(PARAMS)
    assert kw == dict(host="db.internal", port=6432, user="ops", dbname="gateway", password="s3cret-canary",
                      sslmode="verify-full", sslrootcert="/etc/ca.pem", connect_timeout=5, application_name="mcpops.runbooks")
    socket = libpq_params(dict(PARAMS, login_unix_socket="/run/pg", login_password=""))
    assert socket["host"] == "/run/pg" and "password" not in socket


class FakeDriver:
    def __init__(self, exc):
        self.exc = exc

    def connect(self, **kw):
        raise self.exc


@pytest.mark.parametrize("libpq,hint", [
    ('connection to server at "10.0.0.5", port 6432 failed: FATAL:  password authentication failed for user "ops" '
     '(password was s3cret-canary)', "check login_password for role ops"),
    ('connection to server at "10.0.0.5", port 6432 failed: Connection refused', "pg_isready"),
    ('FATAL:  sorry, too many clients already; remaining connection slots are reserved', "out of connection slots"),
    ('FATAL:  database "gateway" does not exist', "check login_db"),
    ('FATAL:  role "ops" does not exist', "check login_user"),
    ('FATAL:  no pg_hba.conf entry for host "10.0.0.9"', "pg_hba.conf"),
    ('timeout expired', "connect_timeout=5"),
])
def test_connect_errors_name_where_what_and_next(libpq, hint):
    with pytest.raises(PgError) as err:
        connect(PARAMS, driver=("psycopg", FakeDriver(Exception(libpq))))
    msg = err.value.msg
    assert msg.startswith("could not connect as user ops to database gateway at db.internal:6432: ")
    assert hint in msg
    assert "s3cret-canary" not in msg


def test_missing_driver(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    with pytest.raises(DriverMissing) as err:
        load_driver()
    assert "psycopg" in err.value.traceback
    task_error = missing_driver(err.value, "to talk to PostgreSQL")
    assert (task_error.library, task_error.reason) == ("psycopg (or psycopg2)", "to talk to PostgreSQL")
    assert task_error.exception == err.value.traceback and task_error.result == {}


def test_psycopg2_is_accepted(monkeypatch):
    fake = type(sys)("psycopg2")
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setitem(sys.modules, "psycopg2", fake)
    assert load_driver() == ("psycopg2", fake)


class FailingCursor:
    description = None

    def execute(self, sql, args):
        exc = Exception("ERROR:  permission denied to terminate process")
        exc.pgcode = "42501"
        raise exc

    def close(self):
        pass


class Conn:
    autocommit = False

    def cursor(self):
        return FailingCursor()

    def close(self):
        pass


def test_statement_errors_carry_the_sqlstate():
    class Driver:
        @staticmethod
        def connect(**kw):
            return Conn()

    with connect(PARAMS, driver=("psycopg2", Driver)) as session:
        with pytest.raises(PgError) as err:
            session.query("SELECT 1", what="selecting sessions")
    assert err.value.sqlstate == "42501"
    assert err.value.msg.startswith("selecting sessions as user ops to database gateway at db.internal:6432 failed (SQLSTATE 42501)")
    assert pg_connect.where(dict(PARAMS, login_unix_socket="/run/pg")).endswith("unix socket /run/pg/.s.PGSQL.6432")
