"""loyalty-api (seed 003): the Loyalty API's probes, its token-protected metrics, maintenance and read-only modes, and a
small business API, on PostgreSQL and Redis.

Environment (besides MCPOPS_SERVICE_LISTEN and MCPOPS_SERVICE_STATE_DIR):
- DATABASE_URL (required): postgresql://user:password@host:port/database.
- REDIS_URL (required): redis://[:password@]host:port/db.
- METRICS_TOKEN_FILE (required): the file holding the token GET /metrics wants in header X-Metrics-Token.
- MAINTENANCE_MODE (optional, "1" on): every request but /health, /live, /ready and /metrics answers 503
  {"error": "maintenance"}.
- READ_ONLY_MODE (optional, "1" on): only GET, HEAD and OPTIONS pass; a write answers 503 {"error": "read_only"}.
- ALERT_HTTP_SLOW_THRESHOLD_MS (optional, default 1000): a request at least this slow counts in
  http_slow_requests_total.
- MIGRATE_ON_START (optional, default 1): apply the pending migrations (loyalty_migrations.py) at start, as an image
  whose entry runs `prisma migrate deploy` first; 0 leaves the schema to `loyalty_migrations deploy` (the compose lab).
- APP_VERSION (optional): the release this process says it is (/health's version; the compose lab's image sets it).
The modes are read from the environment at start, as the seed's `docker compose up -d` after editing .env does.

The schema is the migrations' (loyalty_migrations.py, kept in Prisma's `_prisma_migrations` table). With
MIGRATE_ON_START=1 they are applied at start (when the database is down then, the service starts anyway and tries
again on the next request). Each request opens its own PostgreSQL connection (2 s connect timeout); Redis is one
kept connection that is found again after a Redis restart. The worker (loyalty_worker.py) delivers the outbox.

Faults the lab injects through faults.json besides `unhealthy` and `slow_ms`: `error_storm` (true: every business
request answers 500, a 5xx storm) and `slow_query_ms` (each business request first runs `SELECT pg_sleep(...)` in
PostgreSQL: a real slow statement, seen in pg_stat_activity and the slow query log).

Endpoints:
- GET /live -> 200 {"status": "ok"} while the process serves (faults do not change it).
- GET /health -> 200 {"status": "ok", "maintenance", "readOnly", "version"}; 503 {"status": "error", ..., "reason"}
  while faults.json says unhealthy.
- GET /ready -> 200 {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}; 503 {"status": "error",
  "checks": {...}} where a failing check holds its error, e.g. "redis": "error: RedisUnavailable: ..." (and "fault"
  while faults.json says unhealthy).
- GET /metrics (X-Metrics-Token, or the same token as `Authorization: Bearer <token>`, which is how Prometheus 2.42
  sends a scrape's credentials: it cannot send a custom header; else 401 {"error": "unauthorized"}) -> Prometheus
  text: http_requests_total,
  http_slow_requests_total, http_request_duration_seconds, loyalty_outbox_pending, loyalty_outbox_dead_total,
  external_requests_total{provider, result, status} (the worker's calls to the merchant webhook and Telegram),
  process_cpu_usage, process_memory_bytes.
- POST /api/v1/loyalty/earn {"customerId", "points"} -> 200 {"customerId", "points", "balance"}: a transaction row,
  the account's balance and an outbox event (pending) in PostgreSQL; Redis counts earn calls and caches the balance.
- POST /api/v1/loyalty/redeem {"customerId", "points"} -> 200, or 409 {"error": "insufficient_balance"}.
- GET /api/v1/loyalty/balance/<customerId> -> 200 {"customerId", "balance", "source": "cache"|"database"}; 404.
Redis is optional for the business API, as the seed says: without it earn and balance still work (from PostgreSQL),
the log says the cache is degraded, and /ready fails.

Logs: JSON lines on stdout as pino writes them (the compose service's logs): {"level": "info"|"warn"|"error", "time"
(epoch ms), "msg", "req": {"method", "url"}, "res": {"statusCode"}, "responseTime"}.
"""

import hmac
import json
import os
import re
import socket
import sys
import time
from dataclasses import dataclass

from . import VERSION
from .config import ConfigError, check_url, common, parse_flag, parse_int, read_secret_file, url_password
from .datastores import POSTGRES_SCHEMES, SchemaOnce, pg_connect, pg_select_one, probe
from .http_app import PROMETHEUS_TYPE, App, HttpError, Response, error_text, run_service
from .loyalty_migrations import MIGRATIONS, deploy
from .resp import RespClient, parse_url

