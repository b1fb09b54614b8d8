"""Configuration from the environment: the common variables, each service's own, and errors that name the variable
without echoing a secret."""

import os

import pytest

from mcpops.lab.services import SERVICES, cctelegram_bridge, cctelegram_mcp, connector_mcp, lego_mcp, loyalty_api
from mcpops.lab.services.__main__ import main as services_main
from mcpops.lab.services.config import (ConfigError, check_url, common, parse_flag, parse_int, parse_listen,
                                        read_secret_file, url_password)

CANARY = "canary-pw-Q7v2"


def test_parse_listen():
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen("[::1]:9090") == ("::1", 9090)
    for bad in ("8080", ":8080", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:70000", ""):
        with pytest.raises(ConfigError, match="MCPOPS_SERVICE_LISTEN"):
            parse_listen(bad)


def test_parse_flag():
    assert parse_flag({}, "M") is False
    assert parse_flag({}, "M", default=True) is True
    for on in ("1", "true", "YES", " on "):
        assert parse_flag({"M": on}, "M") is True
    for off in ("0", "false", "no", "off", ""):
        assert parse_flag({"M": off}, "M") is False
    with pytest.raises(ConfigError, match="M must be 1 or 0"):
        parse_flag({"M": "maybe"}, "M")


def test_parse_int():
    assert parse_int({}, "N", 600) == 600
    assert parse_int({"N": " 5 "}, "N", 600, minimum=1) == 5
    with pytest.raises(ConfigError, match="N must be an integer"):
        parse_int({"N": "five"}, "N", 600)
    with pytest.raises(ConfigError, match="N must be at least 1"):
        parse_int({"N": "0"}, "N", 600, minimum=1)


def test_read_secret_file(tmp_path):
    path = tmp_path / "key"
    path.write_text(CANARY + "\n")
    assert read_secret_file({"K": str(path)}, "K") == CANARY
    with pytest.raises(ConfigError, match="K is not set"):
        read_secret_file({}, "K")
    with pytest.raises(ConfigError, match="cannot read K"):
        read_secret_file({"K": str(tmp_path / "missing")}, "K")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        read_secret_file({"K": str(tmp_path / "empty")}, "K")
    (tmp_path / "two").write_text(CANARY + " other\n")
    with pytest.raises(ConfigError, match="more than one word") as info:
        read_secret_file({"K": str(tmp_path / "two")}, "K")
    assert CANARY not in str(info.value)


def test_check_url_never_echoes_the_url():
    url = "mysql://app:%s@127.0.0.1:3306/db" % CANARY
    with pytest.raises(ConfigError) as info:
        check_url({"DATABASE_URL": url}, "DATABASE_URL", ("postgresql", "postgres"))
    assert "DATABASE_URL must be a postgresql URL" in str(info.value) and CANARY not in str(info.value)
    with pytest.raises(ConfigError) as info:
        check_url({"DATABASE_URL": "postgresql://a:%s@h:99999/db" % CANARY}, "DATABASE_URL", ("postgresql",))
    assert CANARY not in str(info.value)
    with pytest.raises(ConfigError, match="names no database"):
        check_url({"DATABASE_URL": "postgresql://a:b@h:5432/"}, "DATABASE_URL", ("postgresql",), need_path=True)
    assert url_password(url) == CANARY and url_password("redis://h:1/0") is None


def test_common_creates_the_state_dir(tmp_path):
    state = tmp_path / "state" / "deep"
    base = common({"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0", "MCPOPS_SERVICE_STATE_DIR": str(state)})
    assert (base.host, base.port, base.state_dir) == ("127.0.0.1", 0, str(state))
    assert state.is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="MCPOPS_SERVICE_STATE_DIR"):
        common({"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0", "MCPOPS_SERVICE_STATE_DIR": str(tmp_path / "file")})
    with pytest.raises(ConfigError, match="MCPOPS_SERVICE_STATE_DIR is not set"):
        common({"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0"})


@pytest.fixture
def env(tmp_path):
    (tmp_path / "key").write_text(CANARY + "-key\n")
    (tmp_path / "token").write_text(CANARY + "-token\n")
    return {
        "MCPOPS_SERVICE_LISTEN": "127.0.0.1:0", "MCPOPS_SERVICE_STATE_DIR": str(tmp_path / "state"),
        "CCTELEGRAM_API_KEY_FILE": str(tmp_path / "key"), "CCTELEGRAM_BRIDGE_URL": "http://127.0.0.1:8081/",
        "DATABASE_URL": "postgresql://app:%s@127.0.0.1:5432/app" % CANARY,
        "REDIS_URL": "redis://127.0.0.1:6379/0", "METRICS_TOKEN_FILE": str(tmp_path / "token"),
        "tmp": str(tmp_path),
    }


def test_cctelegram_config(env):
    config = cctelegram_mcp.load_config(env)
    assert config.api_key == CANARY + "-key"
    assert config.bridge_url == "http://127.0.0.1:8081"
    assert config.metrics_listen == () and config.rate_limit == 600
    assert config.log_dir == config.state_dir
    assert CANARY not in repr(config)
    env.update(CCTELEGRAM_METRICS_LISTEN="127.0.0.1:9090", CCTELEGRAM_LOG_DIR=os.path.join(env["tmp"], "logs"),
               CCTELEGRAM_RATE_LIMIT="30")
    config = cctelegram_mcp.load_config(env)
    assert config.metrics_listen == ("127.0.0.1", 9090) and config.rate_limit == 30
    assert os.path.isdir(config.log_dir)


