"""connector-mcp (seed 004): the ConnectorMCP backend's shallow and deep health, its OAuth state table and its
Redis-backed rate limit, on MySQL/MariaDB and Redis.

Environment (besides MCPOPS_SERVICE_LISTEN and MCPOPS_SERVICE_STATE_DIR):
- DATABASE_URL (required): mysql://user:password@host:port/connectorMCP (also mysql+pymysql://, mariadb://).
- REDIS_URL (required): redis://[:password@]host:port/db.
- CONNECTOR_LOG (optional): the app.log file (JSON lines); stdout when unset.
- ENVIRONMENT (optional, default "lab"): said by /health.
- RATE_LIMIT_BACKEND (optional, "redis" (default) or "memory"), RATE_LIMIT_PER_MINUTE (optional, default 120):
  requests a minute one client IP may make to /api/oauth/*; Redis keys `ratelimit:<ip>:<minute>`.

At start the table `oauth_states` is created when missing (when the database is down then, the service starts anyway
and tries again on the next request). Each request opens its own MySQL connection (2 s connect timeout).

Endpoints:
- GET /health -> 200 {"status": "healthy", "version": "1.0.0", "environment", "timestamp"}; 503 {"status":
  "unhealthy", ..., "reason"} while faults.json says unhealthy. It does not look at the datastores (the seed's
  shallow check).
- GET /api/health -> 200 or 503 {"status": "healthy"|"unhealthy", "version", "environment", "timestamp",
  "database": {"status": "healthy"|"unhealthy", "latency_ms", "error"?}, "redis": {...},
  "mcp_connectors": {"slack": {"circuit": "closed"}, "github": {...}, "jira": {...}},
  "rate_limit": {"backend", "requests_per_minute"}}; 503 when the database or Redis fails or faults.json says
  unhealthy ("reason"). A circuit is opened with faults.json {"circuits": {"slack": "open"}}: it shows under
  mcp_connectors and does not change the overall status (a datasource, not the backend, is failing).
- POST /api/oauth/start {"datasource": "slack"|"github"|"jira"} -> 201 {"state", "datasource", "expires_at"} (a row in
  oauth_states, 10 minutes); 429 {"detail": "rate_limit_exceeded"} over the rate limit.

Logs, JSON lines: {"timestamp", "level", "logger", "message", "method", "path", "status", "duration_ms", "client_ip"},
plus "error_type" on errors (e.g. OperationalError) and "rate_limit_exceeded" as the message of a 429.
"""

import os
import secrets as secrets_mod
import sys
import threading
import time
from dataclasses import dataclass

from .config import ConfigError, check_url, common, parse_int, url_password
from .datastores import MYSQL_SCHEMES, SchemaOnce, mysql_connect, mysql_select_one, parse_mysql_url, probe
from .http_app import App, HttpError, JsonLines, error_text, now_iso, run_service
from .resp import RespClient, parse_url

NAME = "connector-mcp"
APP_VERSION = "1.0.0"  # the seed's own version string
CONNECTORS = ("slack", "github", "jira")
CIRCUIT_STATES = ("closed", "open", "half_open")
STATE_TTL_MINUTES = 10

