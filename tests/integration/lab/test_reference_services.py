"""The four reference services (mcpops.lab.services) as real processes on 127.0.0.1 against their real datastores:
a private PostgreSQL cluster (lego-mcp, loyalty-api), Redis (loyalty-api, connector-mcp) and MariaDB (connector-mcp),
one of each for the whole module. Healthy first, then broken on demand: a datastore stopped, the bridge stopped,
faults.json unhealthy or slow, a wrong API key. Every service stops on SIGTERM with exit 0, and no secret (API key,
metrics token, database password: each holds CANARY) appears in an answer, a log or a state file."""

import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time

import pytest

from loopback import free_port
from mcpops.lab.fixtures.mariadb_server import MariaDbServer
from mcpops.lab.fixtures.pg_cluster import PgCluster
from mcpops.lab.fixtures.redis_server import RedisServer
from mcpops.lab.services.faults import clear_faults, write_faults
from mcpops.lab.services.resp import RespClient

CANARY = "canary-" + secrets.token_hex(6)
API_KEY = CANARY + "-apikey"
METRICS_TOKEN = CANARY + "-metrics"
PASSWORDS = {"lego_mcp": CANARY + "-lego", "loyalty": CANARY + "-loyalty", "connectormcp": CANARY + "-connector"}
LISTEN_RE = re.compile(r"^(\S+) \S+ (metrics )?listening on http://127\.0\.0\.1:(\d+)$", re.M)


class Service:
    """One reference service as a real process: started with its environment, its port read from its start line,
    stopped by its PID (SIGTERM)."""

    def __init__(self, name, root, env, tag):
        self.name = name
        self.dir = os.path.join(str(root), "%s-%s" % (name, tag))
        self.state_dir = os.path.join(self.dir, "state")
        os.makedirs(self.dir, exist_ok=True)
        full = {k: v for k, v in os.environ.items()
                if not k.startswith(("MCPOPS_", "CCTELEGRAM_", "CONNECTOR_")) and k not in (
                    "DATABASE_URL", "REDIS_URL", "METRICS_TOKEN_FILE", "MAINTENANCE_MODE", "READ_ONLY_MODE")}
        full.update({"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0", "MCPOPS_SERVICE_STATE_DIR": self.state_dir,
                     "PYTHONUNBUFFERED": "1"})
        full.update(env)
        self.stdout_path = os.path.join(self.dir, "stdout")
        self.stderr_path = os.path.join(self.dir, "stderr")
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "mcpops.lab.services", name], env=full, stdout=out,
                                         stderr=err, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.port = self.metrics_port = None
        self.returncode = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = {bool(m.group(2)): int(m.group(3)) for m in LISTEN_RE.finditer(self.stderr())}
            if False in found and (True in found or not env.get("CCTELEGRAM_METRICS_LISTEN")):
                self.port, self.metrics_port = found[False], found.get(True)
                return
            if self.proc.poll() is not None:
                raise AssertionError("%s exited %s at start-up: %s" % (name, self.proc.returncode, self.stderr()))
            time.sleep(0.05)
        self.stop()
        raise AssertionError("%s did not say it listens within 60 s: %s" % (name, self.stderr()))

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stderr(self):
        with open(self.stderr_path, errors="replace") as handle:
            return handle.read()

    def stdout(self):
        with open(self.stdout_path, errors="replace") as handle:
            return handle.read()

    def call(self, method, path, headers=None, body=None, port=None, timeout=20):
        """(status, parsed JSON or text, seconds); no answer may hold a secret."""
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        data = None if body is None else json.dumps(body).encode()
        hdrs = dict(headers or {})
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        started = time.monotonic()
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read().decode("utf-8")
        finally:
            conn.close()
        elapsed = time.monotonic() - started
        assert CANARY not in raw, "%s %s %s answered a secret" % (self.name, method, path)
        try:
            parsed = json.loads(raw) if resp.getheader("Content-Type", "").startswith("application/json") else raw
        except ValueError:
            parsed = raw
        return resp.status, parsed, elapsed

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def stop(self):
        if self.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.returncode = self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                self.returncode = "killed after 30 s"
        return self.returncode


class Launcher:
    def __init__(self, root):
        self.root = root
        self.services = []
        self.count = 0

    def start(self, name, **env):
        self.count += 1
        service = Service(name, self.root, {k: str(v) for k, v in env.items()}, self.count)
        self.services.append(service)
        return service

    def stop(self, service):
        assert service.stop() == 0, "%s did not stop cleanly on SIGTERM: %s" % (service.name, service.stderr())


