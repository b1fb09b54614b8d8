# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MCP validation's report (recovery_checks.check_mcp) in a few lines for the incident ticket.

summary_lines(report) -> [str]: the active profile, the write tools and why, each profile's health and 1C connection.
"""

from __future__ import annotations

SOURCES = {"token": "bound to the token", "default": "the gateway's default for the token"}


def _active_line(active):
    if not isinstance(active, dict):
        return "get_active_profile: no profile named for the token"
    details = [active.get("environment") or "environment unknown"]
    if active.get("source"):
        details.append(SOURCES.get(active["source"], "source %s" % active["source"]))
    return "get_active_profile: %s (%s)" % (active.get("name"), ", ".join(details))


def _write_tools_line(report):
    listed = len(report.get("tools") or [])
    by_name = report.get("judged_by_name") or []
    writes = report.get("write_tools") or []
    found = "; ".join("%s - %s" % (t.get("name"), t.get("reason")) for t in writes) or "none"
    how = ("judged by name (no readOnlyHint declared): %s" % ", ".join(by_name)) if by_name else \
        "each judged by its declared annotations"
    return "Write tools on production: %s (%d tools listed, %s)" % (found, listed, how)


def _connection_word(view):
    view = view if isinstance(view, dict) else {}
    if view.get("healthy"):
        parts = [("HTTP %s" % view["status"]) if view.get("status") is not None else "",
                 ("%s ms" % view["latency_ms"]) if view.get("latency_ms") is not None else ""]
        details = ", ".join(part for part in parts if part)
        return "healthy" + (" (%s)" % details if details else "")
    return "UNHEALTHY (%s)" % (view.get("error") or "no reason given")


def summary_lines(report):
    """A few lines about one check_mcp report; the post-incident lines only when that set ran."""
    if not isinstance(report, dict):
        return []
    post_incident = report.get("validation") == "post_incident"
    lines = []
    if post_incident:
        lines.append(_active_line(report.get("active_profile")))
    lines.append(_write_tools_line(report))
    health = report.get("profile_health") or {}
    lines.append("check_profile_health: %s" % (", ".join(
        "%s %s" % (name, "healthy" if (h or {}).get("healthy") else "UNHEALTHY") for name, h in health.items())
        or "no profile checked"))
    if post_incident:
        connections = report.get("connection_health") or {}
        line = "check_connection_health: %s" % (", ".join(
            "%s %s" % (name, _connection_word(view)) for name, view in connections.items()) or "no production profile checked")
        if any(not (view or {}).get("healthy") for view in connections.values()):
            line += " -- 1C itself does not answer the gateway: INC-004"
        lines.append(line)
    return lines
