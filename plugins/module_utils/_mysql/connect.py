# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One way to reach MySQL or MariaDB for every module of the collection (mysql_connections, oauth_states, ...).

The connection options are named as community.mysql names them (connection_options.py, their text in the
doc fragment mcpops.runbooks.mysql); unlike community.mysql no ~/.my.cnf is read. The driver is PyMySQL (pure
Python), imported only when a connection is made: load_driver raises DriverMissing, which a run() turns into
missing_driver()'s TaskError (missing_required_lib in the task). connect(params) returns a MysqlSession
(autocommit); every failure is the domain's MysqlError (errors.py; .errno set here, the server's error number)
whose message says where we tried to connect, as whom, what the server answered and what to check next - never
the password. No Ansible here.
"""

from __future__ import annotations

import time
import traceback

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connection_options import CONNECTION_ARGSPEC as CONNECTION_OPTIONS
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.errors import MysqlError

# login_db is the PyMySQL modules' own: which database they need differs (oauth_states needs one).
CONNECTION_ARGSPEC = dict(CONNECTION_OPTIONS, login_db=dict(type="str", default=""))

DRIVER_PACKAGE = "PyMySQL"  # what missing_required_lib names

# Server error numbers the messages and callers know.
ACCESS_DENIED = 1045
BAD_DB = 1049
TOO_MANY_CONNECTIONS = 1040
# A full server's one reserved admin slot may be another admin's or a monitor's (mysqld_exporter) for a moment:
# "Too many connections" is tried again for this long before it is the answer.
TOO_MANY_RETRY_SECONDS = 3.0
UNKNOWN_THREAD = 1094
NOT_OWNER_OF_THREAD = 1095
SPECIFIC_ACCESS_DENIED = 1227
NO_SUCH_TABLE = 1146
BAD_FIELD = 1054
CANNOT_CONNECT = 2003
UNKNOWN_HOST = 2005


class DriverMissing(Exception):
    """PyMySQL does not import; .traceback is the import error."""

    def __init__(self, tb):
        super(DriverMissing, self).__init__("PyMySQL (import pymysql) cannot be imported")
        self.traceback = tb


def missing_driver(exc, reason):
    """The TaskError a run() raises for DriverMissing: the task names the library with missing_required_lib."""
    return TaskError(str(exc), library=DRIVER_PACKAGE, reason=reason, exception=exc.traceback)


def mysql_error(msg, errno=None, stage=None):
    """The domain's one error (errors.MysqlError) carrying the server's error number as .errno (None when none)."""
    exc = MysqlError(msg, stage)
    exc.errno = errno
    return exc


def load_driver():
    """The pymysql module, or DriverMissing."""
    try:
        import pymysql

        return pymysql
    except ImportError:
        raise DriverMissing(traceback.format_exc())


def where(params):
    """Where and as whom, for messages: 'user app at 127.0.0.1:3306 (database connectorMCP)'."""
    if params.get("login_unix_socket"):
        place = "unix socket %s" % params["login_unix_socket"]
    else:
        place = "%s:%s" % (params.get("login_host") or "localhost", params.get("login_port") or 3306)
    text = "user %s at %s" % (params.get("login_user") or "root", place)
    if params.get("login_db"):
        text += " (database %s)" % params["login_db"]
    return text


def driver_params(params):
    """The keyword arguments for pymysql.connect(): the unix socket, when given, wins over login_host."""
    kwargs = dict(
        user=params.get("login_user") or "root",
        password=params.get("login_password") or "",
        connect_timeout=int(params.get("connect_timeout") or 10),
        autocommit=True,
        charset="utf8mb4",
        program_name="mcpops.runbooks",
    )
    if params.get("login_unix_socket"):
        kwargs["unix_socket"] = params["login_unix_socket"]
    else:
        kwargs["host"] = params.get("login_host") or "localhost"
        kwargs["port"] = int(params.get("login_port") or 3306)
    if params.get("login_db"):
        kwargs["database"] = params["login_db"]
    ssl = dict((key, params[opt]) for key, opt in (("ca", "ca_cert"), ("cert", "client_cert"), ("key", "client_key"))
               if params.get(opt))
    if ssl:
        kwargs["ssl"] = ssl
    return kwargs


def error_number(exc):
    """The server's (or client library's) error number of a PyMySQL error, else None."""
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def error_text(exc, params):
    """The driver's words without the password: '(1045) Access denied for user ...'."""
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        text = "(%d) %s" % (args[0], args[1])
    else:
        text = str(exc) or exc.__class__.__name__
    secret = params.get("login_password")
    if secret:
        text = text.replace(secret, "********")
    return text.strip()


def connect_hint(errno, text, params):
    """What to do next, from the error number and the driver's words."""
    if errno == ACCESS_DENIED:
        return ("check login_password for user %s, and that the account exists for the host the server sees this "
                "client as (the user@host in the message); nothing was changed" % (params.get("login_user") or "root"))
    if errno == BAD_DB:
        return "check login_db: that database does not exist on this server"
    if errno == TOO_MANY_CONNECTIONS:
        return ("the server is out of connections (max_connections, the incident itself): MariaDB and MySQL keep one "
                "extra connection for an account with SUPER / CONNECTION ADMIN, so log in as such an account (root), "
                "or through extra_port / admin_port where the server has one")
    if errno in (CANNOT_CONNECT, UNKNOWN_HOST) or "timed out" in text.lower():
        return ("check that the server runs and listens there (mariadb-admin -h <host> -P <port> ping), login_host/"
                "login_port/login_unix_socket, and the firewall (connect_timeout=%s s)" % params.get("connect_timeout"))
    if "ssl" in text.lower() or "certificate" in text.lower():
        return "check ca_cert, client_cert and client_key, and that the server has TLS on"
    return "check login_host, login_port, login_unix_socket, login_user and login_password"


