# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's post-recovery MCP checks: tools/list (no write tools), list_profiles, check_profile_health.

check_mcp(mcp, critical_profiles) takes an McpClient (or a stand-in) and returns (report, problems).
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.mcp_client import tool_result_payload

WRITE_TOOL_PREFIXES = ("write_", "create_", "update_", "delete_")


def write_tools(names):
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
    """check_profile_health's verdict: isError fails; else healthy/ok/status fields if present."""
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


def check_mcp(mcp, critical_profiles):
    """The runbook's post-recovery sequence. Returns (report, problems)."""
    problems = []
    report = {"tools": [], "profiles": [], "profile_health": {}, "write_tools_listed": []}
    mcp.initialize()
    report["tools"] = sorted(tool.get("name") for tool in mcp.list_tools() if isinstance(tool, dict) and tool.get("name"))
    report["write_tools_listed"] = write_tools(report["tools"])
    if report["write_tools_listed"]:
        problems.append(
            "tools/list lists write tools for the production-bound token: %s" % ", ".join(report["write_tools_listed"])
        )
    for needed in ("list_profiles", "check_profile_health"):
        if needed not in report["tools"]:
            problems.append("tools/list does not list %s" % needed)
    if problems and "list_profiles" not in report["tools"]:
        return report, problems
    listed = mcp.call_tool("list_profiles")
    if isinstance(listed, dict) and listed.get("isError"):
        problems.append("list_profiles returned an error: %r" % (tool_result_payload(listed),))
    report["profiles"] = profiles_from(tool_result_payload(listed))
    names = [profile["name"] for profile in report["profiles"]]
    if critical_profiles is None:
        critical = [p["name"] for p in report["profiles"] if p.get("environment") == "production"]
        if not critical:
            problems.append("list_profiles reports no production profile to check")
    else:
        critical = list(critical_profiles)
    for name in critical:
        if name not in names:
            problems.append("critical profile %s is not in list_profiles" % name)
            continue
        result = mcp.call_tool("check_profile_health", {"profile": name})
        healthy = profile_is_healthy(result)
        report["profile_health"][name] = {"healthy": healthy, "result": tool_result_payload(result)}
        if not healthy:
            problems.append("check_profile_health %s: unhealthy: %r" % (name, tool_result_payload(result)))
    return report, problems
