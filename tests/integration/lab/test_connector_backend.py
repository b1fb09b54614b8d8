"""connector-mcp's reference backend (mcpops.lab.services.connector_mcp) as real processes on 127.0.0.1 against a
private MariaDB and a private Redis (with a password), one of each for the module: what docs/dev/connector-contract.md
asks of it ("Reference backend"), each behaviour asserted from outside, through HTTP, its log file and the datastores:
the client ip behind a trusted proxy, the instance name, the connection pool and its leak, the circuit breakers, the
rate limit in Redis, CONNECTOR_CONFIG, the skewed clock and OAuth states (two instances), the Bearer API, the memory
leak, a defective release. The database password, the Redis password and the API token all hold CANARY: no answer,
log line or file the backends write ever holds it."""

import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from loopback import free_port
from mcpops.lab.fixtures.mariadb_server import MariaDbServer
from mcpops.lab.fixtures.redis_server import RedisServer
from mcpops.lab.services.faults import clear_faults, write_faults

CANARY = "canary-" + secrets.token_hex(6)
DB_PASSWORD = CANARY + "-db"
POOL_PASSWORD = CANARY + "-pool"
REDIS_PASSWORD = CANARY + "-redis"
API_TOKEN = CANARY + "-token"
LISTEN_RE = re.compile(r"^connector-mcp \S+ listening on http://127\.0\.0\.1:(\d+)$", re.M)
LINE_FIELDS = {"timestamp", "level", "logger", "message", "instance", "method", "path", "status", "duration_ms",
               "client_ip"}
SECRET_FILES = set()


def wait_for(check, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def parse_iso(text):
    return datetime.strptime(text.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


class Backend:
    """One backend instance: `python -m mcpops.lab.services connector-mcp` with its env, its port read from its
    start line, its app.log in its own dir, stopped by its PID (SIGTERM, exit 0 expected)."""

    def __init__(self, root, tag, env):
        self.dir = os.path.join(str(root), tag)
        self.state_dir = os.path.join(self.dir, "state")
        self.log_path = os.path.join(self.dir, "app.log")
        os.makedirs(self.dir, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("MCPOPS_", "CONNECTOR_", "DB_POOL", "CIRCUIT_", "RATE_LIMIT"))
                    and k not in ("DATABASE_URL", "REDIS_URL", "TRUSTED_PROXIES", "INSTANCE_NAME", "CLOCK_SKEW_SECONDS",
                                  "MEMORY_WARN_MB", "API_TOKEN_FILE", "ENVIRONMENT")}
        self.env.update({"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0", "MCPOPS_SERVICE_STATE_DIR": self.state_dir,
                         "CONNECTOR_LOG": self.log_path, "INSTANCE_NAME": tag, "PYTHONUNBUFFERED": "1"})
        self.env.update({k: str(v) for k, v in env.items()})
        self.proc = None
        self.start()

    def start(self):
        self.stderr_path = os.path.join(self.dir, "stderr")
        with open(os.path.join(self.dir, "stdout"), "ab") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "mcpops.lab.services", "connector-mcp"], env=self.env,
                                         stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = LISTEN_RE.search(self.stderr())
            if found:
                self.port = int(found.group(1))
                return self
            if self.proc.poll() is not None:
                raise AssertionError("connector-mcp exited %s at start-up: %s" % (self.proc.returncode, self.stderr()))
            time.sleep(0.05)
        self.stop()
        raise AssertionError("connector-mcp did not say it listens within 60 s: %s" % self.stderr())

    def stderr(self):
        with open(self.stderr_path, errors="replace") as handle:
            return handle.read()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError("connector-mcp did not stop on SIGTERM within 30 s")
        return self.proc.returncode

    def restart(self):
        assert self.stop() == 0, self.stderr()
        return self.start()

    def call(self, method, path, headers=None, body=None, source="127.0.0.1"):
        """(status, parsed JSON); from `source` (a 127/8 address bound as the source); no answer holds a secret."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(source, 0))
        data = None if body is None else json.dumps(body).encode()
        hdrs = dict(headers or {})
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read().decode("utf-8")
        finally:
            conn.close()
        assert CANARY not in raw, "%s %s answered a secret" % (method, path)
        return resp.status, json.loads(raw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def tool(self, datasource, tool="search", **kw):
        return self.call("POST", "/api/tools/call", body={"datasource": datasource, "tool": tool}, **kw)

    def lines(self):
        try:
            with open(self.log_path, encoding="utf-8") as handle:
                return [json.loads(line) for line in handle if line.strip()]
        except FileNotFoundError:
            return []


# -- the module's datastores ---------------------------------------------------------------

@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("connector-backend")


@pytest.fixture(scope="module")
def mariadb():
    server = MariaDbServer(free_port()).start()
    try:
        server.create_database("connectorMCP", "connectormcp", DB_PASSWORD)
        server.create_database("connectorMCP", "poolprobe", POOL_PASSWORD)  # its own user: its sessions are countable
    except Exception:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_server():
    import redis

    server = RedisServer(free_port()).start()
    try:
        client = redis.Redis(host="127.0.0.1", port=server.port)
        client.config_set("requirepass", REDIS_PASSWORD)
        client.close()
    except Exception:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rdb(redis_server):
    """redis-py on the backends' Redis database (0)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=redis_server.port, password=REDIS_PASSWORD, decode_responses=True)
    yield client
    client.close()


