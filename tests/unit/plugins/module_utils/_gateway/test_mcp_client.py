"""_gateway/mcp_client.py: the session flow over SSE and JSON, errors, redaction."""

import json

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.mcp_client import (
    McpClient,
    McpError,
    parse_sse,
    tool_result_payload,
)

CANARY = "mcp_c0de" + "CANARYsecretCANARYsecretCANARYsecret1234"


def sse(*messages, comment=True):
    parts = [": keep-alive\n\n"] if comment else []
    for message in messages:
        parts.append("event: message\ndata: %s\n\n" % json.dumps(message))
    return "".join(parts)


def mcp_route(replies, session="sess-1", content_type="text/event-stream"):
    """Answer each JSON-RPC request by method; notifications get 202."""

    def route(handler, body):
        message = json.loads(body)
        if "id" not in message:
            return 202, {}, b""
        result = replies[message["method"]]
        if isinstance(result, tuple):
            return result
        reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        headers = {"Content-Type": content_type, "Mcp-Session-Id": session}
        payload = sse(reply) if content_type == "text/event-stream" else json.dumps(reply)
        return 200, headers, payload

    return route


REPLIES = {
    "initialize": {"protocolVersion": "2025-06-18", "serverInfo": {"name": "stub"}, "capabilities": {}},
    "tools/list": {"tools": [{"name": "list_profiles"}, {"name": "check_profile_health"}]},
    "tools/call": {"content": [{"type": "text", "text": '{"profiles": [{"name": "prod"}]}'}], "isError": False},
}


@pytest.mark.parametrize("content_type", ["text/event-stream", "application/json"])
def test_session_flow_over_sse_and_json(stub, content_type):
    stub.routes[("POST", "/mcp")] = mcp_route(REPLIES, content_type=content_type)
    client = McpClient(stub.url + "/mcp", CANARY)
    client.initialize()
    assert client.session_id == "sess-1"
    assert [t["name"] for t in client.list_tools()] == ["list_profiles", "check_profile_health"]
    payload = tool_result_payload(client.call_tool("list_profiles"))
    assert payload == {"profiles": [{"name": "prod"}]}
    init_body = json.loads(stub.requests[0]["body"])
    assert init_body["params"]["protocolVersion"] == "2025-06-18"
    assert "Mcp-Session-Id" not in stub.requests[0]["headers"]
    methods = [json.loads(r["body"])["method"] for r in stub.requests]
    assert methods == ["initialize", "notifications/initialized", "tools/list", "tools/call"]
    for request in stub.requests[1:]:
        assert request["headers"]["Mcp-Session-Id"] == "sess-1"
        assert request["headers"]["Authorization"] == "Bearer " + CANARY
    assert "text/event-stream" in stub.requests[0]["headers"]["Accept"]


def test_parse_sse_multiline_and_comments():
    text = ": ping\n\nid: 1\ndata: {\"a\":\ndata: 1}\n\ndata:{\"b\": 2}\n"
    assert parse_sse(text) == [{"a": 1}, {"b": 2}]


def test_sse_with_notifications_before_the_reply(stub):
    def route(handler, body):
        message = json.loads(body)
        if "id" not in message:
            return 202, {}, b""
        note = {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info"}}
        reply = {"jsonrpc": "2.0", "id": message["id"], "result": REPLIES.get(message["method"], {})}
        return 200, {"Content-Type": "text/event-stream; charset=utf-8"}, sse(note, reply)

    stub.routes[("POST", "/mcp")] = route
    client = McpClient(stub.url + "/mcp", CANARY)
    assert client.initialize()["serverInfo"]["name"] == "stub"


@pytest.mark.parametrize("status,code", [(401, "unauthorized"), (403, "token_revoked"), (429, "rate_limited")])
def test_http_errors_name_method_status_and_hide_token(stub, status, code):
    stub.routes[("POST", "/mcp")] = (
        status, {"Content-Type": "application/json"},
        {"error": {"code": code, "message": "token %s" % CANARY}},
    )
    with pytest.raises(McpError) as exc:
        McpClient(stub.url + "/mcp", CANARY).initialize()
    text = str(exc.value)
    assert "MCP initialize at %s/mcp -> HTTP %d" % (stub.url, status) in text and code in text
    assert CANARY not in text


def test_jsonrpc_error(stub):
    replies = dict(REPLIES)
    stub.routes[("POST", "/mcp")] = mcp_route(replies)

    def error_route(handler, body):
        message = json.loads(body)
        if message.get("method") == "tools/call":
            reply = {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32602, "message": "unknown tool"}}
            return 200, {"Content-Type": "text/event-stream"}, sse(reply)
        return mcp_route(replies)(handler, body)

    stub.routes[("POST", "/mcp")] = error_route
    client = McpClient(stub.url + "/mcp", CANARY)
    client.initialize()
    with pytest.raises(McpError, match="JSON-RPC error -32602: unknown tool"):
        client.call_tool("nope")


def test_bad_sse_and_missing_reply(stub):
    stub.routes[("POST", "/mcp")] = (200, {"Content-Type": "text/event-stream"}, "data: {not json\n\n")
    with pytest.raises(McpError, match="unparsable text/event-stream"):
        McpClient(stub.url + "/mcp", CANARY).initialize()
    stub.routes[("POST", "/mcp")] = (200, {"Content-Type": "application/json"}, {"jsonrpc": "2.0", "id": 999, "result": {}})
    with pytest.raises(McpError, match="no JSON-RPC response with id"):
        McpClient(stub.url + "/mcp", CANARY).initialize()


def test_no_answer():
    with pytest.raises(McpError, match="no answer"):
        McpClient("http://127.0.0.1:9/mcp", CANARY, timeout=2).list_tools()


def test_tool_result_payload_variants():
    assert tool_result_payload({"structuredContent": {"ok": True}, "content": []}) == {"ok": True}
    assert tool_result_payload({"content": [{"type": "text", "text": "plain"}]}) == "plain"
    assert tool_result_payload({"content": []}) is None


def test_http_error_without_a_body_names_the_reason_phrase(stub):
    stub.routes[("POST", "/mcp")] = (502, {}, b"")
    with pytest.raises(McpError) as exc:
        McpClient(stub.url + "/mcp", CANARY).initialize()
    assert str(exc.value) == "MCP initialize at %s/mcp -> HTTP 502: Bad Gateway" % stub.url
    assert exc.value.status == 502
