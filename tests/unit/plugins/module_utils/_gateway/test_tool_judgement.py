"""_gateway/tool_judgement.py: write tools judged by their declared MCP annotations, by name only without."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.tool_judgement import judge_tool, judge_tools


def tool(name, **annotations):
    return {"name": name, "annotations": annotations} if annotations else {"name": name}


@pytest.mark.parametrize("given, write, destructive, judged_by, reason", [
    # declared: the annotations decide, whatever the name says
    (tool("import_documents", readOnlyHint=False, destructiveHint=True), True, True, "annotations",
     "declares readOnlyHint false, destructiveHint true"),
    (tool("post_note", readOnlyHint=False, destructiveHint=False), True, False, "annotations",
     "declares readOnlyHint false"),
    (tool("post_note", readOnlyHint=False), True, True, "annotations", "declares readOnlyHint false"),
    (tool("list_profiles", readOnlyHint=True), False, False, "annotations", "declares readOnlyHint true"),
    (tool("delete_cache_entry", readOnlyHint=True), False, False, "annotations",
     "declares readOnlyHint true (its name looks like a write tool's; the declaration is trusted)"),
    (tool("purge", destructiveHint=True), True, True, "annotations", "declares destructiveHint true (no readOnlyHint)"),
    # not declared: the name prefix, and the reason says so
    (tool("create_document"), True, None, "name", "declares no annotations: judged by its name, which starts with create_"),
    (tool("list_things"), False, None, "name",
     "declares no annotations: judged by its name, which has no write prefix (write_, create_, update_, delete_)"),
    (tool("update_x", title="Update x"), True, None, "name", "declares no readOnlyHint: judged by its name, which starts with update_"),
    # a hint that is not a JSON boolean is no declaration
    (tool("write_x", readOnlyHint="true"), True, None, "name", "declares no readOnlyHint: judged by its name, which starts with write_"),
    (tool("read_x", readOnlyHint=None, destructiveHint="yes"), False, None, "name",
     "declares no readOnlyHint: judged by its name, which has no write prefix (write_, create_, update_, delete_)"),
])
def test_judge_tool(given, write, destructive, judged_by, reason):
    judged = judge_tool(given)
    assert judged == {"name": given["name"], "write": write, "destructive": destructive, "judged_by": judged_by,
                      "reason": reason}


def test_judge_tools_sorts_and_drops_unnamed_entries():
    judged = judge_tools([tool("b", readOnlyHint=True), {"annotations": {}}, "a", {"name": 3}, tool("a")])
    assert [item["name"] for item in judged] == ["a", "b"]
    assert judge_tool({"name": "x", "annotations": "readOnly"})["judged_by"] == "name"
