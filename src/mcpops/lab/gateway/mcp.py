"""MCP over Streamable HTTP (JSON-RPC 2.0, one JSON response per POST): auth, rate limits, tools."""

import base64
import collections
import json
import math
import os
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.request

from . import VERSION
from .audit import token_fields
from .tokens import lookup_secret

DEFAULT_PROTOCOL_VERSION = "2025-06-18"
WRITE_PREFIXES = ("write_", "create_", "update_", "delete_")

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32601, -32602, -32603
FORBIDDEN = -32001

_PROFILE_ARG = {"type": "object", "properties": {"profile": {"type": "string", "description": "profile name"}},
                "required": ["profile"]}
READ_TOOLS = [
    {"name": "list_profiles", "description": "List the configured 1C profiles.",
     "inputSchema": {"type": "object", "properties": {}}, "annotations": {"readOnlyHint": True}},
    {"name": "get_active_profile", "description": "The profile this token works against.",
     "inputSchema": {"type": "object", "properties": {}}, "annotations": {"readOnlyHint": True}},
    {"name": "check_profile_health",
     "description": "Configuration checks for a profile: it exists, odataUrl is https, its passwordEnv is set.",
     "inputSchema": _PROFILE_ARG, "annotations": {"readOnlyHint": True}},
    {"name": "check_connection_health",
     "description": "GET <odataUrl>/$metadata with a 5 s timeout; status, latency and error.",
     "inputSchema": _PROFILE_ARG, "annotations": {"readOnlyHint": True}},
]
_DOC_ARG = {"type": "object", "properties": {"profile": {"type": "string"}, "entity": {"type": "string"},
                                             "fields": {"type": "object"}}, "required": ["entity", "fields"]}
WRITE_TOOLS = [
    {"name": "create_document", "description": "Create a 1C document (non-production profiles only).",
     "inputSchema": _DOC_ARG, "annotations": {"readOnlyHint": False, "destructiveHint": False}},
    {"name": "update_document", "description": "Update a 1C document (non-production profiles only).",
     "inputSchema": {"type": "object", "properties": {"profile": {"type": "string"}, "entity": {"type": "string"},
                                                      "key": {"type": "string"}, "fields": {"type": "object"}},
                     "required": ["entity", "key", "fields"]},
     "annotations": {"readOnlyHint": False, "destructiveHint": True}},
]

# Lab only (ONEC_MCP_LAB_UNSAFE_WRITE_TOOL=1, from the environment or ONEC_MCP_ENV_FILE): a gateway that lists a write
# tool to every token, production-bound ones too. Its name has no write prefix: only its annotations say that it
# writes, which is what the runbooks' post-incident validation must catch. Calling it is always refused.
UNSAFE_WRITE_TOOL_ENV = "ONEC_MCP_LAB_UNSAFE_WRITE_TOOL"
UNSAFE_WRITE_TOOL = {
    "name": "import_documents", "description": "Import 1C documents in bulk (lab fault: listed on every profile).",
    "inputSchema": _DOC_ARG, "annotations": {"readOnlyHint": False, "destructiveHint": True},
}


def unsafe_write_tool_on():
    return (os.environ.get(UNSAFE_WRITE_TOOL_ENV) or "0") not in ("0", "")


class AuthFailure(Exception):
    def __init__(self, status, reason, token=None, prefix=None, retry_after=None):
        super().__init__(reason)
        self.status, self.reason, self.token, self.prefix, self.retry_after = status, reason, token, prefix, retry_after


