"""gateway_health's checks called directly (no AnsibleModule): the retry loop, storage-meta, MCP, redaction."""

import json

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils.gateway_health_check import (
    GatewayUnhealthyError,
    check_once,
    check_storage_meta,
    check_until_healthy,
    redact,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils.mcp_recovery_checks import (
    check_mcp,
    profile_is_healthy,
    profiles_from,
    write_tools,
)

API_CANARY = "CANARYadminTOKEN0004"
MCP_CANARY = "mcp_beefCANARYmcpTOKEN000000000000000000000004"
JSON = {"Content-Type": "application/json"}


def params(**overrides):
    """The module's options with their argument_spec defaults."""
    base = dict(api_url="http://127.0.0.1:9", api_token=None, mcp_url=None, mcp_token=None, critical_profiles=None,
                max_schema_version=3, retries=10, delay=2, fail_when_unhealthy=True, validate_certs=True, timeout=10)
    base.update(overrides)
    return base


class Rounds:
    """A check(params) stand-in: the problems of each round in turn."""

    def __init__(self, *rounds):
        self.rounds = list(rounds)
        self.calls = 0

    def __call__(self, params):
        problems = self.rounds[min(self.calls, len(self.rounds) - 1)]
        self.calls += 1
        return {"healthz": {"status": "ok"}, "readyz": None, "storage_meta": None, "mcp": None}, list(problems)


def text(content):
    return {"content": [{"type": "text", "text": json.dumps(content)}]}


class FakeMcp:
    """An McpClient stand-in: tools it lists, profiles list_profiles returns, health per profile."""

    def __init__(self, tools, profiles=(), health=None):
        self.tools = tools
        self.profiles = list(profiles)
        self.health = health or {}
        self.calls = []

    def initialize(self):
        self.calls.append("initialize")

    def list_tools(self):
        return [{"name": name} for name in self.tools]

    def call_tool(self, name, arguments=None):
        self.calls.append((name, arguments))
        if name == "list_profiles":
            return text({"profiles": self.profiles})
        return text({"healthy": self.health.get(arguments["profile"], True)})


# -- the retry loop ----------------------------------------------------------------


def test_retries_until_healthy_sleeping_delay_between():
    sleeps = []
    check = Rounds(["readyz: not ready"], ["readyz: not ready"], [])
    result = check_until_healthy(params(api_token="admin-token-1234", delay=3), check=check, sleep=sleeps.append)
    assert result["healthy"] is True and result["attempts"] == 3 and result["problems"] == []
    assert sleeps == [3, 3] and result["changed"] is False and result["healthz"] == {"status": "ok"}


def test_still_unhealthy_after_retries_fails_with_the_result():
    sleeps = []
    with pytest.raises(GatewayUnhealthyError) as caught:
        check_until_healthy(params(api_token="admin-token-1234", retries=2, delay=0), check=Rounds(["down"]), sleep=sleeps.append)
    assert caught.value.msg == "gateway at http://127.0.0.1:9 unhealthy after 3 checks: down"
    assert caught.value.result["healthy"] is False and caught.value.result["attempts"] == 3
    assert sleeps == [0, 0]


def test_report_only_when_fail_when_unhealthy_is_false():
    result = check_until_healthy(params(api_token="admin-token-1234", retries=0, fail_when_unhealthy=False), check=Rounds(["down"]),
                                 sleep=pytest.fail)
    assert result["healthy"] is False and result["attempts"] == 1 and result["problems"] == ["down"]


def test_warns_without_api_token():
    warnings = []
    check_until_healthy(params(retries=0), warn=warnings.append, check=Rounds([]))
    assert warnings == ["no api_token: /api/system/storage-meta (schemaVersion, stores) was not checked"]


def test_tokens_redacted_from_result_and_message():
    def echoing(p):
        return {"healthz": {"echo": API_CANARY}, "readyz": None, "storage_meta": None, "mcp": None}, ["saw " + MCP_CANARY]

    with pytest.raises(GatewayUnhealthyError) as caught:
        check_until_healthy(params(api_token=API_CANARY, mcp_token=MCP_CANARY, retries=0), check=echoing)
    for found in (caught.value.msg, repr(caught.value.result)):
        assert API_CANARY not in found and MCP_CANARY not in found
    assert caught.value.result["healthz"] == {"echo": "********"}


def test_redact_walks_keys_lists_and_leaves_other_values():
    assert redact({"k-s": ["a s", 1, None]}, ["s"]) == {"k-********": ["a ********", 1, None]}


# -- one round against a loopback stub ---------------------------------------------


def test_check_once_names_the_failing_endpoints(stub):
    stub.routes[("GET", "/healthz")] = (200, JSON, {"status": "ok"})
    stub.routes[("GET", "/readyz")] = (503, JSON, {"status": "not_ready", "checks": {"storage": "corrupt", "index": "ok"}})
    stub.routes[("GET", "/api/system/storage-meta")] = (200, JSON, {"schemaVersion": 4, "stores": {"tokens": {"ok": True}}})
    report, problems = check_once(params(api_url=stub.url, api_token=API_CANARY))
    assert report["healthz"] == {"status": "ok"} and report["storage_meta"]["schemaVersion"] == 4
    assert problems == [
        "GET %s/readyz: not ready, failing checks: storage=corrupt" % stub.url,
        "storage-meta: schemaVersion 4 is newer than max_schema_version 3",
    ]


def test_check_once_without_tokens_skips_storage_meta_and_mcp(stub):
    stub.routes[("GET", "/healthz")] = (200, JSON, {"status": "ok"})
    stub.routes[("GET", "/readyz")] = (200, JSON, {"status": "ready"})
    report, problems = check_once(params(api_url=stub.url))
    assert problems == [] and report["storage_meta"] is None and report["mcp"] is None
    assert [r["path"] for r in stub.requests] == ["/healthz", "/readyz"]


def test_check_once_gateway_down():
    report, problems = check_once(params(api_url="http://127.0.0.1:1", timeout=2))
    assert report["healthz"] is None and len(problems) == 2 and "no answer" in problems[0]


# -- storage-meta ----------------------------------------------------------------


@pytest.mark.parametrize("meta, expected", [
    ({"schemaVersion": 3, "stores": {"a": {"ok": True}}}, []),
    ({"schemaVersion": True, "stores": {}}, ["storage-meta: schemaVersion is True, not a known version"]),
    ({"schemaVersion": 3, "stores": {"b": {"ok": False}}}, ["storage-meta: store b is not ok: {'ok': False}"]),
    ({"schemaVersion": 3}, ["storage-meta: no 'stores' in the answer"]),
    ([], ["storage-meta: schemaVersion is None, not a known version", "storage-meta: no 'stores' in the answer"]),
])
def test_check_storage_meta(meta, expected):
    assert check_storage_meta(meta, 3) == expected


# -- the MCP post-recovery sequence --------------------------------------------------


def test_mcp_checks_the_production_profiles_and_flags_write_tools():
    mcp = FakeMcp(
        ["list_profiles", "check_profile_health", "delete_token"],
        [{"name": "prod", "environment": "production"}, {"name": "dev", "environment": "dev"}],
        {"prod": False},
    )
    report, problems = check_mcp(mcp, None)
    assert report["write_tools_listed"] == ["delete_token"] and list(report["profile_health"]) == ["prod"]
    assert report["profile_health"]["prod"]["healthy"] is False
    assert len(problems) == 2 and "write tools" in problems[0] and "check_profile_health prod" in problems[1]
    assert mcp.calls[0] == "initialize"


def test_mcp_without_list_profiles_stops_after_tools_list():
    mcp = FakeMcp(["something"])
    report, problems = check_mcp(mcp, ["prod"])
    assert problems == ["tools/list does not list list_profiles", "tools/list does not list check_profile_health"]
    assert mcp.calls == ["initialize"]


def test_mcp_critical_profile_missing():
    mcp = FakeMcp(["list_profiles", "check_profile_health"], ["dev"])
    report, problems = check_mcp(mcp, ["prod"])
    assert problems == ["critical profile prod is not in list_profiles"]
    assert report["profiles"] == [{"name": "dev", "environment": None}]


def test_helpers():
    assert write_tools(["write_x", "read_y", "create_z"]) == ["create_z", "write_x"]
    assert profiles_from({"items": ["a", {"name": "b"}, {"x": 1}]}) == [{"name": "a", "environment": None}, {"name": "b"}]
    assert profile_is_healthy({"isError": True}) is False
    assert profile_is_healthy(text({"status": "UP"})) is True
    assert profile_is_healthy(text({"ok": False})) is False
