"""The datastores the reference services use, reached as the seed services reach theirs: PostgreSQL with psycopg,
MySQL/MariaDB with PyMySQL, Redis with resp.RespClient. A connection is opened per request with a short connect
timeout, so a stopped datastore is noticed on the next request, never after a pool's idle timeout; `probe` times one
check and turns its failure into one short line (no secret in it)."""

import threading
import time
from urllib.parse import unquote, urlsplit

from .http_app import error_text

CONNECT_TIMEOUT = 2  # seconds; libpq's minimum
QUERY_TIMEOUT_MS = 5000
MYSQL_SCHEMES = ("mysql", "mysql+pymysql", "mariadb")
POSTGRES_SCHEMES = ("postgresql", "postgres")


def pg_connect(url, timeout=CONNECT_TIMEOUT):
    """An autocommit psycopg connection; every statement capped at QUERY_TIMEOUT_MS."""
    import psycopg

    return psycopg.connect(url, connect_timeout=timeout, autocommit=True,
                           options="-c statement_timeout=%d" % QUERY_TIMEOUT_MS)


def parse_mysql_url(url):
    """mysql://user:password@host:port/database -> PyMySQL keyword arguments (ValueError naming the part)."""
    parts = urlsplit(url)
    if parts.scheme not in MYSQL_SCHEMES:
        raise ValueError("not a mysql:// URL")
    try:
        port = parts.port or 3306
    except ValueError:
        raise ValueError("bad port in the mysql:// URL")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise ValueError("the mysql:// URL must name one database")
    return {"host": parts.hostname or "127.0.0.1", "port": port, "user": unquote(parts.username or ""),
            "password": unquote(parts.password or ""), "database": database}


def mysql_connect(params, timeout=CONNECT_TIMEOUT):
    import pymysql

    return pymysql.connect(connect_timeout=timeout, read_timeout=QUERY_TIMEOUT_MS / 1000.0,
                           write_timeout=QUERY_TIMEOUT_MS / 1000.0, autocommit=True, charset="utf8mb4", **params)


def probe(check, secrets=()):
    """Run check(); {"status": "healthy", "latency_ms"} or {"status": "unhealthy", "latency_ms", "error"}."""
    started = time.monotonic()
    try:
        check()
    except Exception as exc:
        return {"status": "unhealthy", "latency_ms": round((time.monotonic() - started) * 1000.0, 2),
                "error": "%s: %s" % (exc.__class__.__name__, error_text(exc, secrets))}
    return {"status": "healthy", "latency_ms": round((time.monotonic() - started) * 1000.0, 2)}


def pg_select_one(url):
    with pg_connect(url) as conn:
        conn.execute("SELECT 1").fetchone()


def mysql_select_one(params):
    conn = mysql_connect(params)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    finally:
        conn.close()


class SchemaOnce:
    """A service's tables, prepared the first time its database answers (a service starts while its database is
    down, and prepares them on a later request). prepare() creates them; on_error(exc) logs why it could not."""

    def __init__(self, prepare, on_error):
        self.ready = False
        self._prepare = prepare
        self._on_error = on_error
        self._lock = threading.Lock()

    def ensure(self):
        """True once the tables are there; False (logged) while the database cannot be asked."""
        if self.ready:
            return True
        with self._lock:
            if self.ready:
                return True
            try:
                self._prepare()
            except Exception as exc:
                self._on_error(exc)
                return False
            self.ready = True
            return True