class RpcError(Exception):
    def __init__(self, code, message, data=None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def profile_view(profile):
    return {"name": profile.get("name"), "environment": profile.get("environment"),
            "odataUrl": profile.get("odataUrl"), "passwordEnv": profile.get("passwordEnv"),
            "writeTools": bool(profile.get("writeTools"))}


class RateLimiter:
    """Sliding 60 s window of accepted requests per token."""

    def __init__(self, window=60.0):
        self.window = window
        self.lock = threading.Lock()
        self.hits = collections.defaultdict(collections.deque)

    def allow(self, token_id, per_minute, now=None):
        now = time.monotonic() if now is None else now
        with self.lock:
            hits = self.hits[token_id]
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= per_minute:
                return False, max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            return True, 0


class McpService:
    def __init__(self, store, audit):
        self.store = store
        self.audit = audit
        self.limiter = RateLimiter()
        self.sessions = {}
        self.sessions_lock = threading.Lock()

    # -- auth --------------------------------------------------------------------------------
    def authenticate(self, header, ip, path, count=True):
        """Return the token record or raise AuthFailure (after writing the audit line)."""
        try:
            token = self._check(header, count)
        except AuthFailure as failure:
            event = "rate_limit.exceeded" if failure.status == 429 else "auth.failed"
            fields = token_fields(failure.token) if failure.token else {
                "tokenId": None, "tokenPrefix": failure.prefix, "clientId": None, "orgId": None}
            self.audit.event(event, status=failure.status, ip=ip, path=path, reason=failure.reason, **fields)
            raise
        return token

    def _check(self, header, count):
        if not header or not header.lower().startswith("bearer ") or not header[7:].strip():
            raise AuthFailure(401, "missing_token")
        secret = header[7:].strip()
        token = lookup_secret(self.store, secret)
        if token is None:
            prefix = secret[:8] if secret.startswith("mcp_") and len(secret) > 8 else None
            raise AuthFailure(401, "unknown_token", prefix=prefix)
        from .tokens import status_of
        status = status_of(token)
        if status != "active":
            raise AuthFailure(403, status, token=token)
        if token.get("blocked"):
            raise AuthFailure(403, "blocked", token=token)
        if count:
            rpm = (token.get("rateLimit") or {}).get("requestsPerMinute") or 60
            ok, retry = self.limiter.allow(token["id"], rpm)
            if not ok:
                raise AuthFailure(429, "rate_limit", token=token, retry_after=retry)
        return token

    # -- sessions ----------------------------------------------------------------------------
    def new_session(self, token):
        sid = secrets.token_hex(16)
        with self.sessions_lock:
            self.sessions[sid] = token["id"]
            if len(self.sessions) > 10000:
                self.sessions.pop(next(iter(self.sessions)))
        return sid

    def session_ok(self, sid, token):
        with self.sessions_lock:
            return self.sessions.get(sid) == token["id"]

    def end_session(self, sid, token):
        with self.sessions_lock:
            if self.sessions.get(sid) == token["id"]:
                del self.sessions[sid]
                return True
        return False

    # -- JSON-RPC ----------------------------------------------------------------------------
    def handle(self, message, token, ip):
        """Handle one JSON-RPC message. Return (response dict or None, extra headers)."""
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or not isinstance(message.get("method"), str):
            return _error(message.get("id") if isinstance(message, dict) else None, INVALID_REQUEST,
                          "not a JSON-RPC 2.0 request"), {}
        method = message["method"]
        if "id" not in message:  # a notification
            return None, {}
        rid = message["id"]
        params = message.get("params") or {}
        if not isinstance(params, dict):
            return _error(rid, INVALID_PARAMS, "params must be an object"), {}
        headers = {}
        try:
            if method == "initialize":
                version = params.get("protocolVersion")
                result = {"protocolVersion": version if isinstance(version, str) and version else DEFAULT_PROTOCOL_VERSION,
                          "capabilities": {"tools": {"listChanged": False}},
                          "serverInfo": {"name": "onec-mcp-gateway", "version": VERSION},
                          "instructions": "Reference 1C MCP gateway (mcpops lab)."}
                headers["Mcp-Session-Id"] = self.new_session(token)
                self.audit.event("auth.ok", status=200, ip=ip, path="/mcp", method="initialize", **token_fields(token))
            elif method == "ping":
                result = {}
            elif method == "tools/list":
                result = {"tools": self.tools_for(token)}
            elif method == "tools/call":
                result = self.call_tool(params, token, ip)
            else:
                raise RpcError(METHOD_NOT_FOUND, "method not found: %s" % method)
        except RpcError as exc:
            return _error(rid, exc.code, exc.message, exc.data), headers
        return {"jsonrpc": "2.0", "id": rid, "result": result}, headers

    # -- tools -------------------------------------------------------------------------------
    def bound_profile(self, token):
        with self.store.lock:
            name = token.get("profile")
            if name:
                return self.store.profile(name)
            for profile in self.store.profiles:
                if profile.get("environment") == "production":
                    return profile
            return None

    def write_allowed(self, token):
        name = token.get("profile")
        profile = self.store.profile(name) if name else None
        return bool(profile and profile.get("environment") != "production" and profile.get("writeTools") is True)

    def tools_for(self, token):
        tools = [dict(t) for t in READ_TOOLS]
        if self.write_allowed(token):
            tools += [dict(t) for t in WRITE_TOOLS]
        if unsafe_write_tool_on():
            tools.append(dict(UNSAFE_WRITE_TOOL))
        return tools

    def call_tool(self, params, token, ip):
        name = params.get("name")
        args = params.get("arguments") or {}
        if not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, "tools/call needs a tool name")
        if not isinstance(args, dict):
            raise RpcError(INVALID_PARAMS, "arguments must be an object")
        if name == UNSAFE_WRITE_TOOL["name"] and unsafe_write_tool_on():
            self._record(token, ip, name, "denied", reason="write_tools_not_allowed")
            raise RpcError(FORBIDDEN, "write tool %s is listed by a lab fault and never runs" % name)
        known = {t["name"] for t in READ_TOOLS + WRITE_TOOLS}
        if name not in known:
            self._record(token, ip, name, "error", reason="unknown_tool")
            raise RpcError(INVALID_PARAMS, "unknown tool: %s" % name)
        if name.startswith(WRITE_PREFIXES) and not self.write_allowed(token):
            self._record(token, ip, name, "denied", reason="write_tools_not_allowed")
            raise RpcError(FORBIDDEN, "write tool %s is not available for this token's profile" % name)
        rows = None
        is_error = False
        if name == "list_profiles":
            with self.store.lock:
                profiles = [profile_view(p) for p in self.store.profiles]
            result = {"profiles": profiles, "count": len(profiles)}
            rows = len(profiles)
        elif name == "get_active_profile":
            profile = self.bound_profile(token)
            result = {"profile": profile_view(profile) if profile else None,
                      "source": "token" if token.get("profile") else "default"}
            is_error = profile is None
            rows = 1 if profile else 0
        elif name == "check_profile_health":
            result = self.profile_health(args.get("profile"))
            is_error = not result.get("exists", False)
        elif name == "check_connection_health":
            result = self.connection_health(args.get("profile"))
            is_error = not result.get("exists", False)
        else:
            result = self.write_document(name, args, token)
        self._record(token, ip, name, "error" if is_error else "ok", rows=rows)
        return {"content": [{"type": "text", "text": json.dumps(result, ensure_ascii=False)}],
                "structuredContent": result, "isError": is_error}

    def _record(self, token, ip, tool, status, rows=None, reason=None):
        self.audit.event("tool.called", status=200, ip=ip, path="/mcp", tool=tool, rows=rows, result=status,
                         reason=reason, **token_fields(token))
        self.audit.usage(token, tool, status)

    def profile_health(self, name):
        profile = self.store.profile(name) if isinstance(name, str) else None
        checks = [{"name": "exists", "ok": profile is not None}]
        if profile is None:
            return {"profile": name, "exists": False, "healthy": False, "checks": checks,
                    "error": "unknown profile %r" % (name,)}
        url = profile.get("odataUrl") or ""
        checks.append({"name": "odata_https", "ok": isinstance(url, str) and url.lower().startswith("https://")})
        env = profile.get("passwordEnv")
        present = bool(env) and bool(os.environ.get(env))
        checks.append({"name": "password_env", "ok": present, "env": env, "present": present})
        return {"profile": name, "exists": True, "environment": profile.get("environment"),
                "healthy": all(c["ok"] for c in checks), "checks": checks}

    def connection_health(self, name, timeout=5.0):
        profile = self.store.profile(name) if isinstance(name, str) else None
        if profile is None:
            return {"profile": name, "exists": False, "healthy": False, "status": None, "latency_ms": None,
                    "error": "unknown profile %r" % (name,)}
        base = (profile.get("odataUrl") or "").rstrip("/")
        url = base + "/$metadata"
        request = urllib.request.Request(url, method="GET", headers={"Accept": "application/xml"})
        password = os.environ.get(profile.get("passwordEnv") or "") or ""
        if password:
            user = profile.get("user") or "mcp"
            request.add_header("Authorization", "Basic " + base64.b64encode(
                ("%s:%s" % (user, password)).encode("utf-8")).decode("ascii"))
        status, error, body_ok = None, None, False
        started = time.monotonic()
        try:
            # direct connection (no *_proxy variables); TLS verified against the default store, which
            # honours SSL_CERT_FILE (the lab points it at its test CA)
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                 urllib.request.HTTPSHandler(context=ssl.create_default_context()))
            with opener.open(request, timeout=timeout) as response:
                status = response.status
                head = response.read(65536)
                body_ok = b"<" in head[:1024]
        except urllib.error.HTTPError as exc:
            status, error = exc.code, "HTTP %d %s" % (exc.code, exc.reason)
        except urllib.error.URLError as exc:
            error = _describe(exc.reason)
        except (OSError, ValueError) as exc:
            error = _describe(exc)
        latency = int(round((time.monotonic() - started) * 1000))
        if error is None and not (status == 200 and body_ok):
            error = "HTTP %s without an XML body" % status
        if password and error:
            error = error.replace(password, "***")
        return {"profile": name, "exists": True, "url": url, "healthy": error is None, "status": status,
                "latency_ms": latency, "error": error}

    def write_document(self, name, args, token):
        profile = self.store.profile(args.get("profile")) if args.get("profile") else self.bound_profile(token)
        if profile is None or profile.get("environment") == "production" or not profile.get("writeTools"):
            raise RpcError(FORBIDDEN, "write tool %s is not available on profile %r" % (name, args.get("profile")))
        entity = args.get("entity")
        if not isinstance(entity, str) or not isinstance(args.get("fields"), dict):
            raise RpcError(INVALID_PARAMS, "%s needs entity (string) and fields (object)" % name)
        return {"accepted": True, "dryRun": True, "profile": profile.get("name"), "entity": entity,
                "key": args.get("key") or "ref_" + secrets.token_hex(4)}


def _describe(reason):
    if isinstance(reason, ssl.SSLCertVerificationError):
        return "TLS certificate verification failed: %s" % (reason.verify_message or reason)
    if isinstance(reason, TimeoutError) or reason.__class__.__name__ == "timeout":
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return "%s: %s" % (reason.__class__.__name__, reason.strerror)
    return "%s: %s" % (reason.__class__.__name__, reason)


def _error(rid, code, message, data=None):
    error = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": rid, "error": error}