@pytest.fixture(scope="module")
def token_file(root):
    path = os.path.join(str(root), "api-token")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(API_TOKEN + "\n")
    SECRET_FILES.add(path)
    return path


@pytest.fixture(scope="module")
def base_env(mariadb, redis_server, token_file):
    return {"DATABASE_URL": mariadb.url("connectormcp"),
            "REDIS_URL": "redis://:%s@127.0.0.1:%d/0" % (REDIS_PASSWORD, redis_server.port),
            "TRUSTED_PROXIES": "127.0.0.1", "API_TOKEN_FILE": token_file}


@pytest.fixture(scope="module")
def backends(root):
    """Starts backends; at the end stops each by its PID (exit 0) and looks for the secrets in every file they
    wrote (app.log, stdout, stderr, state)."""
    started = []

    def start(tag, env):
        backend = Backend(root, tag, env)
        started.append(backend)
        return backend

    yield start
    codes = {b.dir: b.stop() for b in started}
    assert all(code == 0 for code in codes.values()), codes
    checked = 0
    for dirpath, _dirs, names in os.walk(str(root)):
        for name in names:
            path = os.path.join(dirpath, name)
            if path in SECRET_FILES:
                continue
            with open(path, errors="replace") as handle:
                assert CANARY not in handle.read(), "a secret in %s" % path
            checked += 1
    assert checked >= 3 * len(started)


@pytest.fixture(scope="module")
def backend(backends, base_env):
    return backends("backend-1", base_env)


def logged(backend, count, since=0, **fields):
    """The log lines (from line `since` on) that have these fields, once there are `count` of them: a request's line
    is written just after its answer is sent, so a test waits for it."""
    def found():
        got = [r for r in backend.lines()[since:] if all(r.get(k) == v for k, v in fields.items())]
        return got if len(got) >= count else None
    return wait_for(found, "%d log lines with %s in %s" % (count, fields, backend.log_path), timeout=30)


# -- the instance, its health, its log lines -----------------------------------------------

def test_health_and_logs_name_the_instance(backend):
    status, body = backend.get("/health")
    assert status == 200 and (body["status"], body["instance"], body["version"]) == ("healthy", "backend-1", "1.0.0")
    status, body = backend.get("/api/health")
    assert status == 200 and body["status"] == "healthy" and body["instance"] == "backend-1"
    assert body["database"]["status"] == body["redis"]["status"] == "healthy"
    assert body["database"]["pool"] == {"size": 5, "checked_out": 0, "available": 5, "waiting": 0}
    assert body["mcp_connectors"] == {name: {"circuit": "closed", "failures": 0, "opened_at": None}
                                      for name in ("slack", "github", "jira")}
    assert body["rate_limit"] == {"backend": "redis", "requests_per_minute": 120}
    assert body["memory"]["rss_mb"] > 0
    assert abs((parse_iso(body["clock"]["now"]) - datetime.now(timezone.utc)).total_seconds()) < 120
    logged(backend, 1, path="/api/health")
    requests = [r for r in backend.lines() if "status" in r]
    assert len(requests) >= 2 and all(LINE_FIELDS <= set(r) and r["instance"] == "backend-1" for r in requests)
    assert all(r["instance"] == "backend-1" for r in backend.lines())  # the start line too


