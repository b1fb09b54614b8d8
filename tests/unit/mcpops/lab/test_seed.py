"""mcpops.lab.seed: a valid, deterministic, secret-free data dir."""

import datetime as dt
import hashlib
import ipaddress
import json
import os

import pytest

from mcpops.lab.fixtures.odata_upstream import production_address
from mcpops.lab.gateway.store import StoreMigrationRunner
from mcpops.lab.local.errors import LabError
from mcpops.lab.local.lab import LocalLab
from mcpops.lab.seed import seed_data_dir

NOW = dt.datetime(2026, 11, 23, 12, 0, 0, tzinfo=dt.timezone.utc)


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


def files(data_dir):
    out = {}
    for root, _, names in os.walk(data_dir):
        for name in names:
            out[os.path.relpath(os.path.join(root, name), data_dir)] = read(os.path.join(root, name))
    return out


def test_the_profiles_point_at_the_upstream_address_given(tmp_path):
    seed_data_dir(str(tmp_path / "data"), now=NOW, odata_address="127.0.0.1:18443")
    profiles = json.loads((tmp_path / "data" / "profiles.json").read_text())["profiles"]
    assert profiles and all(p["odataUrl"].startswith("https://127.0.0.1:18443/") for p in profiles)
    assert production_address(tmp_path / "data") == ("127.0.0.1", 18443)  # where the lab upstream will listen


@pytest.mark.parametrize("upstream, words", [("10.0.0.5:8443", "loopback only"), ("127.0.0.1", "expected host:port"),
                                             ("127.0.0.1:70000", "out of range")])
def test_a_lab_upstream_off_loopback_or_malformed_is_refused(tmp_path, upstream, words):
    with pytest.raises(LabError, match="--upstream .*" + words):
        LocalLab(tmp_path / "lab", upstream=upstream)
    assert not (tmp_path / "lab").exists()


def test_seed_is_valid_and_realistic(tmp_path):
    data = tmp_path / "data"
    result = seed_data_dir(str(data), now=NOW)
    assert set(result) == {"ops_token_id", "ops_token_secret", "password_env"}
    loaded = StoreMigrationRunner(str(data)).load()
    assert loaded["meta"] == {"schemaVersion": 3, "appliedMigrations": ["001_init", "002_tokens_org", "003_rate_limits"]}
    assert loaded["audit_count"] == 3000 and loaded["usage_count"] > 1000
    assert {"cursor-ide", "ci-bot", "claude-desktop", "mcpops-oncall"} <= set(loaded["clients"])
    profiles = {p["name"]: p for p in loaded["profiles"]}
    assert profiles["erp-prod"]["environment"] == "production" and profiles["erp-prod"]["writeTools"] is False
    assert profiles["hr-prod"]["environment"] == "production" and profiles["hr-prod"]["writeTools"] is False
    assert profiles["erp-staging"]["environment"] == "staging" and profiles["erp-staging"]["writeTools"] is True
    for p in profiles.values():
        assert p["odataUrl"].startswith("https://127.0.0.1:8443/") and p["odataUrl"].endswith("/odata/standard.odata")
    assert set(result["password_env"]) == {p["passwordEnv"] for p in profiles.values()}
    assert "ONEC_ERP_PROD_PASSWORD" in result["password_env"]

    tokens = loaded["tokens"]
    assert len(tokens) == 51 and len({t["id"] for t in tokens}) == 51 and len({t["prefix"] for t in tokens}) == 51
    assert {t["orgId"] for t in tokens} == {"org_acme", "org_globex", "org_initech", "org_ops"}
    now_s = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sum(1 for t in tokens if t["revokedAt"]) >= 2
    assert sum(1 for t in tokens if not t["revokedAt"] and t["expiresAt"] and t["expiresAt"] <= now_s) >= 2
    assert sum(1 for t in tokens if t["blocked"]) >= 1
    assert len({t["rateLimit"]["requestsPerMinute"] for t in tokens}) >= 3
    ops = [t for t in tokens if t["id"] == result["ops_token_id"]][0]
    assert ops["clientId"] == "mcpops-oncall" and ops["orgId"] == "org_ops" and ops["scopes"] == ["tools:read"]
    assert ops["profile"] == "erp-prod" and ops["rateLimit"] == {"requestsPerMinute": 600}
    assert ops["revokedAt"] is None and not ops["blocked"]
    secret = result["ops_token_secret"]
    assert secret.startswith(ops["prefix"]) and len(secret) == 48
    assert ops["secretHash"] == hashlib.sha256(secret.encode()).hexdigest()

    audit = [json.loads(line) for line in read(data / "audit.jsonl").splitlines()]
    stamps = [a["ts"] for a in audit]
    assert stamps == sorted(stamps)
    assert stamps[0] >= (NOW - dt.timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%S") and stamps[-1] <= now_s
    kinds = {a["event"] for a in audit}
    assert {"tool.called", "auth.ok", "auth.failed", "rate_limit.exceeded", "token.issued"} <= kinds
    nets = [ipaddress.ip_network("203.0.113.0/24"), ipaddress.ip_network("198.51.100.0/24")]
    for a in audit:
        if a["ip"] != "127.0.0.1":
            assert any(ipaddress.ip_address(a["ip"]) in n for n in nets)
    assert [a for a in audit if a["event"] == "tool.called" and a["tool"] == "list_profiles" and a["rows"] == 3]
    usage = [json.loads(line) for line in read(data / "usage.jsonl").splitlines()]
    assert set(usage[0]) == {"ts", "tokenId", "tokenPrefix", "clientId", "orgId", "tool", "status"}
    assert (data / "index").is_dir()

    everything = b"".join(files(str(data)).values())
    assert secret.encode() not in everything
    for value in result["password_env"].values():
        assert value.encode() not in everything


def test_seed_is_deterministic_except_secrets(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    ra = seed_data_dir(str(a), rng_seed=5, now=NOW)
    rb = seed_data_dir(str(b), rng_seed=5, now=NOW)
    fa, fb = files(str(a)), files(str(b))
    assert set(fa) == set(fb)
    for name in fa:
        if name != "tokens.json":
            assert fa[name] == fb[name], name
    strip = lambda blob: [{k: v for k, v in t.items() if k != "secretHash"} for t in json.loads(blob)["tokens"]]
    assert strip(fa["tokens.json"]) == strip(fb["tokens.json"])
    assert ra["ops_token_id"] == rb["ops_token_id"] and ra["ops_token_secret"] != rb["ops_token_secret"]
    c = tmp_path / "c"
    seed_data_dir(str(c), rng_seed=6, now=NOW)
    assert files(str(c))["audit.jsonl"] != fa["audit.jsonl"]


def test_seed_refuses_a_non_empty_dir_unless_forced(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / ".gateway.lock").write_text("")  # dot names are not data
    first = seed_data_dir(str(data), tokens=5, audit_lines=10, now=NOW)
    with pytest.raises(ValueError):
        seed_data_dir(str(data), now=NOW)
    again = seed_data_dir(str(data), tokens=5, audit_lines=10, now=NOW, force=True)
    assert again["ops_token_secret"] != first["ops_token_secret"]
    tokens = json.loads(read(data / "tokens.json"))["tokens"]
    assert len(tokens) == 6
    assert not [n for n in os.listdir(data) if n.startswith(".tmp-")]
