"""_gateway/recovery_checks.py: the post-recovery MCP sequence against an McpClient stand-in."""

import json

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.recovery_checks import (
    active_profile_from,
    check_mcp,
    connection_view,
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


# -- the post-incident set: get_active_profile, check_connection_health, write tools by annotations ------------------

READ = {"readOnlyHint": True}
PROFILES = [{"name": "erp-prod", "environment": "production"}, {"name": "hr-prod", "environment": "production"},
            {"name": "erp-staging", "environment": "staging"}]
FULL_SET = ["list_profiles", "get_active_profile", "check_profile_health", "check_connection_health"]


class DeclaringMcp(FakeMcp):
    """A stand-in whose tools carry annotations, with an active profile and 1C connection health per profile."""

    def __init__(self, tools, active="erp-prod", connection=None, **kwargs):
        super().__init__([], PROFILES, **kwargs)
        self.declared = tools
        self.active = active
        self.connection = connection or {}

    def list_tools(self):
        return self.declared

    def call_tool(self, name, arguments=None):
        if name == "get_active_profile":
            self.calls.append((name, arguments))
            if self.active is None:
                return dict(text({"profile": None}), isError=True)
            return text({"profile": {"name": self.active}, "source": "token"})
        if name == "check_connection_health":
            self.calls.append((name, arguments))
            error = self.connection.get(arguments["profile"])
            return text({"profile": arguments["profile"], "healthy": error is None, "status": None if error else 200,
                         "latency_ms": 12, "error": error, "url": "https://1c/x/$metadata"})
        return super().call_tool(name, arguments)


def declared(*extra):
    return [{"name": name, "annotations": READ} for name in FULL_SET] + list(extra)


def test_post_incident_runs_the_full_set_in_the_runbooks_order():
    mcp = DeclaringMcp(declared())
    report, problems = check_mcp(mcp, None, validation="post_incident")
    assert problems == []
    assert [c[0] for c in mcp.calls[1:]] == ["list_profiles", "get_active_profile", "check_profile_health",
                                             "check_profile_health", "check_connection_health", "check_connection_health"]
    assert report["validation"] == "post_incident"
    assert report["active_profile"] == {"name": "erp-prod", "environment": "production", "source": "token"}
    assert report["connection_health"]["erp-prod"] == {"healthy": True, "status": 200, "latency_ms": 12, "error": None,
                                                        "url": "https://1c/x/$metadata"}
    assert sorted(report["connection_health"]) == ["erp-prod", "hr-prod"]  # every production profile, not staging
    assert report["write_tools_listed"] == [] and report["judged_by_name"] == [] and report["notes"] == []


def test_post_recovery_is_the_short_set():
    mcp = DeclaringMcp(declared())
    report, problems = check_mcp(mcp, ["erp-prod"])
    assert problems == [] and report["validation"] == "post_recovery"
    assert [c[0] for c in mcp.calls[1:]] == ["list_profiles", "check_profile_health"]
    assert report["active_profile"] is None and report["connection_health"] == {}


def test_a_declared_write_tool_without_a_write_name_is_caught_with_its_reason():
    unsafe = {"name": "import_documents", "annotations": {"readOnlyHint": False, "destructiveHint": True}}
    report, problems = check_mcp(DeclaringMcp(declared(unsafe)), None, validation="post_incident")
    assert report["write_tools_listed"] == ["import_documents"]
    assert report["write_tools"] == [{"name": "import_documents", "reason": "declares readOnlyHint false, destructiveHint true",
                                      "destructive": True, "judged_by": "annotations"}]
    assert problems == ["tools/list lists write tools for the production-bound token: import_documents "
                        "(declares readOnlyHint false, destructiveHint true)"]


def test_a_write_name_declared_read_only_is_not_a_write_tool():
    report, problems = check_mcp(DeclaringMcp(declared({"name": "delete_cache", "annotations": READ})), None)
    assert problems == [] and report["write_tools_listed"] == [] and "delete_cache" in report["tools"]


def test_tools_without_annotations_are_judged_by_name_and_the_report_says_so():
    tools = declared({"name": "create_document"}, {"name": "search"})
    report, problems = check_mcp(DeclaringMcp(tools), None)
    assert report["judged_by_name"] == ["create_document", "search"]
    assert report["notes"] == ["2 of 6 tools declare no readOnlyHint (MCP annotations), judged by their names "
                               "instead: create_document, search"]
    assert report["write_tools"] == [{"name": "create_document", "destructive": None, "judged_by": "name",
                                      "reason": "declares no annotations: judged by its name, which starts with create_"}]
    assert len(problems) == 1 and "create_document (declares no annotations" in problems[0]


def test_a_token_that_is_not_production_bound_cannot_confirm_production():
    report, problems = check_mcp(DeclaringMcp(declared(), active="erp-staging"), None, validation="post_incident")
    assert report["active_profile"]["environment"] == "staging"
    assert problems == ["get_active_profile: the token works against erp-staging (environment staging), not a production "
                        "profile: tools/list cannot confirm that write tools are unavailable on production; give a "
                        "production-bound MCP token"]


def test_get_active_profile_that_names_nothing_is_a_problem():
    report, problems = check_mcp(DeclaringMcp(declared(), active=None), None, validation="post_incident")
    assert report["active_profile"] is None
    assert problems == ["get_active_profile names no profile for the token: {'profile': None}"]


@pytest.mark.parametrize("required", [True, False])
def test_a_1c_connection_that_is_down_is_reported_and_a_problem_only_when_required(required):
    mcp = DeclaringMcp(declared(), connection={"hr-prod": "URLError: connection refused"})
    report, problems = check_mcp(mcp, None, validation="post_incident", require_connection_health=required)
    sentence = "check_connection_health hr-prod: the 1C connection is unhealthy: URLError: connection refused (INC-004)"
    assert report["connection_problems"] == [sentence]
    assert report["connection_health"]["hr-prod"]["healthy"] is False
    assert report["connection_health"]["erp-prod"]["healthy"] is True
    assert problems == ([sentence] if required else [])


def test_post_incident_needs_the_two_extra_tools():
    tools = [{"name": n, "annotations": READ} for n in ("list_profiles", "check_profile_health")]
    report, problems = check_mcp(DeclaringMcp(tools), None, validation="post_incident")
    assert problems == ["tools/list does not list get_active_profile", "tools/list does not list check_connection_health"]
    assert report["profile_health"] and report["connection_health"] == {}  # what is listed still ran


def test_unknown_validation_is_refused():
    with pytest.raises(ValueError):
        check_mcp(DeclaringMcp(declared()), None, validation="everything")


def test_shapes_of_single_answers():
    assert active_profile_from(text({"profile": "hr-prod"}), PROFILES) == {"name": "hr-prod", "environment": "production",
                                                                          "source": None}
    assert active_profile_from(text("erp-staging"), PROFILES)["environment"] == "staging"
    assert active_profile_from({"isError": True}, PROFILES) is None
    assert connection_view({"isError": True, "content": [{"type": "text", "text": "boom"}]}) == {"healthy": False, "error": "boom"}