BATCH = 1000  # statements a round trip: about 25 KB of KILLs, far below any max_allowed_packet
_COM_SET_OPTION = 0x1B  # the protocol's command; its argument: 0 multi-statements on, 1 off


def _set_multi_statements(conn, on):
    """COM_SET_OPTION on the PyMySQL connection: multi-statements on or off for this session (an error raises)."""
    conn._execute_command(_COM_SET_OPTION, b"\x00\x00" if on else b"\x01\x00")
    conn._read_packet()  # EOF or OK; an error packet raises the driver's error


class MysqlSession:
    """An autocommit PyMySQL connection whose query() returns dicts and whose errors are MysqlError."""

    def __init__(self, conn, params, driver):
        self.conn = conn
        self.params = params
        self.driver = driver

    def _fail(self, exc, what):
        errno = error_number(exc)
        return mysql_error("%s as %s failed: %s" % (what, where(self.params), error_text(exc, self.params)), errno, "query")

    def query(self, sql, args=None, what="query"):
        """Run one parameterised statement; its rows as dicts (empty when it returns none)."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
                if cur.description is None:
                    return []
                names = [col[0] for col in cur.description]
                return [dict(zip(names, row)) for row in cur.fetchall()]
        except self.driver.MySQLError as exc:
            raise self._fail(exc, what)

    def execute(self, sql, args=None, what="statement"):
        """Run one parameterised statement; the number of rows it affected."""
        try:
            with self.conn.cursor() as cur:
                return cur.execute(sql, args)
        except self.driver.MySQLError as exc:
            raise self._fail(exc, what)

    def run_batch(self, statements, what="statements", tolerated=()):
        """Run statements in as few round trips as the server allows: [(index, MysqlError)] of those that failed with
        a server error number in tolerated (the rest then still run); any other error raises, the statements before
        it having run, as one statement at a time would.

        statements: texts built from constants and checked integers only (KILL CONNECTION 12), never from a value
        an operator gave, since they travel as one multi-statement text. Multi-statements are switched on for this
        call alone (COM_SET_OPTION) and off again, so every other statement of the session stays single. The server
        stops a multi-statement at its first error: that statement is recorded and the rest sent again. None when
        the driver or server cannot switch (the caller then runs them one by one)."""
        conn = self.conn
        try:
            _set_multi_statements(conn, True)
        except Exception:  # an older/other driver without these internals, or a server that refuses the option
            return None
        failed = []
        try:
            at = 0
            while at < len(statements):
                chunk = statements[at:at + BATCH]
                done = 0
                try:
                    with conn.cursor() as cur:
                        cur.execute(";".join(chunk))
                        done = 1
                        while cur.nextset():
                            done += 1
                except self.driver.MySQLError as exc:
                    if error_number(exc) not in tolerated or done >= len(chunk):
                        raise self._fail(exc, what)
                    failed.append((at + done, self._fail(exc, what)))
                    done += 1
                at += done
        finally:
            try:
                _set_multi_statements(conn, False)
            except Exception:  # a broken connection: the error that broke it is already on its way
                pass
        return failed

    def thread_id(self):
        """CONNECTION_ID() of this session."""
        return int(self.conn.thread_id())

    def close(self):
        try:
            self.conn.close()
        except Exception:  # closing a broken connection must not hide the real error
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _preferred_tls_context():
    """The TLS context of PyMySQL's preferred mode (no TLS option given: TLS when the server offers it, nothing
    verified), built without loading the system CA store, which a context that verifies nothing never reads."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # create_default_context's own protocol floor and ciphers
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # what PyMySQL sets in that mode (no CA given)
    return ctx


def open_connection(module, kwargs):
    """module.connect(**kwargs). Why not just that: PyMySQL 1.1+ with no TLS option builds a default context for its
    preferred mode, loading the CA store (20-50 ms of CPU and about 1 MiB a connection, a quarter of a 1,000-session
    kill). Given the same context without the store, and left preferred (not required), it behaves the same. Another
    driver, or a PyMySQL without that mode, connects as given."""
    if getattr(module, "__name__", "") != "pymysql" or "ssl" in kwargs:
        return module.connect(**kwargs)
    conn = module.connect(ssl=_preferred_tls_context(), defer_connect=True, **kwargs)
    if not hasattr(conn, "_ssl_required"):  # no preferred mode in this PyMySQL: never connected, start again
        return module.connect(**kwargs)
    conn._ssl_required = False
    conn.connect()
    return conn


def connect(params, driver=None):
    """A MysqlSession (autocommit) or MysqlError naming where, as whom, the server's answer and what to check.

    Raises DriverMissing when PyMySQL does not import; driver= a module with connect() and MySQLError (tests)."""
    module = driver or load_driver()
    deadline = time.monotonic() + TOO_MANY_RETRY_SECONDS
    while True:
        try:
            conn = open_connection(module, driver_params(params))
            break
        except Exception as exc:  # PyMySQL's errors, and OSError/ValueError from a bad socket path or certificate
            errno = error_number(exc)
            if errno == TOO_MANY_CONNECTIONS and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            text = error_text(exc, params)
            raise mysql_error("could not connect as %s: %s. Next: %s"
                              % (where(params), text, connect_hint(errno, text, params)), errno, "connect")
    return MysqlSession(conn, params, module)
