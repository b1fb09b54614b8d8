"""mcpops.lab.local.service_catalog says what profiles/*.yml say (the lab does not read them at run time): each
service's program, checks (path, auth header, conditions), secrets (by secret_var), datastores and port; and each
program gets the environment its service's contract names."""

import types
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from mcpops.lab.local import service_faults
from mcpops.lab.local.service_catalog import (
    COMMON_FAULTS, MYSQL, ONEC_GATEWAY, POSTGRES, REDIS, SERVICE_NAMES, SERVICES, condition_holds, log_paths,
    program_env)

PROFILES = Path(__file__).resolve().parents[5] / "profiles"


def profile(name):
    return yaml.safe_load((PROFILES / f"{name}.yml").read_text())


def test_every_profile_but_the_gateway_is_in_the_catalog():
    names = sorted(p.stem for p in PROFILES.glob("*.yml"))
    assert sorted(SERVICES) == [n for n in names if n != ONEC_GATEWAY]
    assert SERVICE_NAMES[0] == ONEC_GATEWAY


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_the_catalog_says_what_the_profile_says(name):
    spec, prof = SERVICES[name], profile(name)
    assert spec.main_program.name == prof["runtime"]["program"]
    assert [p.name for p in spec.programs if not p.main] == [d for d in prof["runtime"]["depends_on"] if d != "worker"]
    assert spec.default_port == urlsplit(prof["api"]["default_url"]).port
    checks = {c["name"]: c for c in prof["health"]["checks"]}
    for role, check in spec.checks.items():
        theirs = checks[prof["health"][role]]
        assert check.name == theirs["name"]
        assert check.path == theirs["path"]
        assert check.conditions == tuple(theirs["conditions"])
        if theirs["auth"] == "none":
            assert check.auth is None
        else:
            auth = prof["auth"][theirs["auth"]]
            secret = spec.secret(check.auth)
            assert (secret.header, secret.var) == (auth["header"], auth["secret_var"])
    stores = prof["datastores"] or {}
    assert sorted(d.kind for d in spec.datastores) == sorted(stores)
    for store in spec.datastores:
        theirs = stores[store.kind]
        assert {POSTGRES: "postgresql", MYSQL: "mysql", REDIS: "redis"}[store.kind] == theirs["kind"]
        if store.kind != REDIS:
            assert (store.database, store.user) == (theirs["database"], theirs["user"])
            assert spec.secret(store.secret).var == theirs["secret_var"]
    wanted_vars = {a["secret_var"] for a in (prof["auth"] or {}).values()}
    wanted_vars |= {d["secret_var"] for d in stores.values() if d.get("secret_var")}
    assert {s.var for s in spec.secrets} == wanted_vars


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_the_common_faults_and_one_for_each_dependency(name):
    spec = SERVICES[name]
    assert spec.faults[:len(COMMON_FAULTS)] == COMMON_FAULTS
    assert set(spec.faults) <= set(service_faults.FAULTS)
    kinds = {d.kind for d in spec.datastores}
    assert ("db-down" in spec.faults) == bool(kinds & {POSTGRES, MYSQL})
    assert ("redis-down" in spec.faults) == (REDIS in kinds)
    assert ("datastores-up" in spec.faults) == bool(kinds)
    assert ("bridge-down" in spec.faults) == (name == "cctelegram-mcp")
    assert ("maintenance" in spec.faults) == (name == "loyalty-api")
    assert ("bad-deploy" in spec.faults) == (name == "connector-mcp")
    if name == "connector-mcp":  # docs/dev/connector-contract.md, "Lab faults"
        assert {"mysql-down", "mysql-max-connections", "pool-exhausted", "datasource-failing", "rate-limit-storm",
                "oauth-states-expired", "clock-skew", "memory-leak", "bad-deploy"} <= set(spec.faults)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_one_instance_unless_the_service_says_more(name):
    spec = SERVICES[name]
    if name == "connector-mcp":
        assert spec.instances == 2 and spec.main_instance.name == "connectormcp-backend-1"
        assert spec.main_program.name == "connectormcp-backend"  # the profile's, the instances' base name
    else:
        assert spec.instances == 1 and spec.supervised == spec.programs and spec.main_instance == spec.main_program


def _ctx(spec, tmp_path):
    return types.SimpleNamespace(
        listen={p.name: f"127.0.0.1:{4000 + i}" for i, p in enumerate(spec.supervised)},
        state_dirs={p.name: tmp_path / "services" / p.name for p in spec.supervised},
        secret_files={s.name: tmp_path / "secrets" / s.name for s in spec.secrets},
        urls={POSTGRES: "postgresql://u:pw@127.0.0.1:5/db", MYSQL: "mysql://u:pw@127.0.0.1:6/db",
              REDIS: "redis://127.0.0.1:7/0"},
        logs_dir=tmp_path / "logs",
        metrics_listen="127.0.0.1:4999",
        connector_paths={"CONNECTOR_RELEASE_DIR": str(tmp_path / "releases" / "current"),
                         "CONNECTOR_CONFIG": str(tmp_path / "config" / "connector.json"),
                         "API_TOKEN_FILE": str(tmp_path / "secrets" / "api_token")},
    )


