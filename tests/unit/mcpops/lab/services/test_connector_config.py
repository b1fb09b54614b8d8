"""connector_mcp's environment beyond today's (load_config), the faults.json keys it reads, and its request pipeline
without a listener or a datastore (RATE_LIMIT_BACKEND=memory): client ip, the Bearer API, the log line fields, the
skewed timestamps, a defective release, the rate limit."""

import json
import os
from datetime import datetime, timezone

import pytest

from mcpops.lab.services import connector_mcp
from mcpops.lab.services.config import ConfigError
from mcpops.lab.services.http_app import Request

CANARY = "canary-conn-Z81"


@pytest.fixture
def env(tmp_path):
    return {"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0", "MCPOPS_SERVICE_STATE_DIR": str(tmp_path / "state"),
            "DATABASE_URL": "mysql://connectormcp:%s-db@127.0.0.1:9/connectorMCP" % CANARY,
            "REDIS_URL": "redis://:%s-redis@127.0.0.1:9/0" % CANARY}


def secret(tmp_path, name, value):
    path = str(tmp_path / name)
    with open(path, "w") as handle:
        handle.write(value + "\n")
    os.chmod(path, 0o600)
    return path


def test_defaults(env):
    config = connector_mcp.load_config(env)
    assert (config.trusted_proxies, config.db_pool_size, config.db_pool_timeout, config.circuit_failure_threshold,
            config.circuit_reset_seconds, config.clock_skew_seconds, config.memory_warn_mb, config.api_token) == (
        (), 5, 2.0, 5, 60.0, 0.0, 256, "")
    assert config.instance and config.release.version == "1.0.0" and not config.release.defective
    assert CANARY not in repr(config)


def test_every_variable(env, tmp_path):
    release = tmp_path / "releases" / "1.0.1"
    release.mkdir(parents=True)
    (release / "release.json").write_text(json.dumps({"version": "1.0.1", "defect": "boom"}))
    cfg = tmp_path / "connector.json"
    cfg.write_text(json.dumps({"rate_limit_per_minute": 7, "other": True}))
    env.update(TRUSTED_PROXIES="127.0.0.1", INSTANCE_NAME="backend-2", DB_POOL_SIZE="3", DB_POOL_TIMEOUT="0.5",
               CIRCUIT_FAILURE_THRESHOLD="2", CIRCUIT_RESET_SECONDS="1.5", CLOCK_SKEW_SECONDS="-900",
               MEMORY_WARN_MB="64", CONNECTOR_RELEASE_DIR=str(release), RATE_LIMIT_PER_MINUTE="500",
               CONNECTOR_CONFIG=str(cfg), API_TOKEN_FILE=secret(tmp_path, "token", CANARY + "-token"))
    config = connector_mcp.load_config(env)
    assert (config.instance, config.db_pool_size, config.db_pool_timeout, config.circuit_failure_threshold,
            config.circuit_reset_seconds, config.clock_skew_seconds, config.memory_warn_mb) == (
        "backend-2", 3, 0.5, 2, 1.5, -900.0, 64)
    assert config.rate_limit_per_minute == 7  # CONNECTOR_CONFIG wins over the env
    assert config.release.version == "1.0.1" and config.release.defect == "boom"
    assert config.api_token == CANARY + "-token" and CANARY not in repr(config)
    cfg.write_text("{}")
    assert connector_mcp.load_config(env).rate_limit_per_minute == 500  # the file says nothing: the env


@pytest.mark.parametrize("var, value, word", [
    ("TRUSTED_PROXIES", "127.0.0.1,lb", "TRUSTED_PROXIES: 'lb' is not an IP"),
    ("DB_POOL_SIZE", "0", "DB_POOL_SIZE must be at least 1"),
    ("DB_POOL_TIMEOUT", "soon", "DB_POOL_TIMEOUT must be a number of seconds"),
    ("CIRCUIT_RESET_SECONDS", "0", "CIRCUIT_RESET_SECONDS must be at least"),
    ("CLOCK_SKEW_SECONDS", "nan", "CLOCK_SKEW_SECONDS must be a finite number"),
    ("MEMORY_WARN_MB", "lots", "MEMORY_WARN_MB must be an integer"),
    ("CONNECTOR_RELEASE_DIR", "/nonexistent/releases/current", "CONNECTOR_RELEASE_DIR: cannot read"),
    ("CONNECTOR_CONFIG", "/nonexistent/connector.json", "cannot read CONNECTOR_CONFIG"),
    ("API_TOKEN_FILE", "/nonexistent/token", "cannot read API_TOKEN_FILE"),
    ("REDIS_URL", "redis://:pw@h/x", "REDIS_URL: the redis:// URL's path must be a database number"),
])
def test_bad_variables_name_themselves(env, var, value, word):
    env[var] = value
    with pytest.raises(ConfigError, match=word) as caught:
        connector_mcp.load_config(env)
    assert CANARY not in str(caught.value)