NAME = "loyalty-api"
METRICS_TOKEN_HEADER = "X-Metrics-Token"
EXEMPT = frozenset(("/health", "/live", "/ready", "/metrics"))
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


def metrics_credential(req):
    """The token GET /metrics was given: X-Metrics-Token when sent (then only that one counts), else the token of
    `Authorization: Bearer <token>`; "" when neither. The caller compares it with the metrics token either way."""
    token = req.header(METRICS_TOKEN_HEADER)
    if token:
        return token
    scheme, _, bearer = (req.header("Authorization") or "").strip().partition(" ")
    return bearer.strip() if scheme.lower() == "bearer" else ""
CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_POINTS = 1_000_000
CACHE_SECONDS = 300


@dataclass(frozen=True)
class LoyaltyConfig:
    host: str
    port: int
    state_dir: str
    database_url: str
    redis_url: str
    metrics_token: str
    maintenance: bool
    read_only: bool
    slow_threshold_ms: int
    migrate_on_start: bool = True
    version: str = VERSION

    def __repr__(self):  # never a URL or the token
        return "LoyaltyConfig(listen=%s:%d, maintenance=%s, read_only=%s)" % (
            self.host, self.port, self.maintenance, self.read_only)


def load_config(environ):
    base = common(environ)
    database_url = check_url(environ, "DATABASE_URL", POSTGRES_SCHEMES, need_path=True)
    redis_url = check_url(environ, "REDIS_URL", ("redis",))
    try:
        parse_url(redis_url)
    except ValueError as exc:
        raise ConfigError("REDIS_URL: %s" % exc)
    return LoyaltyConfig(
        host=base.host, port=base.port, state_dir=base.state_dir, database_url=database_url, redis_url=redis_url,
        metrics_token=read_secret_file(environ, "METRICS_TOKEN_FILE"),
        maintenance=parse_flag(environ, "MAINTENANCE_MODE"), read_only=parse_flag(environ, "READ_ONLY_MODE"),
        slow_threshold_ms=parse_int(environ, "ALERT_HTTP_SLOW_THRESHOLD_MS", 1000, minimum=1),
        migrate_on_start=parse_flag(environ, "MIGRATE_ON_START", default=True),
        version=(environ.get("APP_VERSION") or "").strip()[:64] or VERSION)


def mode_refusal(method, path, maintenance, read_only):
    """The 503 body a request gets from the modes, or None when it passes."""
    if path in EXEMPT:
        return None
    if maintenance:
        return {"error": "maintenance", "message": "the service is in maintenance mode"}
    if read_only and method not in SAFE_METHODS:
        return {"error": "read_only", "message": "the service is in read-only mode"}
    return None


def points_request(body):
    """(customer_id, points) from an earn/redeem body, or HttpError 400."""
    customer = body.get("customerId")
    points = body.get("points")
    if not isinstance(customer, str) or not CUSTOMER_ID.match(customer):
        raise HttpError(400, {"error": "invalid_customer_id", "message": "customerId: 1-64 of A-Z a-z 0-9 _ . -"})
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= MAX_POINTS:
        raise HttpError(400, {"error": "invalid_points", "message": "points: an integer 1..%d" % MAX_POINTS})
    return customer, points