def test_client_ip_comes_from_the_headers_of_a_trusted_proxy_only(backend, rdb):
    # 127.0.0.1 is trusted: the first X-Forwarded-For address, else X-Real-IP
    backend.get("/api/me", headers={"X-Forwarded-For": "198.51.100.7, 127.0.0.1", "X-Real-IP": "198.51.100.70"})
    backend.get("/api/me", headers={"X-Real-IP": "198.51.100.8"})
    # 127.0.0.9 is not: its headers are ignored, it is the client
    backend.get("/api/me", headers={"X-Forwarded-For": "198.51.100.9", "X-Real-IP": "198.51.100.9"},
                source="127.0.0.9")
    for ip in ("198.51.100.7", "198.51.100.8", "127.0.0.9"):
        logged(backend, 1, path="/api/me", client_ip=ip)
    assert not [r for r in backend.lines() if r.get("client_ip") in ("198.51.100.9", "198.51.100.70")]
    for ip in ("198.51.100.7", "198.51.100.8", "127.0.0.9"):
        assert rdb.get("ratelimit:" + ip) == "1" and 0 < rdb.ttl("ratelimit:" + ip) <= 60
    assert rdb.get("ratelimit:198.51.100.9") is None and rdb.get("ratelimit:198.51.100.70") is None


# -- the Bearer API ------------------------------------------------------------------------

def test_api_me_wants_the_bearer_token(backend, backends, base_env):
    cases = [(None, "auth_failure"), ("Bearer wrong-" + secrets.token_hex(4), "invalid_token"),
             ("Basic dXNlcjpwYXNz", "unauthorized"), ("Bearer", "unauthorized")]
    for index, (header, event) in enumerate(cases):
        ip = "198.51.100.%d" % (40 + index)  # one client a case: its line is found by its ip
        headers = {"X-Forwarded-For": ip}
        if header:
            headers["Authorization"] = header
        status, body = backend.get("/api/me", headers=headers)
        assert status == 401, (header, body)
        line = logged(backend, 1, path="/api/me", client_ip=ip)[0]
        assert (line["status"], line["event"], line["level"]) == (401, event, "WARNING"), line
    status, body = backend.get("/api/me", headers={"Authorization": "Bearer " + API_TOKEN,
                                                   "X-Forwarded-For": "198.51.100.49"})
    assert status == 200 and body["instance"] == "backend-1"
    assert "event" not in logged(backend, 1, path="/api/me", client_ip="198.51.100.49")[0]
    # without API_TOKEN_FILE there is no valid token
    tokenless = backends("tokenless", {k: v for k, v in base_env.items() if k != "API_TOKEN_FILE"})
    assert tokenless.get("/api/me", headers={"Authorization": "Bearer " + API_TOKEN})[0] == 401
    assert logged(tokenless, 1, path="/api/me")[0]["event"] == "invalid_token"


# -- the rate limit --------------------------------------------------------------------------

def test_rate_limit_counts_in_redis_per_client_and_config_wins_over_env(backends, base_env, root, rdb):
    config = os.path.join(str(root), "connector-config.json")
    with open(config, "w") as handle:
        json.dump({"rate_limit_per_minute": 3}, handle)
    limited = backends("limited", dict(base_env, RATE_LIMIT_PER_MINUTE="100", CONNECTOR_CONFIG=config))
    assert limited.get("/api/health")[1]["rate_limit"] == {"backend": "redis", "requests_per_minute": 3}
    client = {"X-Forwarded-For": "203.0.113.50"}
    codes = [limited.tool("github", headers=client)[0] for _ in range(3)]
    status, body = limited.tool("github", headers=client)
    assert codes == [200, 200, 200] and (status, body) == (429, {"detail": "rate_limit_exceeded"})
    assert rdb.get("ratelimit:203.0.113.50") == "4" and 0 < rdb.ttl("ratelimit:203.0.113.50") <= 60
    assert limited.tool("github", headers={"X-Forwarded-For": "203.0.113.51"})[0] == 200  # another client
    line = logged(limited, 1, status=429)[0]
    assert (line["message"], line["event"], line["client_ip"], line["level"]) == (
        "rate_limit_exceeded", "rate_limit_exceeded", "203.0.113.50", "WARNING")
    assert limited.get("/api/health")[0] == 200  # health is never rate limited


