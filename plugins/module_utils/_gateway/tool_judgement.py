# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which tools of a tools/list answer write: judged by what the server declares (MCP annotations), by name only without.

judge_tool(tool) -> {name, write, destructive, judged_by, reason}; docs/dev/contract-post-incident-validation.md
is the rule. A tool whose annotations declare readOnlyHint is judged by it; one that declares destructiveHint true
without readOnlyHint is a write tool; any other tool is judged by its name prefix, and the reason says so.
"""

from __future__ import annotations

WRITE_TOOL_PREFIXES = ("write_", "create_", "update_", "delete_")
BY_ANNOTATIONS = "annotations"
BY_NAME = "name"


def has_write_prefix(name):
    return isinstance(name, str) and name.startswith(WRITE_TOOL_PREFIXES)


def _declared_bool(annotations, key):
    """annotations[key] when it is a real bool, else None (absent, null, "false" as text: not a declaration)."""
    value = annotations.get(key) if isinstance(annotations, dict) else None
    return value if isinstance(value, bool) else None


def judge_tool(tool):
    """One tools/list entry judged: {name, write, destructive, judged_by, reason}."""
    name = tool.get("name") if isinstance(tool, dict) else None
    annotations = tool.get("annotations") if isinstance(tool, dict) else None
    read_only = _declared_bool(annotations, "readOnlyHint")
    destructive = _declared_bool(annotations, "destructiveHint")
    prefixed = has_write_prefix(name)
    if read_only is True:
        reason = "declares readOnlyHint true"
        if prefixed:
            reason += " (its name looks like a write tool's; the declaration is trusted)"
        return {"name": name, "write": False, "destructive": False, "judged_by": BY_ANNOTATIONS, "reason": reason}
    if read_only is False:
        reason = "declares readOnlyHint false" + (", destructiveHint true" if destructive else "")
        return {"name": name, "write": True, "destructive": destructive is not False, "judged_by": BY_ANNOTATIONS,
                "reason": reason}
    if destructive is True:
        return {"name": name, "write": True, "destructive": True, "judged_by": BY_ANNOTATIONS,
                "reason": "declares destructiveHint true (no readOnlyHint)"}
    what = "declares no annotations" if not isinstance(annotations, dict) or not annotations else \
        "declares no readOnlyHint"
    if prefixed:
        reason = "%s: judged by its name, which starts with %s" % (
            what, next(p for p in WRITE_TOOL_PREFIXES if name.startswith(p)))
    else:
        reason = "%s: judged by its name, which has no write prefix (%s)" % (what, ", ".join(WRITE_TOOL_PREFIXES))
    return {"name": name, "write": prefixed, "destructive": None, "judged_by": BY_NAME, "reason": reason}


def judge_tools(tools):
    """Every named tool of a tools/list answer judged, sorted by name."""
    judged = [judge_tool(tool) for tool in tools if isinstance(tool, dict) and isinstance(tool.get("name"), str)]
    return sorted(judged, key=lambda item: item["name"])