@pytest.mark.parametrize("var, value, word", [
    ("CCTELEGRAM_API_KEY_FILE", None, "CCTELEGRAM_API_KEY_FILE is not set"),
    ("CCTELEGRAM_BRIDGE_URL", None, "CCTELEGRAM_BRIDGE_URL is not set"),
    ("CCTELEGRAM_BRIDGE_URL", "127.0.0.1:8081", "CCTELEGRAM_BRIDGE_URL must be a http URL"),
    ("CCTELEGRAM_BRIDGE_URL", "http://u:%s@127.0.0.1:1" % CANARY, "must not carry credentials"),
    ("CCTELEGRAM_METRICS_LISTEN", "9090", "CCTELEGRAM_METRICS_LISTEN must be host:port"),
    ("CCTELEGRAM_RATE_LIMIT", "0", "CCTELEGRAM_RATE_LIMIT must be at least 1"),
])
def test_cctelegram_bad_config(env, var, value, word):
    if value is None:
        env.pop(var)
    else:
        env[var] = value
    with pytest.raises(ConfigError, match=word) as info:
        cctelegram_mcp.load_config(env)
    assert CANARY not in str(info.value)


def test_bridge_config(env):
    config = cctelegram_bridge.load_config(env)
    assert config.port == 0


def test_lego_config(env):
    config = lego_mcp.load_config(env)
    assert config.database_url.startswith("postgresql://") and CANARY not in repr(config)
    env["DATABASE_URL"] = "mysql://app:%s@127.0.0.1/app" % CANARY
    with pytest.raises(ConfigError) as info:
        lego_mcp.load_config(env)
    assert "DATABASE_URL" in str(info.value) and CANARY not in str(info.value)


def test_loyalty_config(env):
    config = loyalty_api.load_config(env)
    assert (config.maintenance, config.read_only, config.slow_threshold_ms) == (False, False, 1000)
    assert config.metrics_token == CANARY + "-token" and CANARY not in repr(config)
    env.update(MAINTENANCE_MODE="1", READ_ONLY_MODE="1", ALERT_HTTP_SLOW_THRESHOLD_MS="250")
    config = loyalty_api.load_config(env)
    assert (config.maintenance, config.read_only, config.slow_threshold_ms) == (True, True, 250)


@pytest.mark.parametrize("var, value, word", [
    ("REDIS_URL", None, "REDIS_URL is not set"),
    ("REDIS_URL", "redis://h/x", "REDIS_URL: the redis:// URL's path must be a database number"),
    ("METRICS_TOKEN_FILE", None, "METRICS_TOKEN_FILE is not set"),
    ("MAINTENANCE_MODE", "sometimes", "MAINTENANCE_MODE must be 1 or 0"),
    ("DATABASE_URL", "postgresql://a:b@127.0.0.1:5432", "DATABASE_URL names no database"),
])
def test_loyalty_bad_config(env, var, value, word):
    if value is None:
        env.pop(var)
    else:
        env[var] = value
    with pytest.raises(ConfigError, match=word):
        loyalty_api.load_config(env)


def test_connector_config(env):
    env["DATABASE_URL"] = "mysql://connectormcp:%s@127.0.0.1:3306/connectorMCP" % CANARY
    config = connector_mcp.load_config(env)
    assert (config.environment, config.rate_limit_backend, config.rate_limit_per_minute, config.log_path) == (
        "lab", "redis", 120, "")
    assert CANARY not in repr(config)
    env["CONNECTOR_LOG"] = env["tmp"]
    with pytest.raises(ConfigError, match="CONNECTOR_LOG .* is a directory"):
        connector_mcp.load_config(env)
    env["CONNECTOR_LOG"] = os.path.join(env["tmp"], "connectormcp", "app.log")
    assert connector_mcp.load_config(env).log_path == env["CONNECTOR_LOG"]
    assert os.path.isdir(os.path.dirname(env["CONNECTOR_LOG"]))
    env.update(RATE_LIMIT_BACKEND="carrier-pigeon")
    with pytest.raises(ConfigError, match="RATE_LIMIT_BACKEND must be redis or memory"):
        connector_mcp.load_config(env)
    env.update(RATE_LIMIT_BACKEND="memory", DATABASE_URL="postgresql://a:b@h:1/db")
    with pytest.raises(ConfigError, match="DATABASE_URL must be a mysql URL"):
        connector_mcp.load_config(env)


def test_every_service_has_a_main():
    import importlib

    for module in SERVICES.values():
        assert callable(importlib.import_module("mcpops.lab.services." + module).main)


def test_an_unknown_service_exits_2(capsys):
    assert services_main(["nope"]) == 2
    assert "unknown service 'nope'" in capsys.readouterr().err
    assert services_main(["--version"]) == 0


def test_a_missing_variable_exits_2_with_one_line(capsys):
    assert lego_mcp.main({"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0"}) == 2
    err = capsys.readouterr().err
    assert err == "lego-mcp: MCPOPS_SERVICE_STATE_DIR is not set\n"
