"""The reference gateway's GET /metrics (docs/dev/contract-gateway-metrics.md) on a real gateway process: what the
alert rules count (auth failures, 429s, responses, readiness, backups) moves with real requests, and no token
or secret appears in it."""

import re

import pytest

from gateway_process import gateway_factory  # noqa: F401 (fixture)
from mcpops.lab.seed import seed_data_dir

ADMIN = "adm-metrics-" + "Qw3Er4Ty5U" * 3
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


def samples(text):
    """{'name{labels}': value} of a Prometheus text body."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


@pytest.fixture
def gw(tmp_path, gateway_factory):  # noqa: F811 (the fixture imported above)
    seeded = seed_data_dir(str(tmp_path / "data"), rng_seed=7)
    gateway = gateway_factory(str(tmp_path / "data"), admin_token=ADMIN, secrets=[seeded["ops_token_secret"]])
    return gateway, seeded


def test_metrics_count_auth_failures_429s_and_backups_without_secrets(gw):
    gateway, seeded = gw
    first = gateway.request("GET", "/metrics", token=None)
    assert first.status == 200 and first.header("Content-Type").startswith("text/plain; version=0.0.4")
    before = samples(first.raw.decode())
    assert before['onec_gateway_ready{check="storage"}'] == 1 and before['onec_gateway_ready{check="index"}'] == 1
    assert before["onec_gateway_mcp_rate_limited_total"] == 0
    assert "onec_gateway_last_backup_timestamp_seconds" not in before

    assert gateway.mcp("mcp_dead" + "x" * 40, INIT).status == 401
    assert gateway.mcp(None, INIT).status == 401
    created = gateway.request("POST", "/api/mcp-tokens", body={"clientId": "mcpops-oncall", "orgId": "org_ops",
                                                              "scopes": ["tools:read"],
                                                              "rateLimit": {"requestsPerMinute": 1}})
    assert created.status == 201, created.json
    secret = created.json["secret"]
    assert gateway.mcp(secret, INIT).status == 200
    assert gateway.mcp(secret, INIT).status == 429
    assert gateway.request("POST", "/api/system/backups").status == 201

    text = gateway.request("GET", "/metrics", token=None).raw.decode()
    after = samples(text)
    assert after['onec_gateway_mcp_auth_failures_total{reason="unknown_token"}'] == 1
    assert after['onec_gateway_mcp_auth_failures_total{reason="missing_token"}'] == 1
    assert after["onec_gateway_mcp_rate_limited_total"] == 1
    assert after['onec_gateway_http_responses_total{code="429"}'] == 1
    assert after['onec_gateway_http_responses_total{code="401"}'] == 2
    assert after["onec_gateway_backups"] == before["onec_gateway_backups"] + 1
    assert after["onec_gateway_last_backup_timestamp_seconds"] > 1.7e9
    for secret_text in (secret, secret[:8], ADMIN, seeded["ops_token_secret"]):
        assert secret_text not in text
    assert not re.search(r"mcp_[0-9a-f]{4}", text)  # no token prefix either
