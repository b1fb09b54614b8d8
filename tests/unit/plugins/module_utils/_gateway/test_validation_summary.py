"""_gateway/validation_summary.py: the MCP validation's report as the lines of the incident ticket."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.validation_summary import summary_lines


def report(**overrides):
    base = {"validation": "post_incident", "tools": ["a", "b", "import_documents"], "judged_by_name": [],
            "write_tools": [], "profile_health": {"erp-prod": {"healthy": True}, "hr-prod": {"healthy": False}},
            "active_profile": {"name": "erp-prod", "environment": "production", "source": "token"},
            "connection_health": {"erp-prod": {"healthy": True, "status": 200, "latency_ms": 12},
                                  "hr-prod": {"healthy": False, "error": "timed out"}}}
    base.update(overrides)
    return base


def test_post_incident_lines():
    assert summary_lines(report()) == [
        "get_active_profile: erp-prod (production, bound to the token)",
        "Write tools on production: none (3 tools listed, each judged by its declared annotations)",
        "check_profile_health: erp-prod healthy, hr-prod UNHEALTHY",
        "check_connection_health: erp-prod healthy (HTTP 200, 12 ms), hr-prod UNHEALTHY (timed out) -- 1C itself does "
        "not answer the gateway: INC-004",
    ]


def test_write_tools_with_their_reasons_and_tools_judged_by_name():
    lines = summary_lines(report(
        write_tools=[{"name": "import_documents", "reason": "declares readOnlyHint false, destructiveHint true"}],
        judged_by_name=["a"], active_profile=None, connection_health={}))
    assert lines[0] == "get_active_profile: no profile named for the token"
    assert lines[1] == ("Write tools on production: import_documents - declares readOnlyHint false, destructiveHint true "
                        "(3 tools listed, judged by name (no readOnlyHint declared): a)")
    assert lines[3] == "check_connection_health: no production profile checked"


def test_post_recovery_has_no_post_incident_lines():
    lines = summary_lines(report(validation="post_recovery", profile_health={}))
    assert lines == ["Write tools on production: none (3 tools listed, each judged by its declared annotations)",
                     "check_profile_health: no profile checked"]
    assert summary_lines(None) == []