WANTED_ENV = {
    "cctelegram-mcp": {"CCTELEGRAM_API_KEY_FILE", "CCTELEGRAM_BRIDGE_URL", "CCTELEGRAM_METRICS_LISTEN",
                       "CCTELEGRAM_LOG_DIR"},
    "cctelegram-bridge": set(),
    "lego-mcp": {"DATABASE_URL"},
    "loyalty-api": {"DATABASE_URL", "REDIS_URL", "METRICS_TOKEN_FILE", "MAINTENANCE_MODE", "READ_ONLY_MODE"},
    # docs/dev/connector-contract.md: what the lab sets for each backend instance
    "connector-mcp": {"DATABASE_URL", "REDIS_URL", "CONNECTOR_LOG", "INSTANCE_NAME", "TRUSTED_PROXIES", "DB_POOL_SIZE",
                      "DB_POOL_TIMEOUT", "CIRCUIT_FAILURE_THRESHOLD", "CIRCUIT_RESET_SECONDS", "MEMORY_WARN_MB",
                      "RATE_LIMIT_BACKEND", "RATE_LIMIT_PER_MINUTE", "CONNECTOR_RELEASE_DIR", "CONNECTOR_CONFIG",
                      "API_TOKEN_FILE"},
}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_program_gets_its_contract_environment(name, tmp_path):
    spec = SERVICES[name]
    ctx = _ctx(spec, tmp_path)
    for program in spec.supervised:
        env = program_env(spec, program, ctx)
        assert env["MCPOPS_SERVICE_LISTEN"] == ctx.listen[program.name]
        assert env["MCPOPS_SERVICE_STATE_DIR"] == str(ctx.state_dirs[program.name])
        common = {"MCPOPS_SERVICE_LISTEN", "MCPOPS_SERVICE_STATE_DIR", "PYTHONUNBUFFERED"}
        assert set(env) - common == WANTED_ENV[program.service]
    env = program_env(spec, spec.main_instance, ctx)
    if name == "cctelegram-mcp":
        assert env["CCTELEGRAM_BRIDGE_URL"] == "http://" + ctx.listen["cctelegram-bridge"]
        assert env["CCTELEGRAM_LOG_DIR"] == str(Path(log_paths(spec, ctx.logs_dir)["path"]).parent)
    if name == "connector-mcp":
        assert env["DATABASE_URL"].startswith("mysql://")
        assert env["CONNECTOR_LOG"] == log_paths(spec, ctx.logs_dir)["path"]
        # two instances, each its own port, state dir, log file and name; the lab's nginx is their trusted proxy
        instances = spec.instance_programs
        assert [p.name for p in instances] == ["connectormcp-backend-1", "connectormcp-backend-2"]
        envs = [program_env(spec, p, ctx) for p in instances]
        assert [e["INSTANCE_NAME"] for e in envs] == ["backend-1", "backend-2"]
        assert envs[1]["CONNECTOR_LOG"].endswith("/connectormcp/backend-2/app.log")
        assert len({e["MCPOPS_SERVICE_LISTEN"] for e in envs}) == len({e["MCPOPS_SERVICE_STATE_DIR"] for e in envs}) == 2
        assert env["TRUSTED_PROXIES"] == "127.0.0.1" and env["RATE_LIMIT_PER_MINUTE"] == "60"
        assert env["CONNECTOR_RELEASE_DIR"].endswith("/releases/current")
    if name in ("lego-mcp", "loyalty-api"):
        assert env["DATABASE_URL"].startswith("postgresql://")


def test_the_simple_conditions():
    assert condition_holds("status == healthy", {"status": "healthy"})
    assert not condition_holds("status == healthy", {"status": "unhealthy"})
    assert not condition_holds("status == healthy", None)
    assert condition_holds("bridge.running == true", {"bridge": {"running": True}})
    assert not condition_holds("bridge.running == true", {"bridge": {"running": "true"}})
    assert condition_holds("data exists", {"data": []}) and not condition_holds("data exists", {"count": 0})
    with pytest.raises(ValueError, match="`exists` and `==` only"):
        condition_holds("count > 1", {"count": 2})
    check = SERVICES["connector-mcp"].deep
    ok = {"status": "healthy", "database": {"status": "healthy"}, "redis": {"status": "healthy"}}
    assert check.passes(200, ok)
    assert not check.passes(503, ok)
    assert not check.passes(200, dict(ok, redis={"status": "unhealthy"}))