def test_bad_connector_config_files(env, tmp_path):
    cfg = tmp_path / "c.json"
    env["CONNECTOR_CONFIG"] = str(cfg)
    for text, word in (("[1]", "must hold a JSON object"), ("{", "not valid JSON"),
                       ('{"rate_limit_per_minute": 0}', "integer >= 1"),
                       ('{"rate_limit_per_minute": true}', "integer >= 1")):
        cfg.write_text(text)
        with pytest.raises(ConfigError, match=word):
            connector_mcp.load_config(env)


def test_fault_keys():
    assert connector_mcp.failing_datasources({"failing_datasources": ["slack", "nope", 3]}) == {"slack"}
    assert connector_mcp.failing_datasources({"failing_datasources": "slack"}) == set()
    assert connector_mcp.leak_mb({"leak_mb_per_request": 2}) == 2
    assert [connector_mcp.leak_mb({"leak_mb_per_request": v}) for v in (0, -1, True, "2", 10_000)] == [0] * 5
    assert connector_mcp.pool_leak({"pool_leak": True}) and not connector_mcp.pool_leak({"pool_leak": "yes"})
    assert connector_mcp.forced_circuit({"circuits": {"slack": "open", "jira": "exploded"}}, "slack") == "open"
    assert connector_mcp.forced_circuit({"circuits": {"jira": "exploded"}}, "jira") is None


def build(env, tmp_path, **extra):
    env.update(RATE_LIMIT_BACKEND="memory", CONNECTOR_LOG=str(tmp_path / "app.log"), INSTANCE_NAME="unit-1",
               TRUSTED_PROXIES="127.0.0.1", API_TOKEN_FILE=secret(tmp_path, "token", CANARY + "-token"), **extra)
    return connector_mcp.Connector(connector_mcp.load_config(env))


def lines(tmp_path):
    with open(str(tmp_path / "app.log")) as handle:
        return [json.loads(line) for line in handle]


def serve(app, method, path, headers=None, peer="127.0.0.1"):
    req = Request(method, path, headers or {}, b"", client_ip=peer)
    resp = app.dispatch(req)
    app.record(req, resp, 0.001)
    return resp


def test_the_bearer_api_and_its_log_lines(env, tmp_path):
    app = build(env, tmp_path)
    assert serve(app, "GET", "/api/me", {"X-Forwarded-For": "198.51.100.4"}).status == 401
    assert serve(app, "GET", "/api/me", {"Authorization": "Bearer nope"}, peer="127.0.0.5").status == 401
    ok = serve(app, "GET", "/api/me", {"Authorization": "Bearer %s-token" % CANARY})
    assert ok.status == 200 and CANARY not in ok.payload().decode()
    first, second, third = lines(tmp_path)
    assert (first["event"], first["client_ip"], first["instance"], first["logger"]) == (
        "auth_failure", "198.51.100.4", "unit-1", "connectormcp")
    assert (second["event"], second["client_ip"]) == ("invalid_token", "127.0.0.5")
    assert "event" not in third and {"timestamp", "level", "message", "method", "path", "status", "duration_ms"} <= set(third)
    assert CANARY not in (tmp_path / "app.log").read_text()
    app.close()


def test_the_memory_rate_limit_and_a_skewed_timestamp(env, tmp_path):
    app = build(env, tmp_path, RATE_LIMIT_PER_MINUTE="2", CLOCK_SKEW_SECONDS="3600")
    codes = [serve(app, "GET", "/api/me", {"X-Real-IP": "203.0.113.5"}).status for _ in range(3)]
    assert codes == [401, 401, 429]
    assert serve(app, "GET", "/health").status == 200  # not under /api/: never limited
    limited = lines(tmp_path)[2]
    assert (limited["message"], limited["event"], limited["client_ip"]) == (
        "rate_limit_exceeded", "rate_limit_exceeded", "203.0.113.5")
    health = json.loads(serve(app, "GET", "/health").payload())
    for stamp in (limited["timestamp"], health["timestamp"]):  # an hour ahead of the host's clock
        ahead = (datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
                 - datetime.now(timezone.utc)).total_seconds()
        assert 3500 <= ahead <= 3700, stamp
    app.close()


def test_a_defective_release_fails_the_api_but_not_health(env, tmp_path):
    release = tmp_path / "rel"
    release.mkdir()
    (release / "release.json").write_text(json.dumps({"version": "9.9.9", "defect": "bad build"}))
    app = build(env, tmp_path, CONNECTOR_RELEASE_DIR=str(release))
    assert app.version == "9.9.9"
    resp = serve(app, "POST", "/api/tools/call")
    assert resp.status == 500 and lines(tmp_path)[-1]["error_type"] == "ReleaseDefect"
    health = serve(app, "GET", "/health")
    assert health.status == 200 and json.loads(health.payload())["version"] == "9.9.9"
    app.close()
