"""connector-mcp (seed 004): one ConnectorMCP backend instance behind the load balancer, on MySQL/MariaDB (PyMySQL,
through a connection pool) and Redis (redis-py): shallow and deep health, OAuth states, MCP tool calls behind a
circuit breaker per datasource, a Bearer-token API, a per-client rate limit, and the faults of the runbook
(docs/dev/connector-contract.md, "Reference backend").

Environment (besides MCPOPS_SERVICE_LISTEN and MCPOPS_SERVICE_STATE_DIR):
- DATABASE_URL (required): mysql://user:password@host:port/connectorMCP (also mysql+pymysql://, mariadb://).
- REDIS_URL (required): redis://[:password@]host:port/db.
- CONNECTOR_LOG (optional): the app.log file (JSON lines); stdout when unset.
- ENVIRONMENT (optional, default "lab"): said by /health.
- INSTANCE_NAME (optional, default: the hostname): said by /health, /api/health and every log line (`instance`).
- TRUSTED_PROXIES (optional, comma-separated IPs or networks, default none): when the TCP peer is one of them, the
  client ip is the first address of X-Forwarded-For, else X-Real-IP, else the peer; otherwise always the peer.
- DB_POOL_SIZE (default 5), DB_POOL_TIMEOUT (seconds, default 2): the PyMySQL connection pool; a checkout waits
  DB_POOL_TIMEOUT for a free connection, then fails (PoolExhausted).
- CIRCUIT_FAILURE_THRESHOLD (default 5), CIRCUIT_RESET_SECONDS (default 60): each datasource's circuit breaker.
- CLOCK_SKEW_SECONDS (default 0, may be negative): this instance's clock is the host's plus that much; its
  timestamps (/health, /api/health clock.now, log lines), the oauth expires_at it writes and the expiry it checks.
- MEMORY_WARN_MB (default 256): past that RSS, a WARNING "memory usage high: rss <n> MB" (event memory_high), again at
  most once a minute while it stays above.
- CONNECTOR_RELEASE_DIR (optional): its release.json {"version", "defect"} (read at start) gives the version; a
  non-null defect fails every /api/* request but /api/health with 500 (error_type ReleaseDefect), /api/health 503.
- RATE_LIMIT_BACKEND ("redis" (default) or "memory"), RATE_LIMIT_PER_MINUTE (default 120): requests one client ip
  may make to /api/* (but /api/health) in a fixed 60 s window; Redis key `ratelimit:<client_ip>` (INCR, and EXPIRE 60
  when new). A Redis failure lets the request through (a WARNING line).
- CONNECTOR_CONFIG (optional): a JSON file {"rate_limit_per_minute": n} read at start; its value wins over the env.
- API_TOKEN_FILE (optional, a 0600 file): the one Bearer token /api/me accepts; without it every call is 401.

MySQL: the table `oauth_states` is created at start when missing (when the database is down then, the service
starts anyway and tries again on the next request). Time zone: expires_at and created_at are DATETIMEs in the zone
of the database's NOW() (its global time_zone: a session of the backend keeps the default), computed from the
instance's own clock: the offset TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW()) is read in the same session, so the
operator's `expires_at < NOW()` and the backend agree, whatever zone the server runs in (UTC in the lab).

faults.json (read on every request): `unhealthy`, `reason`, `slow_ms` (faults.py); `circuits` {"slack": "open"}
forces the state a circuit shows (and open refuses its tool calls); `failing_datasources` ["slack"] makes that
datasource's tool calls fail (its breaker counts them); `pool_leak` true makes every /api/* request (/api/health
too) check out one pool connection and never give it back (only a restart frees them); `leak_mb_per_request` n
makes every request keep n MB more (allocated and touched: the RSS grows until a restart).

Endpoints:
- GET /health -> 200 {"status": "healthy", "version", "environment", "timestamp" (instance clock, seconds),
  "instance"}; 503 {"status": "unhealthy", ..., "reason"} while faults.json says unhealthy. It does not look at the
  datastores (the seed's shallow check).
- GET /api/health -> 200 or 503 {"status", "version", "environment", "timestamp", "instance",
  "database": {"status", "latency_ms", "error"?, "pool": {"size", "checked_out", "available", "waiting"}},
  "redis": {"status", "latency_ms", "error"?},
  "mcp_connectors": {"slack"|"github"|"jira": {"circuit": "closed"|"open"|"half_open", "failures", "opened_at"}},
  "rate_limit": {"backend", "requests_per_minute" (the effective value)}, "memory": {"rss_mb"},
  "clock": {"now": ISO of the instance's clock}, "reason"?}. 503 when the database (an exhausted pool: error
  "connection pool exhausted") or Redis fails, when faults.json says unhealthy, or when the release is defective.
  Circuits do not change the overall status (a datasource, not the backend, is failing).
- POST /api/oauth/start {"datasource": "slack"|"github"|"jira"} -> 201 {"state", "datasource", "expires_at"} (a row in
  oauth_states that expires 10 minutes later by the instance's clock).
- GET /api/oauth/callback?state=... -> 200 {"datasource"} and the row deleted when it exists and has not expired by
  the instance's clock; 400 {"detail": "Invalid state"} otherwise.
- POST /api/tools/call {"datasource", "tool"} -> 200 {"result"}; 502 {"detail": "Tool call failed"} when the datasource
  fails (faults.json failing_datasources); 503 {"detail": "circuit open"} while its circuit is open.
- GET /api/me with `Authorization: Bearer <token>` -> 200 {"user", "instance"}; 401 otherwise.
- Every /api/* but /api/health: 429 {"detail": "rate_limit_exceeded"} over the rate limit; 503 {"detail": "connection
  pool exhausted"} when pool_leak finds the pool exhausted; 500 {"detail": ...} on a defective release.
- Database failures answer 503: {"detail": "connection pool exhausted"} (PoolExhausted) or "database unavailable".

Logs, JSON lines: {"timestamp" (instance clock), "level", "logger": "connectormcp", "message", "instance", "method",
"path", "status", "duration_ms", "client_ip"}, plus "error_type" on 5xx (OperationalError, PoolExhausted,
DatabaseUnavailable, RedisUnavailable, ToolCallFailed, CircuitOpen, ReleaseDefect, FaultInjected), "error" when
there is one, and "event" where one applies: auth_failure / invalid_token / unauthorized (a 401), rate_limit_exceeded
(a 429, also its message), tool_call_failed ("MCP tool call failed: slack.search: upstream 502"), circuit_open (a
refused call, and the line "MCP circuit opened for slack after 5 failures"), memory_high; "Invalid state" is the
message of a refused callback. Tool-call messages start with "MCP". No password or token ever appears in a line or
an answer.
"""

