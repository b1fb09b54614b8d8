"""The reference gateway's /mcp against the official MCP Python SDK client (streamable HTTP transport).

The SDK (mcp 2.x) probes `server/discover` first and falls back to the `initialize` handshake; the
gateway answers the probe with METHOD_NOT_FOUND, so this also checks that a modern client negotiates
down to the handshake era with it."""

import json
import os

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from gateway_process import gateway_factory  # noqa: F401 (fixture)
from mcpops.lab.seed import seed_data_dir

WRITE_PREFIXES = ("write_", "create_", "update_", "delete_")
READ_TOOLS = {"list_profiles", "get_active_profile", "check_profile_health", "check_connection_health"}


@pytest.fixture
def running(tmp_path, gateway_factory):
    data = tmp_path / "data"
    seeded = seed_data_dir(str(data), rng_seed=3)
    env_file = tmp_path / "gateway.env"
    env_file.write_text("".join("%s=%s\n" % kv for kv in seeded["password_env"].items()))
    gw = gateway_factory(str(data), secrets=[seeded["ops_token_secret"]] + list(seeded["password_env"].values()),
                         ONEC_MCP_ENV_FILE=str(env_file))
    return gw, seeded


def sdk_session(gw, secret, mode="auto"):
    http = create_mcp_http_client(headers={"Authorization": "Bearer " + secret},
                                  timeout=httpx2.Timeout(20.0, read=20.0))
    transport = streamable_http_client("http://127.0.0.1:%d/mcp" % gw.port, http_client=http)
    return http, Client(transport, mode=mode, read_timeout_seconds=20)


async def _run_ops(gw, secret, mode):
    http, client = sdk_session(gw, secret, mode)
    async with http:
        async with client:
            assert client.server_info.name == "onec-mcp-gateway"
            assert client.server_capabilities.tools is not None
            tools = await client.list_tools()
            names = {t.name for t in tools.tools}
            assert names == READ_TOOLS
            assert not [n for n in names if n.startswith(WRITE_PREFIXES)]

            result = await client.call_tool("list_profiles", {})
            assert result.is_error is False
            profiles = result.structured_content["profiles"]
            assert [p["name"] for p in profiles] == ["erp-prod", "hr-prod", "erp-staging"]
            assert json.loads(result.content[0].text) == result.structured_content

            active = await client.call_tool("get_active_profile", {})
            assert active.structured_content["profile"]["name"] == "erp-prod"

            health = {}
            for p in profiles:
                if p["environment"] == "production":
                    res = await client.call_tool("check_profile_health", {"profile": p["name"]})
                    health[p["name"]] = res.structured_content
            assert set(health) == {"erp-prod", "hr-prod"}
            assert all(h["healthy"] is True for h in health.values()), health
            pw = [c for c in health["erp-prod"]["checks"] if c["name"] == "password_env"][0]
            assert pw == {"name": "password_env", "ok": True, "env": "ONEC_ERP_PROD_PASSWORD", "present": True}

            missing = await client.call_tool("check_profile_health", {"profile": "no-such"})
            assert missing.is_error is True
            return client.protocol_version


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_sdk_ops_token_sees_no_write_tools(running, mode):
    gw, seeded = running
    version = anyio.run(_run_ops, gw, seeded["ops_token_secret"], mode)
    assert version  # the negotiated handshake-era version, echoed by the gateway
    audit = [json.loads(line) for line in open(os.path.join(gw.data_dir, "audit.jsonl"))]
    called = [e for e in audit if e["event"] == "tool.called" and e.get("tokenId") == seeded["ops_token_id"]]
    assert [e["tool"] for e in called] == ["list_profiles", "get_active_profile", "check_profile_health",
                                           "check_profile_health", "check_profile_health"]
    assert called[0]["rows"] == 3
    inits = [e for e in audit if e["event"] == "auth.ok" and e.get("tokenId") == seeded["ops_token_id"]]
    assert len(inits) == 1


async def _run_staging(gw, secret):
    http, client = sdk_session(gw, secret)
    async with http:
        async with client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"create_document", "update_document"} <= names and READ_TOOLS <= names
            res = await client.call_tool("create_document", {"entity": "Document_Заказ", "fields": {"n": 1}})
            assert res.is_error is False and res.structured_content["profile"] == "erp-staging"
            active = await client.call_tool("get_active_profile", {})
            assert active.structured_content["profile"]["environment"] == "staging"


def test_sdk_staging_token_sees_write_tools(running):
    gw, _ = running
    r = gw.request("POST", "/api/mcp-tokens", {"clientId": "ci-bot", "orgId": "org_acme", "profile": "erp-staging",
                                               "scopes": ["tools:read", "tools:write"]})
    assert r.status == 201
    anyio.run(_run_staging, gw, r.json["secret"])


async def _expect_auth_failure(gw, secret):
    http, client = sdk_session(gw, secret, mode="legacy")
    async with http:
        with pytest.raises(Exception):
            async with client:
                pass


def test_sdk_with_a_revoked_token_cannot_connect(running):
    gw, seeded = running
    r = gw.request("POST", "/api/mcp-tokens/%s/revoke" % seeded["ops_token_id"])
    assert r.status == 200
    anyio.run(_expect_auth_failure, gw, seeded["ops_token_secret"])
    audit = [json.loads(line) for line in open(os.path.join(gw.data_dir, "audit.jsonl"))]
    assert audit[-1]["event"] == "auth.failed" and audit[-1]["reason"] == "revoked"
