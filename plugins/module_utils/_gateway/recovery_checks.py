# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's MCP validation: post-recovery and post-incident (seed 000), as one sequence.

Post-recovery: tools/list (no write tool for the production-bound token), list_profiles, check_profile_health
for each critical profile. Post-incident adds get_active_profile (the token works against a production profile,
so the write-tool check is about production) and check_connection_health for every production profile.
check_mcp(mcp, critical_profiles, validation=, require_connection_health=) takes an McpClient (or a stand-in)
and returns (report, problems). Write tools are judged by their declared annotations (tool_judgement.py).
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.mcp_client import tool_result_payload
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.tool_judgement import (
    BY_NAME,
    WRITE_TOOL_PREFIXES,
    judge_tools,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.validation_summary import summary_lines

POST_RECOVERY = "post_recovery"
POST_INCIDENT = "post_incident"
VALIDATIONS = (POST_RECOVERY, POST_INCIDENT)
NEEDED_TOOLS = {
    POST_RECOVERY: ("list_profiles", "check_profile_health"),
    POST_INCIDENT: ("list_profiles", "check_profile_health", "get_active_profile", "check_connection_health"),
}
PRODUCTION = "production"
CONNECTION_FIELDS = ("healthy", "status", "latency_ms", "error", "url")


def write_tools(names):
    """Names with a write prefix (the judgement for tools that declare nothing; kept for callers of names only)."""
    return sorted(name for name in names if name.startswith(WRITE_TOOL_PREFIXES))


def profiles_from(payload):
    """list_profiles' answer as [{name, environment, ...}], whatever wrapper the server used."""
    if isinstance(payload, dict):
        payload = payload.get("profiles", payload.get("items", []))
    profiles = []
    for item in payload if isinstance(payload, list) else []:
        if isinstance(item, str):
            profiles.append({"name": item, "environment": None})
        elif isinstance(item, dict) and item.get("name"):
            profiles.append(item)
    return profiles


def profile_is_healthy(result):
    """check_profile_health's (or check_connection_health's) verdict: isError fails; else healthy/ok/status fields."""
    if not isinstance(result, dict) or result.get("isError"):
        return False
    payload = tool_result_payload(result)
    if isinstance(payload, dict):
        for key in ("healthy", "ok"):
            if isinstance(payload.get(key), bool):
                return payload[key]
        status = payload.get("status")
        if isinstance(status, str):
            return status.lower() in ("ok", "healthy", "up", "ready")
    return True


def active_profile_from(result, profiles):
    """get_active_profile's answer as {name, environment, source}; the environment from list_profiles when the
    answer names the profile only. None when the tool failed or named no profile."""
    if not isinstance(result, dict) or result.get("isError"):
        return None
    payload = tool_result_payload(result)
    profile = payload.get("profile", payload) if isinstance(payload, dict) else payload
    if isinstance(profile, str):
        profile = {"name": profile}
    if not isinstance(profile, dict) or not profile.get("name"):
        return None
    environment = profile.get("environment")
    if environment is None:
        environment = next((p.get("environment") for p in profiles if p.get("name") == profile["name"]), None)
    source = payload.get("source") if isinstance(payload, dict) else None
    return {"name": profile["name"], "environment": environment, "source": source}


def connection_view(result):
    """check_connection_health's answer, the fields a report needs: healthy, status, latency_ms, error, url."""
    payload = tool_result_payload(result)
    view = {key: payload.get(key) for key in CONNECTION_FIELDS if key in payload} if isinstance(payload, dict) else {}
    view["healthy"] = profile_is_healthy(result)
    if not view["healthy"] and not view.get("error"):
        view["error"] = payload if isinstance(payload, str) else "the tool reported an error"
    return view


def _judge_listed(report, problems, tools):
    judged = judge_tools(tools)
    report["tools"] = [item["name"] for item in judged]
    writes = [item for item in judged if item["write"]]
    report["write_tools_listed"] = [item["name"] for item in writes]
    report["write_tools"] = [{k: item[k] for k in ("name", "reason", "destructive", "judged_by")} for item in writes]
    report["judged_by_name"] = [item["name"] for item in judged if item["judged_by"] == BY_NAME]
    if report["judged_by_name"]:
        report["notes"].append(
            "%d of %d tools declare no readOnlyHint (MCP annotations), judged by their names instead: %s"
            % (len(report["judged_by_name"]), len(judged), ", ".join(report["judged_by_name"])))
    if writes:
        problems.append("tools/list lists write tools for the production-bound token: %s" % "; ".join(
            "%s (%s)" % (item["name"], item["reason"]) for item in writes))


def _check_active_profile(mcp, report, problems):
    result = mcp.call_tool("get_active_profile")
    active = active_profile_from(result, report["profiles"])
    report["active_profile"] = active
    if active is None:
        problems.append("get_active_profile names no profile for the token: %r" % (tool_result_payload(result),))
    elif active["environment"] != PRODUCTION:
        problems.append(
            "get_active_profile: the token works against %s (environment %s), not a production profile: tools/list "
            "cannot confirm that write tools are unavailable on production; give a production-bound MCP token"
            % (active["name"], active["environment"]))


def _check_connections(mcp, report, problems, require_connection_health):
    production = [p["name"] for p in report["profiles"] if p.get("environment") == PRODUCTION]
    if not production:
        problems.append("list_profiles reports no production profile for check_connection_health")
    for name in production:
        view = connection_view(mcp.call_tool("check_connection_health", {"profile": name}))
        report["connection_health"][name] = view
        if not view["healthy"]:
            sentence = "check_connection_health %s: the 1C connection is unhealthy: %s (INC-004)" % (
                name, view.get("error"))
            report["connection_problems"].append(sentence)
            if require_connection_health:
                problems.append(sentence)


def check_mcp(mcp, critical_profiles, validation=POST_RECOVERY, require_connection_health=True):
    """The runbook's MCP sequence (validation post_recovery, or post_incident: the full set). (report, problems)."""
    if validation not in VALIDATIONS:
        raise ValueError("validation must be one of %s, got %r" % (", ".join(VALIDATIONS), validation))
    problems = []
    report = {"validation": validation, "tools": [], "profiles": [], "profile_health": {}, "write_tools_listed": [],
              "write_tools": [], "judged_by_name": [], "notes": [], "active_profile": None,
              "connection_health": {}, "connection_problems": [], "summary": []}
    mcp.initialize()
    _judge_listed(report, problems, mcp.list_tools())
    for needed in NEEDED_TOOLS[validation]:
        if needed not in report["tools"]:
            problems.append("tools/list does not list %s" % needed)
    if "list_profiles" not in report["tools"]:
        report["summary"] = summary_lines(report)
        return report, problems
    listed = mcp.call_tool("list_profiles")
    if isinstance(listed, dict) and listed.get("isError"):
        problems.append("list_profiles returned an error: %r" % (tool_result_payload(listed),))
    report["profiles"] = profiles_from(tool_result_payload(listed))
    names = [profile["name"] for profile in report["profiles"]]
    if validation == POST_INCIDENT and "get_active_profile" in report["tools"]:
        _check_active_profile(mcp, report, problems)
    if critical_profiles is None:
        critical = [p["name"] for p in report["profiles"] if p.get("environment") == PRODUCTION]
        if not critical:
            problems.append("list_profiles reports no production profile to check")
    else:
        critical = list(critical_profiles)
    for name in critical if "check_profile_health" in report["tools"] else []:
        if name not in names:
            problems.append("critical profile %s is not in list_profiles" % name)
            continue
        result = mcp.call_tool("check_profile_health", {"profile": name})
        healthy = profile_is_healthy(result)
        report["profile_health"][name] = {"healthy": healthy, "result": tool_result_payload(result)}
        if not healthy:
            problems.append("check_profile_health %s: unhealthy: %r" % (name, tool_result_payload(result)))
    if validation == POST_INCIDENT and "check_connection_health" in report["tools"]:
        _check_connections(mcp, report, problems, require_connection_health)
    report["summary"] = summary_lines(report)
    return report, problems