SCHEMA = """CREATE TABLE IF NOT EXISTS oauth_states (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    state VARCHAR(64) NOT NULL,
    datasource VARCHAR(32) NOT NULL,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at DATETIME NOT NULL,
    UNIQUE KEY uq_oauth_states_state (state),
    KEY ix_oauth_states_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""


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

    def __repr__(self):  # never a URL
        return "ConnectorConfig(listen=%s:%d, environment=%s)" % (self.host, self.port, self.environment)


def load_config(environ):
    base = common(environ)
    database_url = check_url(environ, "DATABASE_URL", MYSQL_SCHEMES, need_path=True)
    try:
        parse_mysql_url(database_url)
    except ValueError as exc:
        raise ConfigError("DATABASE_URL: %s" % exc)
    redis_url = check_url(environ, "REDIS_URL", ("redis",))
    try:
        parse_url(redis_url)
    except ValueError as exc:
        raise ConfigError("REDIS_URL: %s" % exc)
    backend = (environ.get("RATE_LIMIT_BACKEND") or "redis").strip().lower()
    if backend not in ("redis", "memory"):
        raise ConfigError("RATE_LIMIT_BACKEND must be redis or memory, got %r" % backend)
    log_path = (environ.get("CONNECTOR_LOG") or "").strip()
    if log_path:
        log_path = os.path.abspath(log_path)
        try:
            os.makedirs(os.path.dirname(log_path), exist_ok=True)
        except OSError as exc:
            raise ConfigError("cannot create the directory of CONNECTOR_LOG %s: %s" % (log_path, exc.strerror or exc))
        if os.path.isdir(log_path):
            raise ConfigError("CONNECTOR_LOG %s is a directory (give the app.log file)" % log_path)
    return ConnectorConfig(
        host=base.host, port=base.port, state_dir=base.state_dir, database_url=database_url, redis_url=redis_url,
        log_path=log_path, environment=(environ.get("ENVIRONMENT") or "lab").strip(),
        rate_limit_backend=backend, rate_limit_per_minute=parse_int(environ, "RATE_LIMIT_PER_MINUTE", 120, minimum=1))


def circuits(faults_extra):
    """{"slack": {"circuit": "closed"}, ...}, with the states faults.json's "circuits" sets (unknown ones ignored)."""
    wanted = faults_extra.get("circuits") if isinstance(faults_extra, dict) else None
    wanted = wanted if isinstance(wanted, dict) else {}
    return {name: {"circuit": wanted.get(name) if wanted.get(name) in CIRCUIT_STATES else "closed"}
            for name in CONNECTORS}


