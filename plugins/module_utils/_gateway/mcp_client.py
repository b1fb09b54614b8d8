# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A minimal MCP Streamable HTTP client (JSON-RPC 2.0 over POST) on the gateway client's request core."""

from __future__ import annotations

import itertools
import json

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import NoAnswer, UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.secret_redaction import redact_text
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import decode_error_body

PROTOCOL_VERSION = "2025-06-18"
SESSION_HEADER = "Mcp-Session-Id"


class McpError(Exception):
    """An MCP call that failed: the method, the endpoint, the HTTP status or JSON-RPC error."""

    def __init__(self, rpc_method, endpoint, status=None, detail=None):
        self.rpc_method = rpc_method
        self.endpoint = endpoint
        self.status = status
        self.detail = detail
        where = "MCP %s at %s" % (rpc_method, endpoint)
        if status is not None:
            where += " -> HTTP %s" % status
        super().__init__("%s: %s" % (where, detail) if detail else where)


def parse_sse(text):
    """The JSON-RPC messages carried by a text/event-stream body (`data:` lines, events split by blank lines)."""
    messages = []
    data_lines = []
    for line in text.splitlines() + [""]:
        if line == "":
            if data_lines:
                payload = "\n".join(data_lines)
                data_lines = []
                try:
                    messages.append(json.loads(payload))
                except ValueError:
                    raise ValueError("an SSE event's data is not JSON: %r" % payload[:120])
            continue
        if line.startswith(":"):
            continue  # an SSE comment / keep-alive
        field, dummy, value = line.partition(":")
        if field == "data":
            data_lines.append(value[1:] if value.startswith(" ") else value)
    return messages


def tool_result_payload(result):
    """A tools/call result as data: structuredContent, else the JSON of its first text, else the text."""
    if not isinstance(result, dict):
        return result
    if isinstance(result.get("structuredContent"), (dict, list)):
        return result["structuredContent"]
    for item in result.get("content") or []:
        if isinstance(item, dict) and item.get("type") == "text":
            try:
                return json.loads(item.get("text", ""))
            except ValueError:
                return item.get("text")
    return None


class McpClient:
    """One MCP endpoint with a Bearer MCP token (never in any message) and the session it is given."""

    def __init__(self, url, token, validate_certs=True, timeout=10):
        self.url = url
        self._token = token
        self.timeout = timeout
        self.session_id = None
        self.server_info = None
        self._ids = itertools.count(1)
        self._transport = UrllibTransport(validate_certs, timeout)

    def _redact(self, text):
        return redact_text(str(text), self._token) if text else text

    def _post(self, rpc_method, message):
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": PROTOCOL_VERSION,
            "Authorization": "Bearer %s" % self._token,
        }
        if self.session_id:
            headers[SESSION_HEADER] = self.session_id
        try:
            answer = self._transport.exchange("POST", self.url, json.dumps(message).encode("utf-8"), headers)
        except NoAnswer as exc:
            raise McpError(rpc_method, self.url, None, "no answer (%s)" % self._redact(exc))
        if not 200 <= answer.status <= 299:
            code, text = decode_error_body(answer.body)
            detail = " ".join(str(part) for part in (code, text) if part) or answer.reason
            raise McpError(rpc_method, self.url, answer.status, self._redact(detail))
        session = answer.headers.get(SESSION_HEADER)
        if session:
            self.session_id = session
        content_type = (answer.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        return answer.status, content_type, answer.body

    def _rpc(self, rpc_method, params=None):
        request_id = next(self._ids)
        message = {"jsonrpc": "2.0", "id": request_id, "method": rpc_method}
        if params is not None:
            message["params"] = params
        status, content_type, raw = self._post(rpc_method, message)
        text = raw.decode("utf-8", "replace")
        try:
            if content_type == "text/event-stream":
                candidates = parse_sse(text)
            else:
                candidates = [json.loads(text)] if text.strip() else []
        except ValueError as exc:
            raise McpError(rpc_method, self.url, status, "unparsable %s response: %s" % (content_type or "untyped", exc))
        for candidate in candidates:
            batch = candidate if isinstance(candidate, list) else [candidate]
            for reply in batch:
                if isinstance(reply, dict) and reply.get("id") == request_id:
                    if "error" in reply:
                        error = reply["error"] if isinstance(reply["error"], dict) else {"message": reply["error"]}
                        raise McpError(
                            rpc_method, self.url, status,
                            self._redact("JSON-RPC error %s: %s" % (error.get("code"), error.get("message"))),
                        )
                    return reply.get("result")
        raise McpError(rpc_method, self.url, status, "no JSON-RPC response with id %d in the %s body" % (request_id, content_type or "untyped"))

    def _notify(self, rpc_method):
        self._post(rpc_method, {"jsonrpc": "2.0", "method": rpc_method})

    def initialize(self, client_name="mcpops.runbooks", client_version="0.1.0"):
        result = self._rpc(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": client_name, "version": client_version},
            },
        )
        self.server_info = result
        self._notify("notifications/initialized")
        return result

    def list_tools(self):
        """Tool names and schemas, following nextCursor pages."""
        tools = []
        params = {}
        while True:
            result = self._rpc("tools/list", params) or {}
            tools.extend(result.get("tools") or [])
            cursor = result.get("nextCursor")
            if not cursor:
                return tools
            params = {"cursor": cursor}

    def call_tool(self, name, arguments=None):
        """The raw tools/call result ({content, isError, structuredContent?})."""
        return self._rpc("tools/call", {"name": name, "arguments": arguments or {}})