def test_a_bad_connector_config_exits_2_with_one_line(root, base_env):
    bad = os.path.join(str(root), "bad-config.json")
    with open(bad, "w") as handle:
        json.dump({"rate_limit_per_minute": "lots"}, handle)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCPOPS_", "CONNECTOR_"))}
    env.update(base_env, MCPOPS_SERVICE_LISTEN="127.0.0.1:0", CONNECTOR_CONFIG=bad,
               MCPOPS_SERVICE_STATE_DIR=os.path.join(str(root), "bad-config-state"))
    proc = subprocess.run([sys.executable, "-m", "mcpops.lab.services", "connector-mcp"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "rate_limit_per_minute must be an integer" in proc.stderr and CANARY not in proc.stderr + proc.stdout


# -- the connection pool -------------------------------------------------------------------

def probe_sessions(mariadb):
    with mariadb.admin() as admin, admin.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s", ("poolprobe",))
        return cur.fetchone()[0]


def test_a_leaking_pool_is_exhausted_until_a_restart(backends, base_env, mariadb):
    pooled = backends("pooled", dict(base_env, DATABASE_URL=mariadb.url("poolprobe"), DB_POOL_SIZE="2",
                                     DB_POOL_TIMEOUT="0.5"))
    status, body = pooled.get("/api/health")
    assert status == 200 and body["database"]["pool"] == {"size": 2, "checked_out": 0, "available": 2, "waiting": 0}
    assert pooled.call("POST", "/api/oauth/start", body={"datasource": "jira"})[0] == 201
    assert probe_sessions(mariadb) == 1  # one connection made, given back, kept idle: a pool
    write_faults(pooled.state_dir, pool_leak=True)
    try:
        answers = [pooled.call("POST", "/api/oauth/start", body={"datasource": "jira"}) for _ in range(4)]
        assert (503, {"detail": "connection pool exhausted"}) in answers
        status, body = pooled.get("/api/health")
        assert status == 503 and body["status"] == "unhealthy"
        assert body["database"]["status"] == "unhealthy" and body["database"]["error"] == "connection pool exhausted"
        assert body["database"]["pool"]["checked_out"] == 2 and body["database"]["pool"]["available"] == 0
    finally:
        clear_faults(pooled.state_dir)
    # the fault is gone, the leaked connections are not: only a restart frees them
    assert pooled.call("POST", "/api/oauth/start", body={"datasource": "jira"})[0] == 503
    assert pooled.get("/api/health")[0] == 503
    assert probe_sessions(mariadb) == 2  # the two leaked connections stay open
    refused = sum(1 for status, _ in answers if status == 503) + 1
    errors = logged(pooled, refused, status=503, path="/api/oauth/start")
    assert all(r["error_type"] == "PoolExhausted" and r["level"] == "ERROR" for r in errors)
    unhealthy = logged(pooled, 2, status=503, path="/api/health")
    assert all(r["error_type"] == "PoolExhausted" for r in unhealthy)
    pooled.restart()
    wait_for(lambda: probe_sessions(mariadb) <= 1, "the leaked sessions closed after the restart")
    status, body = pooled.get("/api/health")
    assert status == 200 and body["database"]["pool"]["checked_out"] == 0
    assert pooled.call("POST", "/api/oauth/start", body={"datasource": "jira"})[0] == 201


# -- circuit breakers ----------------------------------------------------------------------

def test_a_failing_datasource_opens_its_circuit_which_half_opens_and_closes(backends, base_env):
    breaker = backends("breaker", dict(base_env, CIRCUIT_FAILURE_THRESHOLD="3", CIRCUIT_RESET_SECONDS="4"))
    write_faults(breaker.state_dir, failing_datasources=["slack"])
    try:
        for _ in range(3):
            assert breaker.tool("slack") == (502, {"detail": "Tool call failed"})
        assert breaker.tool("github")[0] == 200  # one datasource failing is not all of them
        connectors = breaker.get("/api/health")[1]["mcp_connectors"]
        assert connectors["slack"]["circuit"] == "open" and connectors["slack"]["failures"] == 3
        assert abs((parse_iso(connectors["slack"]["opened_at"]) - datetime.now(timezone.utc)).total_seconds()) < 120
        assert connectors["github"] == {"circuit": "closed", "failures": 0, "opened_at": None}
        assert breaker.tool("slack") == (503, {"detail": "circuit open"})
        wait_for(lambda: breaker.get("/api/health")[1]["mcp_connectors"]["slack"]["circuit"] == "half_open",
                 "the slack circuit half open after CIRCUIT_RESET_SECONDS")
        assert breaker.tool("slack")[0] == 502  # the trial fails: open again
        assert breaker.get("/api/health")[1]["mcp_connectors"]["slack"]["circuit"] == "open"
    finally:
        clear_faults(breaker.state_dir)
    wait_for(lambda: breaker.get("/api/health")[1]["mcp_connectors"]["slack"]["circuit"] == "half_open",
             "the slack circuit half open again")
    assert breaker.tool("slack")[0] == 200  # the trial succeeds: closed
    status, body = breaker.get("/api/health")
    assert status == 200 and body["mcp_connectors"]["slack"] == {"circuit": "closed", "failures": 0, "opened_at": None}
    failed = logged(breaker, 4, event="tool_call_failed")
    opened = logged(breaker, 3, event="circuit_open")
    assert len(failed) == 4 and failed[0]["message"] == "MCP tool call failed: slack.search: upstream 502"
    assert all(r["status"] == 502 and r["error_type"] == "ToolCallFailed" and r["level"] == "ERROR" for r in failed)
    assert [r.get("status") for r in opened] == [None, 503, None]  # opened, a call refused, opened again
    assert opened[0]["message"] == "MCP circuit opened for slack after 3 failures"
    assert "MCP" in opened[1]["message"] and opened[1]["error_type"] == "CircuitOpen"


def test_a_forced_circuit_still_shows_and_refuses(backend):
    write_faults(backend.state_dir, circuits={"jira": "open", "github": "half_open"})
    try:
        status, body = backend.get("/api/health")
        assert status == 200 and body["mcp_connectors"]["jira"]["circuit"] == "open"
        assert body["mcp_connectors"]["github"]["circuit"] == "half_open"
        assert backend.tool("jira", headers={"X-Forwarded-For": "192.0.2.40"}) == (503, {"detail": "circuit open"})
        assert backend.tool("github", headers={"X-Forwarded-For": "192.0.2.40"})[0] == 200
    finally:
        clear_faults(backend.state_dir)
    assert backend.get("/api/health")[1]["mcp_connectors"]["jira"]["circuit"] == "closed"


# -- the clock and OAuth states --------------------------------------------------------------

def state_row(mariadb, state):
    with mariadb.admin(database="connectorMCP") as admin, admin.cursor() as cur:
        cur.execute("SELECT datasource, TIMESTAMPDIFF(SECOND, NOW(), expires_at) FROM oauth_states WHERE state = %s",
                    (state,))
        return cur.fetchone()


def test_a_skewed_instance_rejects_fresh_oauth_states(backend, backends, base_env, mariadb):
    skewed = backends("backend-2", dict(base_env, CLOCK_SKEW_SECONDS="900"))
    # its clock is 900 s ahead: /health, /api/health and its log lines say so
    for path, key in (("/health", "timestamp"), ("/api/health", "timestamp")):
        ahead = (parse_iso(skewed.get(path)[1][key]) - parse_iso(backend.get(path)[1][key])).total_seconds()
        assert 840 <= ahead <= 960, (path, ahead)
    ahead = (parse_iso(skewed.get("/api/health")[1]["clock"]["now"]) - datetime.now(timezone.utc)).total_seconds()
    assert 840 <= ahead <= 960
    ahead = (parse_iso(skewed.lines()[-1]["timestamp"]) - parse_iso(backend.lines()[-1]["timestamp"])).total_seconds()
    assert ahead >= 840

    # a state written by the healthy instance expires 10 minutes later, by the database's NOW()
    status, fresh = backend.call("POST", "/api/oauth/start", body={"datasource": "slack"})
    assert status == 201 and fresh["datasource"] == "slack"
    datasource, left = state_row(mariadb, fresh["state"])
    assert datasource == "slack" and 480 <= left <= 600
    # the skewed instance writes its own clock's expiry: 25 minutes from the database's point of view
    status, ahead_state = skewed.call("POST", "/api/oauth/start", body={"datasource": "github"})
    assert status == 201 and 1380 <= state_row(mariadb, ahead_state["state"])[1] <= 1500

    # the runbook's symptom: the skewed instance finds the fresh state expired
    assert skewed.get("/api/oauth/callback?state=" + fresh["state"]) == (400, {"detail": "Invalid state"})
    assert state_row(mariadb, fresh["state"]) is not None
    line = logged(skewed, 1, path="/api/oauth/callback")[0]
    assert (line["message"], line["status"]) == ("Invalid state", 400) and "expired" in line["error"]
    # the healthy instance accepts it once, and the row is gone
    assert backend.get("/api/oauth/callback?state=" + fresh["state"]) == (200, {"datasource": "slack"})
    assert state_row(mariadb, fresh["state"]) is None
    assert backend.get("/api/oauth/callback?state=" + fresh["state"]) == (400, {"detail": "Invalid state"})
    assert backend.get("/api/oauth/callback?state=" + ahead_state["state"]) == (200, {"datasource": "github"})
    # no state, and a state expired by the database's own clock
    assert backend.get("/api/oauth/callback")[0] == 400
    with mariadb.admin(database="connectorMCP") as admin, admin.cursor() as cur:
        cur.execute("INSERT INTO oauth_states (state, datasource, expires_at) VALUES "
                    "('expired-one', 'jira', NOW() - INTERVAL 1 MINUTE)")
    assert backend.get("/api/oauth/callback?state=expired-one") == (400, {"detail": "Invalid state"})
    refused = logged(backend, 3, path="/api/oauth/callback", status=400)
    assert [r["message"] for r in refused] == ["Invalid state"] * 3


# -- the memory leak -----------------------------------------------------------------------

def test_a_memory_leak_grows_rss_past_the_warning(backend, backends, base_env):
    baseline = backend.get("/api/health")[1]["memory"]["rss_mb"]
    warn = int(baseline) + 24
    leaky = backends("leaky", dict(base_env, MEMORY_WARN_MB=str(warn)))
    before = leaky.get("/api/health")[1]["memory"]["rss_mb"]
    assert before < warn, "the backend starts above MEMORY_WARN_MB %d (rss %s MB)" % (warn, before)
    assert not [r for r in leaky.lines() if r.get("event") == "memory_high"]
    write_faults(leaky.state_dir, leak_mb_per_request=2)
    try:
        sent = 0
        while leaky.get("/health")[0] == 200 and sent < 60:
            sent += 1
            rss = leaky.get("/api/health")[1]["memory"]["rss_mb"]
            sent += 1
            if rss > warn:
                break
        assert rss > warn, "rss %s MB after %d leaking requests" % (rss, sent)
        assert rss - before >= 2 * sent * 0.75
    finally:
        clear_faults(leaky.state_dir)
    high = [r for r in leaky.lines() if r.get("event") == "memory_high"]
    assert high and high[0]["level"] == "WARNING" and high[0]["message"].startswith("memory usage high: rss ")
    assert high[0]["rss_mb"] > warn and high[0]["threshold_mb"] == warn and high[0]["instance"] == "leaky"
    assert int(high[0]["message"].split()[-2]) >= warn
    assert leaky.get("/api/health")[1]["memory"]["rss_mb"] >= rss - 1  # kept until a restart


# -- releases ------------------------------------------------------------------------------

def write_release(releases, version, defect):
    path = os.path.join(releases, version)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "release.json"), "w") as handle:
        json.dump({"version": version, "defect": defect}, handle)


