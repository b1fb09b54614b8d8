"""Each module once through ansible (AnsiballZ packs the module_utils), with canary tokens."""

import json
import os

import pytest

from adhoc import API_CANARY, JSON, MCP_CANARY, pytestmark, run_module  # noqa: F401 (pytestmark applies here)


def test_backup_info_restore_prune_through_ansible(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    made = run_module("gateway_backup", {"data_dir": data_dir, "transport": "files"})
    assert made["changed"] is True and made["transport"] == "files"
    again = run_module("gateway_backup", {"data_dir": data_dir, "transport": "files"})
    assert again["changed"] is False and again["backup_id"] == made["backup_id"]
    info = run_module("gateway_backup_info", {"data_dir": data_dir, "transport": "files", "verify": True}, "--check")
    assert info["latest_valid"] == made["backup_id"] and info["backups"][0]["valid"] is True
    with open(os.path.join(data_dir, "tokens.json"), "w") as handle:
        handle.write("{")
    check = run_module("gateway_backup", {"data_dir": data_dir, "state": "restored", "backup_id": "latest_valid"}, "--check", "--diff")
    assert check["changed"] is True and check["files_changed"]["changed"] == ["tokens.json"]
    assert check["diff"]["before"]["files"] != check["diff"]["after"]["files"]
    restored = run_module("gateway_backup", {"data_dir": data_dir, "state": "restored", "backup_id": "latest_valid"})
    assert restored["changed"] is True and restored["safety_backup_id"]
    second = run_module("gateway_backup", {"data_dir": data_dir, "state": "restored", "backup_id": "latest_valid"})
    assert second["changed"] is False
    pruned = run_module("gateway_backup", {"data_dir": data_dir, "state": "absent", "keep_last": 1})
    assert pruned["removed"] == [] or made["backup_id"] not in pruned["removed"]


@pytest.mark.parametrize("bad_id", ["../x", "/abs", "a" * 200])
def test_bad_id_refused_before_anything(tmp_path, dd, bad_id):
    data_dir = dd.make(tmp_path)
    before = dd.snapshot(str(tmp_path))
    result = run_module("gateway_backup", {"data_dir": data_dir, "state": "restored", "backup_id": bad_id})
    assert result["failed"] is True and "invalid backup id" in result["msg"]
    assert dd.snapshot(str(tmp_path)) == before


def test_restore_refused_while_gateway_answers(tmp_path, dd, stub):
    stub.routes[("GET", "/healthz")] = (200, JSON, {"status": "ok"})
    data_dir = dd.make(tmp_path)
    run_module("gateway_backup", {"data_dir": data_dir, "transport": "files"})
    result = run_module("gateway_backup", {
        "data_dir": data_dir, "state": "restored", "backup_id": "latest_valid",
        "api_url": stub.url, "api_token": API_CANARY,
    })
    assert result["failed"] is True and "answers" in result["msg"]


def test_api_transport_error_hides_token(tmp_path, dd, stub):
    stub.routes[("GET", "/healthz")] = (200, JSON, {"status": "ok"})
    stub.routes[("POST", "/api/system/backups")] = lambda h, b: (
        507, JSON, {"error": {"code": "insufficient_storage", "message": "no room (%s)" % h.headers["Authorization"]}}
    )
    result = run_module("gateway_backup", {"data_dir": str(tmp_path), "api_url": stub.url, "api_token": API_CANARY})
    assert result["failed"] is True and "507 insufficient_storage" in result["msg"]


def test_health_reports_everything_and_hides_tokens(stub):
    stub.routes[("GET", "/healthz")] = (200, JSON, {"status": "ok", "version": "1"})
    stub.routes[("GET", "/readyz")] = (503, JSON, {"status": "not_ready", "checks": {"storage": "corrupt", "index": "ok"}})
    stub.routes[("GET", "/api/system/storage-meta")] = lambda h, b: (
        200, JSON, {"schemaVersion": 3, "stores": {"tokens": {"ok": False, "note": h.headers["Authorization"]}}}
    )

    def mcp(handler, body):
        message = json.loads(body)
        if "id" not in message:
            return 202, {}, b""
        method = message["method"]
        if method == "initialize":
            result = {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "stub"}}
        elif method == "tools/list":
            result = {"tools": [{"name": n} for n in ("list_profiles", "check_profile_health", "create_document")]}
        elif message["params"]["name"] == "list_profiles":
            result = {"content": [{"type": "text", "text": json.dumps({"profiles": [
                {"name": "prod", "environment": "production"}, {"name": "dev", "environment": "dev"}]})}]}
        else:
            result = {"content": [{"type": "text", "text": json.dumps({"healthy": False, "token": handler.headers["Authorization"]})}], "isError": False}
        reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        return 200, {"Content-Type": "text/event-stream", "Mcp-Session-Id": "s1"}, "data: %s\n\n" % json.dumps(reply)

    stub.routes[("POST", "/mcp")] = mcp
    result = run_module("gateway_health", {
        "api_url": stub.url, "api_token": API_CANARY, "mcp_token": MCP_CANARY,
        "retries": 0, "fail_when_unhealthy": False,
    }, "--check")
    assert result["healthy"] is False
    assert result["mcp"]["write_tools_listed"] == ["create_document"]
    assert list(result["mcp"]["profile_health"]) == ["prod"]
    problems = " | ".join(result["problems"])
    for expected in ("readyz", "store tokens is not ok", "write tools", "check_profile_health prod"):
        assert expected in problems
