"""_gateway/recovery_checks.py: the post-recovery MCP sequence against an McpClient stand-in."""

import json

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.recovery_checks import (
    check_mcp,
    profile_is_healthy,
    profiles_from,
    write_tools,
)


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