SECRET_FILES = set()


def secret_file(root, name, value):
    path = os.path.join(str(root), name)
    SECRET_FILES.add(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return path


def json_lines(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def wait_for(check, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


# -- the module's datastores and services -----------------------------------------------

@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="module")
def pg():
    cluster = PgCluster(free_port(), max_connections=100).start()
    try:
        with cluster.admin() as admin:
            for user, db in (("lego_mcp", "lego_mcp"), ("loyalty", "loyalty")):
                admin.execute("CREATE ROLE %s LOGIN PASSWORD '%s'" % (user, PASSWORDS[user]))
                admin.execute("CREATE DATABASE %s OWNER %s" % (db, user))
    except Exception:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def redis():
    server = RedisServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mariadb():
    server = MariaDbServer(free_port()).start()
    try:
        server.create_database("connectorMCP", "connectormcp", PASSWORDS["connectormcp"])
    except Exception:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture(scope="module")
def launcher(root):
    launched = Launcher(root)
    yield launched
    codes = {"%s (%s)" % (s.name, s.dir): s.stop() for s in launched.services}
    assert all(code == 0 for code in codes.values()), codes
    # every file the services wrote (stdout, stderr, logs, state) but the two secret files the test gave them
    checked = 0
    for dirpath, _dirs, names in os.walk(str(root)):
        for name in names:
            path = os.path.join(dirpath, name)
            if path in SECRET_FILES:
                continue
            with open(path, errors="replace") as handle:
                assert CANARY not in handle.read(), "a secret in %s" % path
            checked += 1
    assert checked >= 2 * len(launched.services)  # at least each one's stdout and stderr


def pg_url(pg, user, port=None):
    return "postgresql://%s:%s@127.0.0.1:%d/%s" % (user, PASSWORDS[user], port or pg.port, user)


@pytest.fixture(scope="module")
def lego(launcher, pg):
    return launcher.start("lego-mcp", DATABASE_URL=pg_url(pg, "lego_mcp"))


@pytest.fixture(scope="module")
def metrics_token_file(root):
    return secret_file(root, "metrics_token", METRICS_TOKEN)


@pytest.fixture(scope="module")
def api_key_file(root):
    return secret_file(root, "api_key", API_KEY)


@pytest.fixture(scope="module")
def loyalty_env(pg, redis, metrics_token_file):
    return {"DATABASE_URL": pg_url(pg, "loyalty"), "REDIS_URL": redis.url, "METRICS_TOKEN_FILE": metrics_token_file,
            "ALERT_HTTP_SLOW_THRESHOLD_MS": "250"}


@pytest.fixture(scope="module")
def loyalty(launcher, loyalty_env):
    return launcher.start("loyalty-api", **loyalty_env)


@pytest.fixture(scope="module")
def connector_env(mariadb, redis):
    return {"DATABASE_URL": mariadb.url("connectormcp"), "REDIS_URL": redis.url}


@pytest.fixture(scope="module")
def connector(launcher, connector_env, root):
    return launcher.start("connector-mcp", CONNECTOR_LOG=os.path.join(str(root), "connectormcp", "app.log"),
                          **connector_env)


@pytest.fixture(scope="module")
def bridge(launcher):
    return launcher.start("cctelegram-bridge")


def start_cctelegram(launcher, bridge, api_key_file, **env):
    env.setdefault("CCTELEGRAM_METRICS_LISTEN", "127.0.0.1:0")
    service = launcher.start("cctelegram-mcp", CCTELEGRAM_API_KEY_FILE=api_key_file, CCTELEGRAM_BRIDGE_URL=bridge.url,
                             **env)
    service.log_dir = env.get("CCTELEGRAM_LOG_DIR") or service.state_dir
    return service


@pytest.fixture(scope="module")
def cctelegram(launcher, bridge, api_key_file, root):
    return start_cctelegram(launcher, bridge, api_key_file,
                            CCTELEGRAM_LOG_DIR=os.path.join(str(root), "cctelegram-logs"))


KEY = {"X-API-Key": API_KEY}


# -- lego-mcp ---------------------------------------------------------------------------

def test_lego_is_healthy_and_lists_equipment_from_postgresql(lego, pg):
    status, body, _ = lego.get("/health")
    assert (status, body["status"], body["database"]) == (200, "healthy", "ok")
    status, body, _ = lego.get("/api/v8/equipment")
    assert status == 200 and body["count"] == len(body["data"]) >= 3
    assert all({"equipment_id", "status"} <= set(item) for item in body["data"])
    with pg.admin(dbname="lego_mcp") as admin:
        admin.execute("UPDATE equipment SET status = 'down' WHERE equipment_id = 'CNC-001'")
    status, body, _ = lego.get("/api/v8/equipment")
    assert {i["equipment_id"]: i["status"] for i in body["data"]}["CNC-001"] == "down"
    assert re.search(r"^\S+Z INFO GET /api/v8/equipment 200 ", lego.stdout(), re.M)


def test_lego_notices_a_stopped_database_on_the_next_request(launcher, pg):
    dead = launcher.start("lego-mcp", DATABASE_URL=pg_url(pg, "lego_mcp", port=free_port()))
    try:
        status, body, _ = dead.get("/health")
        assert status == 503 and body["status"] == "unhealthy"
        assert "refused" in body["database"] or "failed" in body["database"], body
        status, body, _ = dead.get("/api/v8/equipment")
        assert status == 503 and body["error"] == "database_unavailable"
        out = dead.stdout()
        assert "ERROR database: cannot prepare the equipment table" in out
        assert re.search(r"^\S+Z ERROR GET /health 503 \S+ database: ", out, re.M)
    finally:
        launcher.stop(dead)


# -- loyalty-api ------------------------------------------------------------------------

def test_loyalty_probes(loyalty):
    assert loyalty.get("/live")[:2] == (200, {"status": "ok"})
    status, body, _ = loyalty.get("/health")
    assert status == 200 and (body["status"], body["maintenance"], body["readOnly"]) == ("ok", False, False)
    assert loyalty.get("/ready")[:2] == (200, {"status": "ok", "checks": {"database": "ok", "redis": "ok"}})


def test_loyalty_metrics_want_the_token(loyalty):
    assert loyalty.get("/metrics")[:2] == (401, {"error": "unauthorized"})
    assert loyalty.get("/metrics", headers={"X-Metrics-Token": "wrong"})[0] == 401
    status, text, _ = loyalty.get("/metrics", headers={"X-Metrics-Token": METRICS_TOKEN})
    assert status == 200
    for family in ("http_requests_total", "http_slow_requests_total", "http_request_duration_seconds_bucket",
                   "loyalty_outbox_pending", "loyalty_outbox_dead_total", "process_cpu_usage", "process_memory_bytes"):
        assert "\n# TYPE %s " % family.replace("_bucket", "") in text, family
    assert 'http_requests_total{method="GET",path="/metrics",status="401"} 2' in text
    # Prometheus' way (2.42 sends no custom header): the same token as a Bearer key; a wrong one, or a wrong header
    # beside a right Bearer key, is refused as before
    assert loyalty.get("/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN})[0] == 200
    assert loyalty.get("/metrics", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert loyalty.get("/metrics", headers={"X-Metrics-Token": "wrong",
                                            "Authorization": "Bearer " + METRICS_TOKEN})[0] == 401


def test_loyalty_business_api_writes_postgresql_and_redis(loyalty, pg, redis):
    status, body, _ = loyalty.call("POST", "/api/v1/loyalty/earn", body={"customerId": "cust-1", "points": 120})
    assert (status, body["balance"]) == (200, 120)
    status, body, _ = loyalty.call("POST", "/api/v1/loyalty/earn", body={"customerId": "cust-1", "points": 30})
    assert body["balance"] == 150
    assert loyalty.get("/api/v1/loyalty/balance/cust-1")[1] == {"customerId": "cust-1", "balance": 150,
                                                                 "source": "cache"}
    status, body, _ = loyalty.call("POST", "/api/v1/loyalty/redeem", body={"customerId": "cust-1", "points": 500})
    assert (status, body["error"]) == (409, "insufficient_balance")
    assert loyalty.get("/api/v1/loyalty/balance/nobody")[0] == 404
    assert loyalty.call("POST", "/api/v1/loyalty/earn", body={"customerId": "cust-1", "points": -1})[0] == 400
    with pg.admin(dbname="loyalty") as admin:
        assert admin.execute("SELECT balance FROM loyalty_accounts WHERE customer_id = 'cust-1'").fetchone()[0] == 150
        assert admin.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0] >= 2
        admin.execute("INSERT INTO outbox (event_type, payload, status) VALUES ('loyalty.earn', '{}', 'dead')")
    client = RespClient.from_url(redis.url)
    try:
        assert int(client.get("loyalty:earn:total")) >= 2
    finally:
        client.close()
    text = loyalty.get("/metrics", headers={"X-Metrics-Token": METRICS_TOKEN})[1]
    assert re.search(r"^loyalty_outbox_pending [1-9]", text, re.M)
    assert re.search(r"^loyalty_outbox_dead_total [1-9]", text, re.M)
    logged = [json.loads(line) for line in loyalty.stdout().splitlines() if line.startswith("{")]
    earn = [r for r in logged if r.get("req", {}).get("url") == "/api/v1/loyalty/earn"]
    assert earn and {"level", "msg", "responseTime"} <= set(earn[0])


def test_loyalty_maintenance_and_read_only_modes(launcher, loyalty_env):
    maintenance = launcher.start("loyalty-api", MAINTENANCE_MODE="1", **loyalty_env)
    read_only = launcher.start("loyalty-api", READ_ONLY_MODE="1", **loyalty_env)
    try:
        status, body, _ = maintenance.get("/api/v1/loyalty/balance/cust-1")
        assert (status, body["error"]) == (503, "maintenance")
        assert maintenance.call("POST", "/api/v1/loyalty/earn", body={"customerId": "c", "points": 1})[1]["error"] \
            == "maintenance"
        status, body, _ = maintenance.get("/health")
        assert status == 200 and body["maintenance"] is True
        assert maintenance.get("/live")[0] == maintenance.get("/ready")[0] == 200
        assert maintenance.get("/metrics", headers={"X-Metrics-Token": METRICS_TOKEN})[0] == 200

        status, body, _ = read_only.call("POST", "/api/v1/loyalty/earn", body={"customerId": "cust-1", "points": 1})
        assert (status, body["error"]) == (503, "read_only")
        assert read_only.get("/api/v1/loyalty/balance/cust-1")[0] == 200
        assert read_only.get("/health")[1]["readOnly"] is True
    finally:
        launcher.stop(maintenance)
        launcher.stop(read_only)


# -- connector-mcp ----------------------------------------------------------------------

def test_connector_is_healthy_deep_and_shallow(connector, mariadb):
    status, body, _ = connector.get("/health")
    assert status == 200
    assert (body["status"], body["version"], body["environment"]) == ("healthy", "1.0.0", "lab")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", body["timestamp"])
    status, body, _ = connector.get("/api/health")
    assert status == 200 and body["status"] == "healthy"
    assert body["database"]["status"] == body["redis"]["status"] == "healthy"
    assert body["mcp_connectors"]["slack"]["circuit"] == "closed"
    assert body["rate_limit"] == {"backend": "redis", "requests_per_minute": 120}
    status, body, _ = connector.call("POST", "/api/oauth/start", body={"datasource": "slack"})
    assert status == 201 and body["datasource"] == "slack"
    with mariadb.admin(database="connectorMCP") as admin, admin.cursor() as cur:
        cur.execute("SELECT COUNT(*), MAX(expires_at) > NOW() FROM oauth_states WHERE state = %s", (body["state"],))
        assert cur.fetchone() == (1, 1)
    log = json_lines(os.path.join(os.path.dirname(connector.dir), "connectormcp", "app.log"))
    deep = [r for r in log if r.get("path") == "/api/health"]
    assert deep and {"timestamp", "level", "message", "duration_ms"} <= set(deep[0])


def test_connector_rate_limit_is_kept_in_redis(launcher, connector_env, root):
    # Redis database 1: the window is shared by every instance on one Redis (the seed's multi-instance set-up), so
    # the module's own connector must not have counted in it already.
    redis_url = connector_env["REDIS_URL"].rsplit("/", 1)[0] + "/1"
    log_path = os.path.join(str(root), "connector-rl", "app.log")
    limited = launcher.start("connector-mcp", RATE_LIMIT_PER_MINUTE="2", CONNECTOR_LOG=log_path,
                             **dict(connector_env, REDIS_URL=redis_url))
    try:
        left = 60 - time.time() % 60
        if left < 5:  # the three calls must fall in one window (one minute)
            time.sleep(left + 0.1)
        codes = [limited.call("POST", "/api/oauth/start", body={"datasource": "jira"})[0] for _ in range(3)]
        assert codes == [201, 201, 429]
        client = RespClient.from_url(redis_url)
        try:
            # ratelimit:<client ip>, the seed's `redis-cli keys "ratelimit:*"` (a fixed window: the key lives 60 s)
            assert "ratelimit:127.0.0.1" in client.keys("ratelimit:*")
        finally:
            client.close()
        assert [r for r in json_lines(log_path) if r["message"] == "rate_limit_exceeded" and r["status"] == 429]
    finally:
        launcher.stop(limited)


def test_connector_names_a_failing_database(launcher, redis):
    dead = launcher.start("connector-mcp", REDIS_URL=redis.url,
                          DATABASE_URL="mysql://connectormcp:%s@127.0.0.1:%d/connectorMCP"
                          % (PASSWORDS["connectormcp"], free_port()))
    try:
        assert dead.get("/health")[0] == 200  # the shallow check does not look at the datastores
        status, body, _ = dead.get("/api/health")
        assert status == 503 and body["status"] == "unhealthy"
        assert body["database"]["status"] == "unhealthy" and "OperationalError" in body["database"]["error"]
        assert body["redis"]["status"] == "healthy"
        # the request's log line is written just after its answer is sent: wait for it
        deadline = time.monotonic() + 15
        while True:
            errors = [json.loads(line) for line in dead.stdout().splitlines() if '"ERROR"' in line]
            if any(r.get("error_type") == "DatabaseUnavailable" for r in errors) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert any(r.get("error_type") == "DatabaseUnavailable" for r in errors)
    finally:
        launcher.stop(dead)


# -- cctelegram-mcp and its bridge ------------------------------------------------------

def test_cctelegram_is_healthy_behind_its_api_key(cctelegram, bridge):
    status, body, _ = cctelegram.get("/health", headers=KEY)
    assert (status, body["status"], body["bridge"]) == (200, "healthy", "running")
    status, body, _ = cctelegram.get("/tools/get_bridge_status", headers=KEY)
    assert status == 200 and body["bridge"]["running"] is True and body["bridge"]["url"] == bridge.url
    assert cctelegram.call("POST", "/tools/get_bridge_status", headers=KEY)[0] == 200
    status, body, _ = cctelegram.call("POST", "/tools/send_telegram_message", headers=KEY,
                                      body={"message": "System recovery test", "source": "incident-response"})
    assert status == 200 and body["ok"] is True and body["simulated"] is True
    outbox = json_lines(os.path.join(cctelegram.state_dir, "telegram_outbox.jsonl"))
    assert outbox[-1]["message"] == "System recovery test" and outbox[-1]["message_id"] == body["message_id"]
    assert cctelegram.call("POST", "/tools/restart_bridge", headers=KEY)[0] == 202
    assert os.path.exists(os.path.join(cctelegram.state_dir, "bridge_restart_request.json"))
    for port in (cctelegram.port, cctelegram.metrics_port):
        status, text, _ = cctelegram.get("/metrics", headers=KEY, port=port)
        assert status == 200
        for family in ("http_requests_total", "http_request_duration_seconds", "process_cpu_usage",
                       "process_memory_bytes"):
            assert "\n# TYPE %s " % family in text, family
        assert 'http_requests_total{method="GET",path="/health",status="200"}' in text
    assert cctelegram.get("/metrics", port=cctelegram.metrics_port)[0] == 401
    log = json_lines(os.path.join(cctelegram.log_dir, "application.log"))
    health = [r for r in log if r.get("path") == "/health" and r.get("status") == 200]
    assert health and {"ts", "level", "message", "event", "duration_ms"} <= set(health[0])
    assert health[0]["context"]["client_ip"] == "127.0.0.1"


def test_cctelegram_refuses_a_wrong_key_and_logs_a_security_event(cctelegram):
    assert cctelegram.get("/health", headers={"X-API-Key": "not-the-key"})[:2] == (401, {"error": "unauthorized"})
    assert cctelegram.get("/health")[0] == 401
    assert cctelegram.call("POST", "/tools/send_telegram_message", body={"message": "x"})[0] == 401
    events = json_lines(os.path.join(cctelegram.log_dir, "security.log"))
    security = [e for e in events if e["event"] == "SECURITY"]
    assert {e["reason"] for e in security} >= {"invalid_api_key", "missing_api_key"}
    assert all(e["message"].startswith("SECURITY") and e["context"]["client_ip"] == "127.0.0.1" for e in security)
    with open(os.path.join(cctelegram.log_dir, "security.log")) as handle:
        assert "not-the-key" not in handle.read()
    app_log = json_lines(os.path.join(cctelegram.log_dir, "application.log"))
    assert any(r.get("status") == 401 and r["level"] == "WARN" for r in app_log)


def test_cctelegram_rate_limit(launcher, bridge, api_key_file):
    limited = start_cctelegram(launcher, bridge, api_key_file, CCTELEGRAM_RATE_LIMIT="3",
                               CCTELEGRAM_METRICS_LISTEN="")
    try:
        left = 60 - time.time() % 60
        if left < 5:  # the four calls must fall in one window (one minute)
            time.sleep(left + 0.1)
        codes = [limited.get("/health", headers=KEY)[0] for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        events = json_lines(os.path.join(limited.log_dir, "security.log"))
        assert [e for e in events if e["event"] == "RATE_LIMIT_EXCEEDED"]
    finally:
        launcher.stop(limited)


def test_stopping_the_bridge_makes_cctelegram_unhealthy(launcher, api_key_file):
    own_bridge = launcher.start("cctelegram-bridge")
    server = start_cctelegram(launcher, own_bridge, api_key_file, CCTELEGRAM_METRICS_LISTEN="")
    try:
        assert server.get("/health", headers=KEY)[0] == 200
        launcher.stop(own_bridge)
        status, body, _ = server.get("/health", headers=KEY)
        assert status == 503 and body["status"] == "unhealthy" and body["bridge"].startswith("unreachable: ")
        status, body, _ = server.get("/tools/get_bridge_status", headers=KEY)
        assert status == 200 and body["bridge"]["running"] is False and "unreachable" in body["bridge"]["error"]
        assert server.call("POST", "/tools/send_telegram_message", headers=KEY, body={"message": "x"})[0] == 503
        errors = [r for r in json_lines(os.path.join(server.log_dir, "application.log")) if r["level"] == "ERROR"]
        assert any("bridge unreachable" in r["message"] for r in errors)
    finally:
        launcher.stop(server)


# -- faults.json and datastore outages on the module's services -------------------------

def test_the_unhealthy_fault_breaks_each_service_and_clearing_it_heals(lego, loyalty, connector, cctelegram, bridge):
    targets = [  # (service whose state dir gets the fault, service asked, path, headers)
        (lego, lego, "/health", None),
        (loyalty, loyalty, "/health", None),
        (loyalty, loyalty, "/ready", None),
        (connector, connector, "/health", None),
        (connector, connector, "/api/health", None),
        (cctelegram, cctelegram, "/health", KEY),
        (bridge, cctelegram, "/health", KEY),
    ]
    broken = {id(t[0]): t[0] for t in targets}.values()
    try:
        for service in broken:
            write_faults(service.state_dir, unhealthy=True, reason="drill fault")
        for _, asked, path, headers in targets:
            status, body, _ = asked.get(path, headers=headers)
            assert status == 503, (asked.name, path, body)
        assert loyalty.get("/live")[0] == 200  # liveness is the process, not its health
        assert "drill fault" in cctelegram.get("/health", headers=KEY)[1].get("reason", "")
        assert loyalty.get("/ready")[1]["checks"]["fault"] == "error: drill fault"
    finally:
        for service in broken:
            clear_faults(service.state_dir)
    for _, asked, path, headers in targets:
        assert asked.get(path, headers=headers)[0] == 200, (asked.name, path)


def test_the_slow_fault_crosses_a_latency_threshold(lego, loyalty):
    try:
        write_faults(lego.state_dir, slow_ms=400)
        write_faults(loyalty.state_dir, slow_ms=400)
        status, _, elapsed = lego.get("/health")
        assert status == 200 and elapsed >= 0.4
        assert loyalty.get("/live")[2] >= 0.4
    finally:
        clear_faults(lego.state_dir)
        clear_faults(loyalty.state_dir)
    assert lego.get("/health")[2] < 0.4
    text = loyalty.get("/metrics", headers={"X-Metrics-Token": METRICS_TOKEN})[1]
    assert re.search(r'^http_slow_requests_total\{method="GET",path="/live"\} [1-9]', text, re.M)


def test_a_circuit_opened_by_the_fault_file_shows_in_deep_health(connector):
    try:
        write_faults(connector.state_dir, circuits={"slack": "open"})
        status, body, _ = connector.get("/api/health")
        assert status == 200 and body["mcp_connectors"]["slack"]["circuit"] == "open"
    finally:
        clear_faults(connector.state_dir)


def test_stopping_redis_fails_loyalty_ready_and_connector_deep_health(loyalty, connector, redis):
    assert loyalty.get("/ready")[0] == connector.get("/api/health")[0] == 200
    redis.halt()
    try:
        status, body, _ = loyalty.get("/ready")
        assert status == 503 and body["status"] == "error" and body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("error: RedisUnavailable") and "refused" in body["checks"]["redis"]
        status, body, _ = connector.get("/api/health")
        assert status == 503 and body["status"] == "unhealthy"
        assert body["redis"]["status"] == "unhealthy" and "RedisUnavailable" in body["redis"]["error"]
        assert body["database"]["status"] == "healthy"
        assert loyalty.get("/live")[0] == loyalty.get("/health")[0] == connector.get("/health")[0] == 200
        # Redis is optional for the business API: PostgreSQL still answers, the log says the cache is degraded
        status, body, _ = loyalty.call("POST", "/api/v1/loyalty/earn", body={"customerId": "cust-2", "points": 7})
        assert (status, body["balance"]) == (200, 7)
        assert loyalty.get("/api/v1/loyalty/balance/cust-2")[1]["source"] == "database"
        assert "redis unavailable, cache degraded" in loyalty.stdout()
    finally:
        redis.start()
    wait_for(lambda: loyalty.get("/ready")[0] == 200, "loyalty-api ready again after Redis came back")
    assert connector.get("/api/health")[0] == 200


# -- start-up -----------------------------------------------------------------------------

def test_a_bad_environment_exits_2_with_one_line_and_no_secret(root, api_key_file):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MCPOPS_", "CCTELEGRAM_"))}
    base.update(MCPOPS_SERVICE_LISTEN="127.0.0.1:0", MCPOPS_SERVICE_STATE_DIR=os.path.join(str(root), "bad-env"))
    cases = [
        ("cctelegram-mcp", {"CCTELEGRAM_BRIDGE_URL": "http://127.0.0.1:1"}, "CCTELEGRAM_API_KEY_FILE is not set"),
        ("cctelegram-mcp", {"CCTELEGRAM_API_KEY_FILE": api_key_file, "CCTELEGRAM_BRIDGE_URL": "http://127.0.0.1:1",
                            "CCTELEGRAM_METRICS_LISTEN": "nine"}, "CCTELEGRAM_METRICS_LISTEN must be host:port"),
        ("lego-mcp", {"DATABASE_URL": "mysql://u:%s@127.0.0.1/x" % CANARY}, "DATABASE_URL must be a postgresql URL"),
        ("loyalty-api", {"DATABASE_URL": "postgresql://u:%s@127.0.0.1/x" % CANARY, "REDIS_URL": "redis://h/0",
                         "METRICS_TOKEN_FILE": os.path.join(str(root), "missing")}, "cannot read METRICS_TOKEN_FILE"),
        ("connector-mcp", {"DATABASE_URL": "mysql://u:%s@127.0.0.1/x" % CANARY}, "REDIS_URL is not set"),
    ]
    for name, extra, message in cases:
        proc = subprocess.run([sys.executable, "-m", "mcpops.lab.services", name], env=dict(base, **extra),
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, (name, proc.stderr)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("%s: " % name) and message in proc.stderr
        assert CANARY not in proc.stderr + proc.stdout


def test_a_taken_port_exits_1(launcher, bridge):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPOPS_")}
    env.update(MCPOPS_SERVICE_LISTEN="127.0.0.1:%d" % bridge.port,
               MCPOPS_SERVICE_STATE_DIR=os.path.join(os.path.dirname(bridge.dir), "taken"))
    proc = subprocess.run([sys.executable, "-m", "mcpops.lab.services", "cctelegram-bridge"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "cannot listen on 127.0.0.1:%d" % bridge.port in proc.stderr