import importlib.util
import os
import re
import secrets as secrets_mod
import socket
import sys
from dataclasses import dataclass, field

from .bearer_token import bearer_problem
from .circuit_breaker import CircuitBreaker, OPEN, STATES as CIRCUIT_STATES
from .client_ip import client_ip, parse_trusted_proxies
from .config import ConfigError, check_url, common, parse_int, read_secret_file, url_password
from .connector_pool import ConnectionPool, PoolExhausted
from .datastores import MYSQL_SCHEMES, SchemaOnce, mysql_connect, parse_mysql_url, probe
from .http_app import App, HttpError, JsonLines, error_text, now_iso, run_service
from .instance_clock import InstanceClock
from .memory_leak import Ballast, HighMemory, rss_mb
from .rate_window import WINDOW_SECONDS, MemoryWindow, RedisWindow
from .redis_client import RedisClient, RedisUnavailable, check_redis_url
from .release_info import Release, ReleaseError, read_release

NAME = "connector-mcp"
APP_VERSION = "1.0.0"  # the seed's own version string (without CONNECTOR_RELEASE_DIR)
CONNECTORS = ("slack", "github", "jira")
STATE_TTL_MINUTES = 10
MAX_LEAK_MB = 256
POOL_EXHAUSTED = "connection pool exhausted"
_TOOL = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

