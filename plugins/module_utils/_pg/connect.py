# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One way to reach PostgreSQL for every module of the collection (pg_connections, pg_dump_verify).

The connection options are named as community.postgresql names them (CONNECTION_ARGSPEC here, their text in
the doc fragment mcpops.runbooks.postgres). The driver is psycopg 3, else psycopg2, imported only when a
connection is made (load_driver raises DriverMissing, which a run() turns into missing_driver()'s TaskError:
missing_required_lib in the task). connect(params) returns a PgSession; every failure is a PgError whose message says where we tried to connect, as whom,
what the server or libpq answered, and what to check next - never the password. No Ansible here.
"""

from __future__ import annotations

import traceback

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

SSL_MODES = ["allow", "disable", "prefer", "require", "verify-ca", "verify-full"]

CONNECTION_ARGSPEC = dict(
    login_host=dict(type="str", default=""),
    login_port=dict(type="int", default=5432),
    login_user=dict(type="str", default="postgres"),
    login_password=dict(type="str", default="", no_log=True),
    login_db=dict(type="str", default="postgres"),
    login_unix_socket=dict(type="str", default=""),
    ssl_mode=dict(type="str", default="prefer", choices=SSL_MODES),
    ca_cert=dict(type="str", default=""),
    connect_timeout=dict(type="int", default=10),
)

DRIVER_PACKAGE = "psycopg"  # what missing_required_lib names (psycopg2 is accepted as well)


class DriverMissing(Exception):
    """Neither psycopg nor psycopg2 imports; .traceback is the psycopg import error."""

    def __init__(self, tb):
        super(DriverMissing, self).__init__("neither psycopg (3) nor psycopg2 can be imported")
        self.traceback = tb


def missing_driver(exc, reason):
    """The TaskError a run() raises for DriverMissing: the task names the library with missing_required_lib."""
    return TaskError(str(exc), library=DRIVER_PACKAGE + " (or psycopg2)", reason=reason, exception=exc.traceback)


class PgError(Exception):
    """A connection or statement failed; .msg is ready for fail_json, .sqlstate when the server gave one."""

    def __init__(self, msg, sqlstate=None):
        super(PgError, self).__init__(msg)
        self.msg = msg
        self.sqlstate = sqlstate


def load_driver():
    """(name, module) of the first importable driver: psycopg 3 preferred, psycopg2 accepted."""
    try:
        import psycopg

        return "psycopg", psycopg
    except ImportError:
        tb = traceback.format_exc()
    try:
        import psycopg2

        return "psycopg2", psycopg2
    except ImportError:
        raise DriverMissing(tb)


def where(params):
    """Where and as whom, for messages: 'user app to database appdb at 127.0.0.1:5432'."""
    if params.get("login_unix_socket"):
        place = "unix socket %s/.s.PGSQL.%s" % (params["login_unix_socket"], params.get("login_port") or 5432)
    else:
        place = "%s:%s" % (params.get("login_host") or "localhost", params.get("login_port") or 5432)
    return "user %s to database %s at %s" % (params.get("login_user"), params.get("login_db"), place)


def libpq_params(params):
    """The keyword arguments for connect(): the unix socket directory wins over login_host, as in libpq."""
    kwargs = dict(
        user=params.get("login_user") or "postgres",
        dbname=params.get("login_db") or "postgres",
        port=int(params.get("login_port") or 5432),
        sslmode=params.get("ssl_mode") or "prefer",
        connect_timeout=int(params.get("connect_timeout") or 10),
        application_name="mcpops.runbooks",
    )
    host = params.get("login_unix_socket") or params.get("login_host")
    if host:
        kwargs["host"] = host
    if params.get("login_password"):
        kwargs["password"] = params["login_password"]
    if params.get("ca_cert"):
        kwargs["sslrootcert"] = params["ca_cert"]
    return kwargs


def scrub(text, params):
    """Belt and braces: the password never leaves in a message, whatever libpq put in it."""
    text = str(text).strip()
    secret = params.get("login_password")
    if secret:
        text = text.replace(secret, "********")
    return text


def connect_hint(text, params):
    """What to do next, from libpq's words."""
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return ("check login_password for role %s (and pg_hba.conf's method for this host); "
                "nothing was changed" % params.get("login_user"))
    if "does not exist" in lowered and "database" in lowered:
        return "check login_db: that database does not exist on this server"
    if "role" in lowered and "does not exist" in lowered:
        return "check login_user: that role does not exist on this server"
    if "no pg_hba.conf entry" in lowered:
        return "pg_hba.conf has no line for this client, user and database; add one or connect from an allowed host"
    if "too many connections" in lowered or "remaining connection slots" in lowered:
        return ("the server is out of connection slots (the incident itself): connect as a superuser, which may use "
                "superuser_reserved_connections, or through the unix socket on the database host")
    if "timeout" in lowered:
        return "no answer within connect_timeout=%s s: check network reachability and the firewall" % params.get("connect_timeout")
    return ("check that PostgreSQL runs and listens there (pg_isready -h <host> -p <port>), and "
            "login_host/login_port/login_unix_socket")


class PgSession:
    """An autocommit connection with query() returning dicts, the same over psycopg 3 and psycopg2."""

    def __init__(self, driver_name, conn, params):
        self.driver = driver_name
        self.conn = conn
        self.params = params

    def query(self, sql, args=None, what="query"):
        """Run one parameterised statement; rows as dicts (empty for a statement with no result)."""
        try:
            cur = self.conn.cursor()
            try:
                cur.execute(sql, args)
                if cur.description is None:
                    return []
                names = [col[0] for col in cur.description]
                return [dict(zip(names, row)) for row in cur.fetchall()]
            finally:
                cur.close()
        except Exception as exc:  # the driver's own errors, whatever the driver
            sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
            raise PgError("%s as %s failed%s: %s" % (
                what, where(self.params), " (SQLSTATE %s)" % sqlstate if sqlstate else "", scrub(exc, self.params)), sqlstate)

    def close(self):
        try:
            self.conn.close()
        except Exception:  # closing a broken connection must not hide the real error
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(params, driver=None):
    """A PgSession (autocommit) or PgError naming where, as whom, libpq's answer and the next thing to check.

    Raises DriverMissing when no driver imports; driver=(name, module) overrides the import (tests)."""
    name, module = driver or load_driver()
    try:
        conn = module.connect(**libpq_params(params))
        conn.autocommit = True
    except Exception as exc:
        text = scrub(exc, params)
        raise PgError("could not connect as %s: %s. Next: %s" % (where(params), text, connect_hint(text, params)),
                      getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None))
    return PgSession(name, conn, params)