def point(releases, link, version):
    tmp = os.path.join(releases, ".%s.tmp" % link)
    os.symlink(version, tmp)
    os.replace(tmp, os.path.join(releases, link))


def test_a_defective_release_fails_the_api_until_rolled_back(backends, base_env, root):
    releases = os.path.join(str(root), "releases")
    write_release(releases, "1.0.0", None)
    write_release(releases, "1.0.1", "null pointer in tools/call")
    point(releases, "previous", "1.0.0")
    point(releases, "current", "1.0.1")
    deployed = backends("deployed", dict(base_env, CONNECTOR_RELEASE_DIR=os.path.join(releases, "current")))
    status, body = deployed.get("/health")
    assert status == 200 and body["version"] == "1.0.1"
    status, body = deployed.get("/api/health")
    assert status == 503 and body["status"] == "unhealthy" and body["version"] == "1.0.1"
    assert "defective" in body["reason"] and body["database"]["status"] == "healthy"
    assert deployed.tool("slack", headers={"X-Forwarded-For": "192.0.2.60"})[0] == 500
    assert deployed.get("/api/me", headers={"Authorization": "Bearer " + API_TOKEN})[0] == 500
    failed = logged(deployed, 2, status=500)
    assert len(failed) == 2 and all(r["error_type"] == "ReleaseDefect" for r in failed)
    assert logged(deployed, 1, path="/api/health", status=503)[0]["error_type"] == "ReleaseDefect"
    point(releases, "current", "1.0.0")  # the rollback, then a restart
    deployed.restart()
    status, body = deployed.get("/api/health")
    assert status == 200 and body["version"] == "1.0.0"
    assert deployed.tool("slack", headers={"X-Forwarded-For": "192.0.2.60"})[0] == 200