class Connector(App):
    name = NAME
    version = APP_VERSION

    def __init__(self, config):
        self.db_params = parse_mysql_url(config.database_url)
        redis_password = parse_url(config.redis_url)["password"]
        super().__init__(config.state_dir, secrets=[self.db_params["password"], url_password(config.database_url),
                                                    config.database_url, redis_password])
        self.config = config
        self.log = JsonLines(config.log_path or None, secrets=self.secrets)
        self.redis = RespClient.from_url(config.redis_url)
        self.schema = SchemaOnce(self.prepare_schema, self.schema_failed)
        self._memory_window = {}
        self._memory_lock = threading.Lock()
        self.add("/health", self.health, ("GET",))
        self.add("/api/health", self.deep_health, ("GET",))
        self.add("/api/oauth/start", self.oauth_start, ("POST",))

    # -- datastores ---------------------------------------------------------------------
    def connect(self):
        return mysql_connect(self.db_params)

    def startup(self):
        self.ensure_schema()

    def ensure_schema(self):
        return self.schema.ensure()

    def prepare_schema(self):
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(SCHEMA)
        finally:
            conn.close()

    def schema_failed(self, exc):
        self.log_event("ERROR", "database: cannot prepare oauth_states: %s" % error_text(exc, self.secrets),
                       error_type=exc.__class__.__name__)

    # -- rate limit ---------------------------------------------------------------------
    def rate_limited(self, req):
        """True when this client is over its limit this minute; a Redis failure lets the request through (logged)."""
        minute = int(time.time() // 60)
        key = "ratelimit:%s:%d" % (req.client_ip, minute)
        if self.config.rate_limit_backend == "memory":
            with self._memory_lock:
                count = self._memory_window.get(key, 0) + 1
                self._memory_window = {k: v for k, v in self._memory_window.items() if k.endswith(":%d" % minute)}
                self._memory_window[key] = count
        else:
            try:
                count = self.redis.incr(key)
                if count == 1:
                    self.redis.expire(key, 120)
            except Exception as exc:
                self.log_event("WARNING", "rate limit backend unavailable, request allowed: %s"
                               % error_text(exc, self.secrets), error_type=exc.__class__.__name__)
                return False
        return count > self.config.rate_limit_per_minute

    # -- endpoints ----------------------------------------------------------------------
    def _stamp(self):
        return {"version": self.version, "environment": self.config.environment,
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def health(self, req):
        body = {"status": "healthy"}
        body.update(self._stamp())
        if req.faults.unhealthy:
            body.update(status="unhealthy", reason=req.faults.reason)
            req.context["error_type"] = "FaultInjected"
            return 503, body
        return 200, body

    def deep_health(self, req):
        self.ensure_schema()
        database = probe(lambda: mysql_select_one(self.db_params), self.secrets)
        redis = probe(self.redis.ping, self.secrets)
        healthy = database["status"] == "healthy" and redis["status"] == "healthy" and not req.faults.unhealthy
        body = {"status": "healthy" if healthy else "unhealthy"}
        body.update(self._stamp())
        body.update(database=database, redis=redis, mcp_connectors=circuits(req.faults.extra),
                    rate_limit={"backend": self.config.rate_limit_backend,
                                "requests_per_minute": self.config.rate_limit_per_minute})
        if req.faults.unhealthy:
            body["reason"] = req.faults.reason
        if not healthy:
            failing = [name for name, check in (("database", database), ("redis", redis)) if check["status"] != "healthy"]
            req.context["error"] = "; ".join("%s: %s" % (n, body[n]["error"]) for n in failing) or req.faults.reason
            req.context["error_type"] = ("DatabaseUnavailable" if "database" in failing else
                                         "RedisUnavailable" if failing else "FaultInjected")
        return (200 if healthy else 503), body

    def oauth_start(self, req):
        if self.rate_limited(req):
            req.context["rate_limited"] = True
            raise HttpError(429, {"detail": "rate_limit_exceeded"}, {"Retry-After": 60})
        body = req.json()
        datasource = body.get("datasource")
        if datasource not in CONNECTORS:
            raise HttpError(400, {"detail": "datasource must be one of %s" % ", ".join(CONNECTORS)})
        if not self.ensure_schema():
            raise HttpError(503, {"detail": "database unavailable"})
        state = secrets_mod.token_urlsafe(24)
        try:
            conn = self.connect()
            try:
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO oauth_states (state, datasource, expires_at) VALUES "
                                "(%s, %s, NOW() + INTERVAL " + str(STATE_TTL_MINUTES) + " MINUTE)", (state, datasource))
                    cur.execute("SELECT DATE_FORMAT(expires_at, '%%Y-%%m-%%dT%%H:%%i:%%s') FROM oauth_states "
                                "WHERE state = %s", (state,))
                    expires_at = cur.fetchone()[0]
            finally:
                conn.close()
        except Exception as exc:
            req.context["error"] = "database: %s" % error_text(exc, self.secrets)
            req.context["error_type"] = exc.__class__.__name__
            raise HttpError(503, {"detail": "database unavailable"})
        return 201, {"state": state, "datasource": datasource, "expires_at": expires_at}

    # -- logs ---------------------------------------------------------------------------
    def log_request(self, req, resp, duration_ms):
        level = "ERROR" if resp.status >= 500 else ("WARNING" if resp.status >= 400 else "INFO")
        message = "rate_limit_exceeded" if req.context.get("rate_limited") else "%s %s %d" % (
            req.method, req.path, resp.status)
        record = {"timestamp": now_iso(), "level": level, "logger": "connectormcp", "message": message,
                  "method": req.method, "path": req.path, "status": resp.status, "duration_ms": duration_ms,
                  "client_ip": req.client_ip}
        if req.context.get("error"):
            record["error"] = req.context["error"]
        if resp.status >= 500:
            record["error_type"] = req.context.get("error_type", "HTTPError")
        self.log.write(record)

    def log_event(self, level, message, **fields):
        record = {"timestamp": now_iso(), "level": "WARNING" if level == "WARN" else level, "logger": "connectormcp",
                  "message": message}
        fields.pop("event", None)
        record.update(fields)
        self.log.write(record)

    def close(self):
        self.redis.close()


def build(config):
    return Connector(config)


def main(environ=None):
    return run_service(NAME, load_config, build, environ)


if __name__ == "__main__":
    sys.exit(main())