SCHEMA = """CREATE TABLE IF NOT EXISTS oauth_states (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    state VARCHAR(64) NOT NULL,
    datasource VARCHAR(32) NOT NULL,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at DATETIME NOT NULL,
    UNIQUE KEY uq_oauth_states_state (state),
    KEY ix_oauth_states_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
DB_OFFSET_SQL = "SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW())"


@dataclass(frozen=True)
class ConnectorConfig:
    host: str
    port: int
    state_dir: str
    database_url: str
    redis_url: str
    log_path: str
    environment: str
    rate_limit_backend: str
    rate_limit_per_minute: int
    instance: str = ""  # "" -> the hostname
    trusted_proxies: tuple = ()
    db_pool_size: int = 5
    db_pool_timeout: float = 2.0
    circuit_failure_threshold: int = 5
    circuit_reset_seconds: float = 60.0
    clock_skew_seconds: float = 0.0
    memory_warn_mb: int = 256
    release: Release = field(default_factory=lambda: Release(APP_VERSION))
    api_token: str = field(default="", repr=False)

    def __repr__(self):  # never a URL nor the token
        return "ConnectorConfig(listen=%s:%d, environment=%s, instance=%s)" % (
            self.host, self.port, self.environment, self.instance)


def parse_seconds(environ, name, default, minimum=None):
    """A number of seconds (integer or decimal); ConfigError naming the variable."""
    text = (environ.get(name) or "").strip()
    if not text:
        return float(default)
    try:
        value = float(text)
    except ValueError:
        raise ConfigError("%s must be a number of seconds, got %r" % (name, text))
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError("%s must be a finite number, got %r" % (name, text))
    if minimum is not None and value < minimum:
        raise ConfigError("%s must be at least %s, got %s" % (name, minimum, text))
    return value


def read_connector_config(path):
    """CONNECTOR_CONFIG's JSON object; ConfigError naming the file and the bad key."""
    import json

    try:
        with open(path, "r", encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise ConfigError("cannot read CONNECTOR_CONFIG %s: %s" % (path, exc.strerror or exc.__class__.__name__))
    except (ValueError, UnicodeDecodeError):
        raise ConfigError("CONNECTOR_CONFIG %s is not valid JSON" % path)
    if not isinstance(data, dict):
        raise ConfigError("CONNECTOR_CONFIG %s must hold a JSON object" % path)
    limit = data.get("rate_limit_per_minute")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError("CONNECTOR_CONFIG %s: rate_limit_per_minute must be an integer >= 1" % path)
    return data


def load_config(environ):
    base = common(environ)
    database_url = check_url(environ, "DATABASE_URL", MYSQL_SCHEMES, need_path=True)
    try:
        parse_mysql_url(database_url)
    except ValueError as exc:
        raise ConfigError("DATABASE_URL: %s" % exc)
    redis_url = check_url(environ, "REDIS_URL", ("redis",))
    try:
        check_redis_url(redis_url)
    except ValueError as exc:
        raise ConfigError("REDIS_URL: %s" % exc)
    backend = (environ.get("RATE_LIMIT_BACKEND") or "redis").strip().lower()
    if backend not in ("redis", "memory"):
        raise ConfigError("RATE_LIMIT_BACKEND must be redis or memory, got %r" % backend)
    if importlib.util.find_spec("redis") is None:  # redis-py: imported when the backend is built
        raise ConfigError("redis-py is not installed: pip install redis (Debian: apt-get install python3-redis)")
    log_path = (environ.get("CONNECTOR_LOG") or "").strip()
    if log_path:
        log_path = os.path.abspath(log_path)
        try:
            os.makedirs(os.path.dirname(log_path), exist_ok=True)
        except OSError as exc:
            raise ConfigError("cannot create the directory of CONNECTOR_LOG %s: %s" % (log_path, exc.strerror or exc))
        if os.path.isdir(log_path):
            raise ConfigError("CONNECTOR_LOG %s is a directory (give the app.log file)" % log_path)
    try:
        trusted = parse_trusted_proxies(environ.get("TRUSTED_PROXIES") or "")
    except ValueError as exc:
        raise ConfigError("TRUSTED_PROXIES: %s" % exc)
    rate_limit = parse_int(environ, "RATE_LIMIT_PER_MINUTE", 120, minimum=1)
    config_path = (environ.get("CONNECTOR_CONFIG") or "").strip()
    if config_path:
        rate_limit = read_connector_config(config_path).get("rate_limit_per_minute") or rate_limit
    release_dir = (environ.get("CONNECTOR_RELEASE_DIR") or "").strip()
    try:
        release = read_release(release_dir) if release_dir else Release(APP_VERSION)
    except ReleaseError as exc:
        raise ConfigError("CONNECTOR_RELEASE_DIR: %s" % exc)
    token = read_secret_file(environ, "API_TOKEN_FILE") if (environ.get("API_TOKEN_FILE") or "").strip() else ""
    instance = (environ.get("INSTANCE_NAME") or "").strip() or socket.gethostname()
    return ConnectorConfig(
        host=base.host, port=base.port, state_dir=base.state_dir, database_url=database_url, redis_url=redis_url,
        log_path=log_path, environment=(environ.get("ENVIRONMENT") or "lab").strip(),
        rate_limit_backend=backend, rate_limit_per_minute=rate_limit, instance=instance, trusted_proxies=trusted,
        db_pool_size=parse_int(environ, "DB_POOL_SIZE", 5, minimum=1),
        db_pool_timeout=parse_seconds(environ, "DB_POOL_TIMEOUT", 2, minimum=0.01),
        circuit_failure_threshold=parse_int(environ, "CIRCUIT_FAILURE_THRESHOLD", 5, minimum=1),
        circuit_reset_seconds=parse_seconds(environ, "CIRCUIT_RESET_SECONDS", 60, minimum=0.01),
        clock_skew_seconds=parse_seconds(environ, "CLOCK_SKEW_SECONDS", 0),
        memory_warn_mb=parse_int(environ, "MEMORY_WARN_MB", 256, minimum=1), release=release, api_token=token)


# -- faults.json, as this service reads it ---------------------------------------------------

def circuits(faults_extra):
    """{"slack": {"circuit": "closed"}, ...}, with the states faults.json's "circuits" forces (unknown ones ignored)."""
    wanted = faults_extra.get("circuits") if isinstance(faults_extra, dict) else None
    wanted = wanted if isinstance(wanted, dict) else {}
    return {name: {"circuit": wanted.get(name) if wanted.get(name) in CIRCUIT_STATES else "closed"}
            for name in CONNECTORS}


def forced_circuit(faults_extra, name):
    """The state faults.json forces on a circuit, or None."""
    wanted = faults_extra.get("circuits") if isinstance(faults_extra, dict) else None
    state = wanted.get(name) if isinstance(wanted, dict) else None
    return state if state in CIRCUIT_STATES else None


def failing_datasources(faults_extra):
    names = faults_extra.get("failing_datasources") if isinstance(faults_extra, dict) else None
    return {n for n in names if n in CONNECTORS} if isinstance(names, list) else set()


def leak_mb(faults_extra):
    """faults.json's leak_mb_per_request when it is a number in (0, MAX_LEAK_MB], else 0."""
    value = faults_extra.get("leak_mb_per_request") if isinstance(faults_extra, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_LEAK_MB:
        return 0
    return value


def pool_leak(faults_extra):
    return isinstance(faults_extra, dict) and faults_extra.get("pool_leak") is True


class Connector(App):
    name = NAME
    version = APP_VERSION

    def __init__(self, config):
        self.db_params = parse_mysql_url(config.database_url)
        redis_password = url_password(config.redis_url)
        super().__init__(config.state_dir, secrets=[self.db_params["password"], url_password(config.database_url),
                                                    config.database_url, redis_password,
                                                    config.redis_url if redis_password else None, config.api_token])
        self.config = config
        self.version = config.release.version
        self.instance = config.instance or socket.gethostname()
        self.clock = InstanceClock(config.clock_skew_seconds)
        self.log = JsonLines(config.log_path or None, secrets=self.secrets)
        self.redis = RedisClient(config.redis_url)
        self.window = (MemoryWindow() if config.rate_limit_backend == "memory" else RedisWindow(self.redis))
        self.pool = ConnectionPool(self.connect, size=config.db_pool_size, timeout=config.db_pool_timeout)
        self.breakers = {name: CircuitBreaker(name, config.circuit_failure_threshold, config.circuit_reset_seconds,
                                              clock=self.clock.now) for name in CONNECTORS}
        self.ballast = Ballast()
        self.high_memory = HighMemory(config.memory_warn_mb)
        self.schema = SchemaOnce(self.prepare_schema, self.schema_failed)
        self.add("/health", self.health, ("GET",))
        self.add("/api/health", self.deep_health, ("GET",))
        self.add("/api/oauth/start", self.oauth_start, ("POST",))
        self.add("/api/oauth/callback", self.oauth_callback, ("GET",))
        self.add("/api/tools/call", self.tools_call, ("POST",))
        self.add("/api/me", self.me, ("GET",))

    # -- datastores ---------------------------------------------------------------------
    def connect(self):
        return mysql_connect(self.db_params)

    def startup(self):
        self.ensure_schema()

    def ensure_schema(self):
        return self.schema.ensure()

    def prepare_schema(self):
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(SCHEMA)

    def schema_failed(self, exc):
        self.log_event("ERROR", "database: cannot prepare oauth_states: %s" % error_text(exc, self.secrets),
                       error_type=exc.__class__.__name__)

    def database_failed(self, req, exc):
        """The 503 for a database failure in a handler (its line says why)."""
        if isinstance(exc, PoolExhausted):
            req.context.update(error=POOL_EXHAUSTED, error_type="PoolExhausted")
            return HttpError(503, {"detail": POOL_EXHAUSTED})
        req.context["error"] = "database: %s" % error_text(exc, self.secrets)
        req.context["error_type"] = exc.__class__.__name__
        return HttpError(503, {"detail": "database unavailable"})

    # -- every request ------------------------------------------------------------------
    def dispatch(self, req):
        req.client_ip = client_ip(req.client_ip, req.header, self.config.trusted_proxies)
        return super().dispatch(req)

    def before(self, req):
        extra = req.faults.extra
        grow = leak_mb(extra)
        if grow:
            self.ballast.grow(grow)
        self.check_memory()
        if not req.path.startswith("/api/"):
            return None
        if req.path == "/api/health":
            if pool_leak(extra):
                self.leak_connection(req)
            return None
        release = self.config.release
        if release.defective:
            req.context.update(error="release %s: %s" % (release.version, release.defect), error_type="ReleaseDefect")
            raise HttpError(500, {"detail": "internal error", "error_type": "ReleaseDefect"})
        if self.rate_limited(req):
            req.context.update(rate_limited=True, event="rate_limit_exceeded")
            raise HttpError(429, {"detail": "rate_limit_exceeded"}, {"Retry-After": WINDOW_SECONDS})
        if pool_leak(extra) and not self.leak_connection(req):
            req.context.update(error=POOL_EXHAUSTED, error_type="PoolExhausted")
            raise HttpError(503, {"detail": POOL_EXHAUSTED})
        return None

    def leak_connection(self, req):
        """pool_leak: check a connection out for good. False (and req.context["pool_exhausted"]) when none came
        within DB_POOL_TIMEOUT; a database that cannot be reached leaks nothing (the handler says why)."""
        try:
            self.pool.leak()
        except PoolExhausted:
            req.context["pool_exhausted"] = True
            return False
        except Exception:
            pass
        return True

    def check_memory(self):
        rss = rss_mb()
        if self.high_memory.check(rss):
            self.log_event("WARNING", "memory usage high: rss %d MB" % rss, event="memory_high", rss_mb=rss,
                           threshold_mb=self.config.memory_warn_mb)
        return rss

    def rate_limited(self, req):
        """True when this client is over its limit in its window; a Redis failure lets the request through (logged)."""
        try:
            count = self.window.hit(req.client_ip)
        except RedisUnavailable as exc:
            self.log_event("WARNING", "rate limit backend unavailable, request allowed: %s"
                           % error_text(exc, self.secrets), error_type="RedisUnavailable")
            return False
        return count > self.config.rate_limit_per_minute

    # -- health -------------------------------------------------------------------------
    def _stamp(self):
        return {"version": self.version, "environment": self.config.environment, "timestamp": self.clock.iso(),
                "instance": self.instance}

    def health(self, req):
        body = {"status": "healthy"}
        body.update(self._stamp())
        if req.faults.unhealthy:
            body.update(status="unhealthy", reason=req.faults.reason)
            req.context["error_type"] = "FaultInjected"
            return 503, body
        return 200, body

    def select_one(self):
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()

    def database_check(self, req):
        if req.context.get("pool_exhausted"):  # pool_leak just waited DB_POOL_TIMEOUT for one
            database = {"status": "unhealthy", "latency_ms": round(self.config.db_pool_timeout * 1000.0, 2),
                        "error": POOL_EXHAUSTED}
        else:
            self.ensure_schema()
            database = probe(self.select_one, self.secrets)
            if database["status"] != "healthy" and database["error"].startswith("PoolExhausted"):
                database["error"] = POOL_EXHAUSTED
        database["pool"] = self.pool.stats()
        return database

    def connectors(self, faults_extra):
        shown = {}
        for name, breaker in self.breakers.items():
            shown[name] = breaker.snapshot()
            forced = forced_circuit(faults_extra, name)
            if forced:
                shown[name]["circuit"] = forced
        return shown

    def deep_health(self, req):
        database = self.database_check(req)
        redis = probe(self.redis.ping, self.secrets)
        release = self.config.release
        healthy = (database["status"] == "healthy" and redis["status"] == "healthy" and not req.faults.unhealthy
                   and not release.defective)
        body = {"status": "healthy" if healthy else "unhealthy"}
        body.update(self._stamp())
        body.update(database=database, redis=redis, mcp_connectors=self.connectors(req.faults.extra),
                    rate_limit={"backend": self.config.rate_limit_backend,
                                "requests_per_minute": self.config.rate_limit_per_minute},
                    memory={"rss_mb": self.check_memory()}, clock={"now": self.clock.iso_ms()})
        if req.faults.unhealthy:
            body["reason"] = req.faults.reason
        elif release.defective:
            body["reason"] = "release %s is defective: %s" % (release.version, release.defect)
        if not healthy:
            failing = [name for name, check in (("database", database), ("redis", redis)) if check["status"] != "healthy"]
            req.context["error"] = "; ".join("%s: %s" % (n, body[n]["error"]) for n in failing) or body.get("reason")
            if "database" in failing:
                req.context["error_type"] = ("PoolExhausted" if database["error"] == POOL_EXHAUSTED
                                             else "DatabaseUnavailable")
            else:
                req.context["error_type"] = ("RedisUnavailable" if failing else
                                             "FaultInjected" if req.faults.unhealthy else "ReleaseDefect")
        return (200 if healthy else 503), body

    # -- OAuth --------------------------------------------------------------------------
    def oauth_start(self, req):
        body = req.json()
        datasource = body.get("datasource")
        if datasource not in CONNECTORS:
            raise HttpError(400, {"detail": "datasource must be one of %s" % ", ".join(CONNECTORS)})
        if not self.ensure_schema():
            raise HttpError(503, {"detail": "database unavailable"})
        state = secrets_mod.token_urlsafe(24)
        try:
            with self.pool.connection() as conn, conn.cursor() as cur:
                cur.execute(DB_OFFSET_SQL)
                offset = int(cur.fetchone()[0])
                created = self.clock.local_naive(offset)
                expires = self.clock.local_naive(offset, STATE_TTL_MINUTES * 60)
                cur.execute("INSERT INTO oauth_states (state, datasource, created_at, expires_at) "
                            "VALUES (%s, %s, %s, %s)", (state, datasource, created, expires))
        except Exception as exc:
            raise self.database_failed(req, exc)
        return 201, {"state": state, "datasource": datasource, "expires_at": expires.isoformat()}

    def invalid_state(self, req, why):
        req.context.update(message="Invalid state", error=why)
        return HttpError(400, {"detail": "Invalid state"})

    def oauth_callback(self, req):
        state = (req.query.get("state") or [""])[0]
        if not state or len(state) > 64:
            raise self.invalid_state(req, "no state" if not state else "state too long")
        if not self.ensure_schema():
            raise HttpError(503, {"detail": "database unavailable"})
        problem = None
        try:
            with self.pool.connection() as conn, conn.cursor() as cur:
                cur.execute("SELECT datasource, expires_at, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW()) "
                            "FROM oauth_states WHERE state = %s", (state,))
                row = cur.fetchone()
                if row is None:
                    problem = "unknown state"
                else:
                    datasource, expires_at, offset = row
                    now = self.clock.local_naive(int(offset))
                    if expires_at <= now:
                        problem = "state expired at %s (instance clock %s)" % (expires_at.isoformat(), now.isoformat())
                    else:
                        cur.execute("DELETE FROM oauth_states WHERE state = %s", (state,))
                        problem = None if cur.rowcount == 1 else "state already used"
        except Exception as exc:
            raise self.database_failed(req, exc)
        if problem:
            raise self.invalid_state(req, problem)
        return 200, {"datasource": datasource}

    # -- MCP tool calls -----------------------------------------------------------------
    def tools_call(self, req):
        body = req.json()
        datasource, tool = body.get("datasource"), body.get("tool")
        if datasource not in CONNECTORS:
            raise HttpError(400, {"detail": "datasource must be one of %s" % ", ".join(CONNECTORS)})
        if not isinstance(tool, str) or not _TOOL.match(tool):
            raise HttpError(400, {"detail": "tool must be 1-64 letters, digits, _ . or -"})
        call = "%s.%s" % (datasource, tool)
        breaker = self.breakers[datasource]
        forced = forced_circuit(req.faults.extra, datasource)
        if forced == OPEN or (forced is None and not breaker.allow()):
            req.context.update(message="MCP circuit open for %s: tool call %s refused" % (datasource, call),
                               event="circuit_open", error_type="CircuitOpen", datasource=datasource)
            raise HttpError(503, {"detail": "circuit open"})
        if datasource in failing_datasources(req.faults.extra):
            opened = breaker.record_failure()
            req.context.update(message="MCP tool call failed: %s: upstream 502" % call, event="tool_call_failed",
                               error_type="ToolCallFailed", datasource=datasource)
            if opened:
                self.log_event("ERROR", "MCP circuit opened for %s after %d failures" % (datasource, breaker.threshold),
                               event="circuit_open", datasource=datasource)
            raise HttpError(502, {"detail": "Tool call failed"})
        breaker.record_success()
        req.context.update(message="MCP tool call %s: ok" % call, datasource=datasource)
        return 200, {"result": {"datasource": datasource, "tool": tool, "instance": self.instance, "items": []}}

    # -- the token API ------------------------------------------------------------------
    def me(self, req):
        problem = bearer_problem(req.header("Authorization"), self.config.api_token)
        if problem:
            req.context["event"] = problem
            detail = "Not authenticated" if problem == "auth_failure" else (
                "Invalid token" if problem == "invalid_token" else "Unauthorized")
            raise HttpError(401, {"detail": detail}, {"WWW-Authenticate": "Bearer"})
        return 200, {"user": "lab-operator", "instance": self.instance}

    # -- logs ---------------------------------------------------------------------------
    def timestamp(self):
        """The log lines' timestamp: the instance's clock (now_iso() itself when there is no skew)."""
        return now_iso(self.clock.now()) if self.clock.skew else now_iso()

    def log_request(self, req, resp, duration_ms):
        level = "ERROR" if resp.status >= 500 else ("WARNING" if resp.status >= 400 else "INFO")
        if req.context.get("rate_limited"):
            message = "rate_limit_exceeded"
        else:
            message = req.context.get("message") or "%s %s %d" % (req.method, req.path, resp.status)
        record = {"timestamp": self.timestamp(), "level": level, "logger": "connectormcp", "message": message,
                  "instance": getattr(self, "instance", ""), "method": req.method, "path": req.path,
                  "status": resp.status, "duration_ms": duration_ms, "client_ip": req.client_ip}
        for key in ("event", "datasource", "error"):
            if req.context.get(key):
                record[key] = req.context[key]
        if req.context.get("rate_limited"):
            record["event"] = "rate_limit_exceeded"
        if resp.status >= 500:
            record["error_type"] = req.context.get("error_type", "HTTPError")
        self.log.write(record)

    def log_event(self, level, message, **fields):
        record = {"timestamp": self.timestamp(), "level": "WARNING" if level == "WARN" else level,
                  "logger": "connectormcp", "message": message, "instance": getattr(self, "instance", "")}
        record.update(fields)
        self.log.write(record)

    def close(self):
        self.pool.close()
        self.redis.close()


def build(config):
    return Connector(config)


def main(environ=None):
    return run_service(NAME, load_config, build, environ)


if __name__ == "__main__":
    sys.exit(main())