class Loyalty(App):
    name = NAME

    def __init__(self, config):
        redis_password = parse_url(config.redis_url)["password"]
        super().__init__(config.state_dir,
                         secrets=[config.metrics_token, url_password(config.database_url), config.database_url,
                                  redis_password],
                         slow_threshold_ms=config.slow_threshold_ms)
        self.config = config
        self.version = config.version
        self.redis = RespClient.from_url(config.redis_url)
        self.schema = SchemaOnce(self.prepare_schema, self.schema_failed)
        self.hostname = socket.gethostname()
        self.add("/live", self.live, ("GET",))
        self.add("/health", self.health, ("GET",))
        self.add("/ready", self.ready, ("GET",))
        self.add("/metrics", self.metrics_endpoint, ("GET",))
        self.add("/api/v1/loyalty/earn", self.earn, ("POST",))
        self.add("/api/v1/loyalty/redeem", self.redeem, ("POST",))
        self.add("/api/v1/loyalty/balance/<customer_id>", self.balance, ("GET",))

    # -- datastores ---------------------------------------------------------------------
    def connect(self):
        return pg_connect(self.config.database_url)

    def startup(self):
        self.ensure_schema()

    def ensure_schema(self):
        return self.schema.ensure()

    def prepare_schema(self):
        with self.connect() as conn:
            if not self.config.migrate_on_start:
                conn.execute("SELECT 1")  # the schema is `loyalty_migrations deploy`'s business
                return
            applied = deploy(conn, MIGRATIONS)
        if applied:
            self.log_event("info", "migrations applied at start: %s" % ", ".join(applied))

    def schema_failed(self, exc):
        self.log_event("error", "database: cannot prepare the schema: %s" % error_text(exc, self.secrets))

    def cache(self, action, *args):
        """A Redis call for the business API: its result, or None (logged) when Redis is unavailable."""
        try:
            return getattr(self.redis, action)(*args)
        except Exception as exc:
            self.log_event("warn", "redis unavailable, cache degraded: %s: %s"
                           % (exc.__class__.__name__, error_text(exc, self.secrets)))
            return None

    # -- modes --------------------------------------------------------------------------
    def before(self, req):
        refusal = mode_refusal(req.method, req.path, self.config.maintenance, self.config.read_only)
        if refusal:
            return Response(503, refusal, {"Retry-After": 60})
        return None

    def error_storm(self, req):
        """The 5xx-storm fault: a business request fails as a bug would (after routing: its route is counted)."""
        if req.faults.extra.get("error_storm") is True:
            req.context["error"] = "fault: error storm"
            raise HttpError(500, {"error": "internal", "message": "internal error"})

    def slow_query(self, req, conn):
        """The slow-queries fault: a real slow statement before the request's own."""
        slow_ms = req.faults.extra.get("slow_query_ms")
        if isinstance(slow_ms, int) and not isinstance(slow_ms, bool) and 0 < slow_ms <= 60_000:
            conn.execute("SELECT pg_sleep(%s) /* loyalty: slow query fault */", (slow_ms / 1000.0,))

    # -- probes -------------------------------------------------------------------------
    def live(self, req):
        return 200, {"status": "ok"}

    def health(self, req):
        body = {"status": "ok", "maintenance": self.config.maintenance, "readOnly": self.config.read_only,
                "version": self.version}
        if req.faults.unhealthy:
            body.update(status="error", reason=req.faults.reason)
            return 503, body
        return 200, body

    def readiness(self):
        checks = {}
        database = probe(lambda: pg_select_one(self.config.database_url), self.secrets)
        checks["database"] = "ok" if database["status"] == "healthy" else "error: %s" % database["error"]
        redis = probe(self.redis.ping, self.secrets)
        checks["redis"] = "ok" if redis["status"] == "healthy" else "error: %s" % redis["error"]
        return checks

    def ready(self, req):
        checks = self.readiness()
        if req.faults.unhealthy:
            checks["fault"] = "error: %s" % req.faults.reason
        ok = all(v == "ok" for v in checks.values())
        if not ok:
            req.context["error"] = "; ".join("%s %s" % (k, v) for k, v in checks.items() if v != "ok")
        return (200 if ok else 503), {"status": "ok" if ok else "error", "checks": checks}

    def metrics_endpoint(self, req):
        token = metrics_credential(req)
        if not token or not hmac.compare_digest(token.strip().encode("utf-8"), self.config.metrics_token.encode("utf-8")):
            return 401, {"error": "unauthorized"}
        return Response.text(200, self.metrics_text(), PROMETHEUS_TYPE)

    def extra_metric_families(self):
        pending = dead = None
        external = []
        try:
            if self.ensure_schema():
                with self.connect() as conn:
                    pending, dead = conn.execute(
                        "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dead') "
                        "FROM outbox").fetchone()
                    if conn.execute("SELECT to_regclass('public.external_requests') IS NOT NULL").fetchone()[0]:
                        external = conn.execute("SELECT provider, result, status, count FROM external_requests "
                                                "ORDER BY provider, result, status").fetchall()
        except Exception as exc:
            self.log_event("warn", "metrics: outbox unreadable: %s" % error_text(exc, self.secrets))
        # no sample (rather than a made-up 0) when the database cannot say: absent() alerts see it
        return [
            ("loyalty_outbox_pending", "gauge", "Outbox events waiting for delivery.",
             [] if pending is None else [("", {}, pending)]),
            ("loyalty_outbox_dead_total", "counter", "Outbox events given up on (dead).",
             [] if dead is None else [("", {}, dead)]),
            ("external_requests_total", "counter", "Calls to external providers (merchant webhooks, Telegram) by the "
             "worker, by provider, result and status.",
             [("", {"provider": p, "result": r, "status": st}, n) for p, r, st, n in external]),
        ]

    # -- business API -------------------------------------------------------------------
    def _change(self, req, kind):
        self.error_storm(req)
        customer, points = points_request(req.json())
        if not self.ensure_schema():
            raise HttpError(503, {"error": "database_unavailable"})
        delta = points if kind == "earn" else -points
        try:
            with self.connect() as conn:
                self.slow_query(req, conn)
                with conn.transaction():
                    row = conn.execute("SELECT balance FROM loyalty_accounts WHERE customer_id = %s FOR UPDATE",
                                       (customer,)).fetchone()
                    current = row[0] if row else 0
                    if current + delta < 0:
                        return 409, {"error": "insufficient_balance", "customerId": customer, "balance": current}
                    balance = conn.execute(
                        "INSERT INTO loyalty_accounts (customer_id, balance) VALUES (%s, %s) "
                        "ON CONFLICT (customer_id) DO UPDATE SET balance = loyalty_accounts.balance + EXCLUDED.balance, "
                        "updated_at = now() RETURNING balance", (customer, delta)).fetchone()[0]
                    conn.execute("INSERT INTO loyalty_transactions (customer_id, kind, points) VALUES (%s, %s, %s)",
                                 (customer, kind, points))
                    conn.execute("INSERT INTO outbox (event_type, payload) VALUES (%s, %s)",
                                 ("loyalty.%s" % kind, json.dumps({"customerId": customer, "points": points,
                                                                   "balance": balance})))
        except HttpError:
            raise
        except Exception as exc:
            req.context["error"] = "database: %s" % error_text(exc, self.secrets)
            raise HttpError(503, {"error": "database_unavailable", "message": error_text(exc, self.secrets)})
        self.cache("incr", "loyalty:%s:total" % kind)
        self.cache("set", "loyalty:balance:%s" % customer, balance, CACHE_SECONDS)
        return 200, {"customerId": customer, "points": points, "balance": balance}

    def earn(self, req):
        return self._change(req, "earn")

    def redeem(self, req):
        return self._change(req, "redeem")

    def balance(self, req):
        self.error_storm(req)
        customer = req.params["customer_id"]
        if not CUSTOMER_ID.match(customer):
            raise HttpError(400, {"error": "invalid_customer_id"})
        cached = self.cache("get", "loyalty:balance:%s" % customer)
        if cached is not None:
            return 200, {"customerId": customer, "balance": int(cached), "source": "cache"}
        if not self.ensure_schema():
            raise HttpError(503, {"error": "database_unavailable"})
        try:
            with self.connect() as conn:
                self.slow_query(req, conn)
                row = conn.execute("SELECT balance FROM loyalty_accounts WHERE customer_id = %s", (customer,)).fetchone()
        except Exception as exc:
            req.context["error"] = "database: %s" % error_text(exc, self.secrets)
            raise HttpError(503, {"error": "database_unavailable", "message": error_text(exc, self.secrets)})
        if row is None:
            raise HttpError(404, {"error": "customer_not_found", "customerId": customer})
        self.cache("set", "loyalty:balance:%s" % customer, row[0], CACHE_SECONDS)
        return 200, {"customerId": customer, "balance": row[0], "source": "database"}

    # -- logs (pino's shape) ------------------------------------------------------------
    def _pino(self, level, msg, **fields):
        record = {"level": level, "time": int(time.time() * 1000), "pid": os.getpid(), "hostname": self.hostname,
                  "msg": msg}
        record.update(fields)
        self.log.write(record)

    def log_request(self, req, resp, duration_ms):
        level = "error" if resp.status >= 500 else ("warn" if resp.status >= 400 else "info")
        fields = {"req": {"method": req.method, "url": req.path, "remoteAddress": req.client_ip},
                  "res": {"statusCode": resp.status}, "responseTime": duration_ms}
        if req.context.get("error"):
            fields["err"] = {"message": req.context["error"]}
        self._pino(level, "request completed" if resp.status < 500 else "request errored", **fields)

    def log_event(self, level, message, **fields):
        fields.pop("event", None)
        self._pino(level.lower(), message, **fields)

    def close(self):
        self.redis.close()


def build(config):
    return Loyalty(config)


def main(environ=None):
    return run_service(NAME, load_config, build, environ)


if __name__ == "__main__":
    sys.exit(main())
