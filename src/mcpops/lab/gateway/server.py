"""The HTTP layer: routing, admin auth, JSON bodies and errors, request logging (never a secret)."""

import hmac
import json
import os
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from . import VERSION, fsutil
from . import tokens as tokens_api
from .audit import Audit, actor_fields
from .backups import Backups
from .errors import ApiError
from .jobs import Jobs
from .mcp import INVALID_REQUEST, PARSE_ERROR, AuthFailure, McpService, _error
from .metrics import PROMETHEUS_TYPE, GatewayMetrics, render

MAX_BODY = 10 * 1024 * 1024
_RESTORE = re.compile(r"^/api/system/backups/([^/]*)/restore$")
_REVOKE = re.compile(r"^/api/mcp-tokens/([^/]+)/revoke$")
_TOKEN = re.compile(r"^/api/mcp-tokens/([^/]+)$")
# Who acts (docs/dev/contract-operator-identity.md): two optional headers on an admin call, recorded as the audit
# line's actor. On the wire printable ASCII, other characters percent-encoded UTF-8; decoded, 1-128 characters with
# no control character and no space at either end (the collection's _gateway/operator_identity.py, written again).
ACTOR_HEADERS = (("breakGlass", "X-Mcpops-Break-Glass"), ("operator", "X-Mcpops-Operator"))
_CTRL = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_ACTOR_VALUE = re.compile(r"\A[^\s%s](?:[^%s]{0,126}[^\s%s])?\Z" % (_CTRL, _CTRL, _CTRL))
_ACTOR_WIRE = re.compile(r"\A[\x20-\x7e]{1,1536}\Z")


def actor_of(headers):
    """The actor of an admin call from its headers (null for one not sent); ApiError 400 for a bad one."""
    found = {}
    for key, name in ACTOR_HEADERS:
        raw = headers.get_all(name) or []
        if not raw:
            found[key] = None
            continue
        value = None
        if len(raw) == 1 and _ACTOR_WIRE.match(raw[0]):
            try:
                value = unquote(raw[0], encoding="utf-8", errors="strict")
            except UnicodeDecodeError:
                value = None
        if value is None or not _ACTOR_VALUE.match(value):
            raise ApiError(400, "invalid_actor", "header %s must be sent once, as printable ASCII (other characters "
                           "percent-encoded UTF-8), and decode to 1-128 characters with no control character and no "
                           "space at either end; nothing was changed" % name)
        found[key] = value
    return actor_fields(found["breakGlass"], found["operator"])


class Gateway:
    """Everything a request handler needs."""

    def __init__(self, config, store, stop_event):
        self.config = config
        self.store = store
        self.audit = Audit(store)
        self.backups = Backups(store, self.audit, reserve_bytes=config.reserve_bytes)
        self.jobs = Jobs(store, config.discover_seconds, stop_event, config.discover_release_file)
        self.mcp = McpService(store, self.audit)
        self.admin_token = config.admin_token.encode("utf-8")
        self.metrics = GatewayMetrics()

    def admin_ok(self, header):
        if not self.admin_token or not header or not header.lower().startswith("bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode("utf-8"), self.admin_token)

    def readiness(self):
        storage = "ok"
        meta = self.store.storage_meta()
        if not meta["ok"] or not all(s["ok"] for s in meta["stores"].values()):
            storage = "failing: a store no longer parses"
        elif not os.path.isdir(self.store.data_dir):
            storage = "failing: data dir missing"
        index = "ok"
        if not os.path.isdir(os.path.join(self.store.data_dir, "index")):
            index = "failing: index/ missing"
        elif self.jobs.last_failed():
            index = "failing: last index.discover job failed"
        return {"storage": storage, "index": index}


class Handler(BaseHTTPRequestHandler):
    server_version = "onec-mcp-gateway/" + VERSION
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        try:  # one response is headers + body in two writes; do not let Nagle hold the body back
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    @property
    def gw(self):
        return self.server.gateway

    def date_time_string(self, timestamp=None):
        if timestamp is None:
            timestamp = time.time() + self.gw.config.clock_offset_seconds
        return super().date_time_string(timestamp)

    def send_header(self, keyword, value):
        if keyword == "Date" and not self.gw.config.send_date_header:
            return
        super().send_header(keyword, value)

    # -- plumbing ----------------------------------------------------------------------------
    def log_message(self, fmt, *args):  # one line per request, no headers, no query secrets
        pass

    def _counted(self, status):
        # Counted and logged before the answer leaves: a client that has the answer can read its metric and line.
        self.gw.metrics.response(status)
        try:
            self._log(status)
        except OSError:  # a log that cannot be written does not cost the client its answer
            pass

    def _log(self, status):
        path = urlsplit(self.path).path
        sys.stderr.write("%s %s %s %s %d\n" % (fsutil.iso_ms(), self.client_address[0], self.command, path, status))
        sys.stderr.flush()

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise ApiError(411, "length_required", "send a Content-Length body")
        try:
            length = int(length or 0)
        except ValueError:
            raise ApiError(400, "bad_request", "bad Content-Length")
        if length > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, "payload_too_large", "body over %d bytes" % MAX_BODY)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status, body=None, headers=None, content_type="application/json"):
        data = b""
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self._counted(status)
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _send_metrics(self):
        gw = self.gw
        data = render(gw.metrics.families(VERSION, gw.readiness(), gw.backups.list())).encode("utf-8")
        self._counted(200)
        self.send_response(200)
        self.send_header("Content-Type", PROMETHEUS_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json_body(self, raw, required=True):
        if not raw.strip():
            if required:
                raise ApiError(400, "invalid_json", "a JSON body is required")
            return {}
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "invalid_json", "body is not valid JSON: %s" % exc)

    def _dispatch(self):
        try:
            raw = self._read_body()
            split = urlsplit(self.path)
            path = split.path
            if path == "/mcp":
                return self._mcp(raw)
            if path == "/metrics":  # no auth, as /healthz: counts only, no client or token
                _only(self.command, "GET", "HEAD")
                return self._send_metrics()
            status, body, headers = self._route(self.command, path, parse_qs(split.query), raw)
            self._send(status, body, headers)
        except ApiError as exc:
            self._send(exc.status, exc.body(), exc.headers)
        except Exception as exc:  # never leak a traceback (or anything in it) to the client
            sys.stderr.write("internal error on %s %s: %s\n" % (self.command, urlsplit(self.path).path,
                                                                exc.__class__.__name__))
            self._send(500, {"error": {"code": "internal", "message": "internal error"}})

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = lambda self: self._dispatch()

    # -- routes ------------------------------------------------------------------------------
    def _route(self, method, path, query, raw):
        gw = self.gw
        ip = self.client_address[0]
        if path == "/healthz":
            _only(method, "GET", "HEAD")
            return 200, {"status": "ok", "version": VERSION}, None
        if path == "/readyz":
            _only(method, "GET", "HEAD")
            checks = gw.readiness()
            ready = all(v == "ok" for v in checks.values())
            return (200 if ready else 503), {"status": "ready" if ready else "not_ready", "checks": checks}, None
        if not path.startswith("/api/"):
            raise ApiError(404, "not_found", "no such endpoint: %s" % path)
        if not gw.admin_ok(self.headers.get("Authorization")):
            raise ApiError(401, "unauthorized", "admin Bearer token required", {"WWW-Authenticate": "Bearer"})
        # Every audit line this admin call writes names who made it (null where the call named nobody).
        with gw.audit.acting(actor_of(self.headers)):
            return self._admin_route(method, path, query, raw, ip)

    def _admin_route(self, method, path, query, raw, ip):
        gw = self.gw
        if path == "/api/system/storage-meta":
            _only(method, "GET")
            meta = gw.store.storage_meta()
            meta.pop("ok", None)
            return 200, meta, None
        if path == "/api/system/backups":
            _only(method, "GET", "POST")
            if method == "GET":
                return 200, {"backups": gw.backups.list()}, None
            return 201, {"backup": gw.backups.create(ip=ip)}, None
        match = _RESTORE.match(path)
        if match:
            _only(method, "POST")
            return 200, gw.backups.restore(unquote(match.group(1)), gw.jobs, ip=ip), None
        if path.startswith("/api/system/backups/"):
            rest = unquote(path[len("/api/system/backups/"):])
            if rest.endswith("/restore"):
                raise ApiError(400, "invalid_backup_id", "backup id must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
            raise ApiError(404, "not_found", "no such endpoint: %s" % path)
        if path == "/api/system/jobs":
            _only(method, "GET")
            return 200, {"jobs": gw.jobs.list()}, None
        if path == "/api/system/index/discover":
            _only(method, "POST")
            job, started = gw.jobs.start_discover()
            gw.audit.event("index.discover.started", ip=ip, path=path, status=202, jobId=job["id"],
                           alreadyRunning=not started)
            return 202, {"job": job}, None
        if path == "/api/mcp-tokens":
            _only(method, "GET", "POST")
            if method == "GET":
                return 200, tokens_api.list_tokens(gw.store, query), None
            record, secret = tokens_api.create_token(gw.store, gw.audit, self._json_body(raw), ip=ip)
            return 201, {"token": record, "secret": secret}, None
        match = _REVOKE.match(path)
        if match:
            _only(method, "POST")
            record, already = tokens_api.revoke_token(gw.store, gw.audit, unquote(match.group(1)), ip=ip)
            return 200, {"token": record, "alreadyRevoked": already}, None
        match = _TOKEN.match(path)
        if match:
            _only(method, "GET", "PATCH")
            token_id = unquote(match.group(1))
            if method == "GET":
                with gw.store.lock:
                    return 200, {"token": tokens_api.public(tokens_api.find(gw.store, token_id))}, None
            return 200, {"token": tokens_api.patch_token(gw.store, gw.audit, token_id, self._json_body(raw), ip=ip)}, None
        raise ApiError(404, "not_found", "no such endpoint: %s" % path)

    # -- /mcp --------------------------------------------------------------------------------
    def _mcp(self, raw):
        gw = self.gw
        ip = self.client_address[0]
        method = self.command
        if method not in ("POST", "DELETE"):
            raise ApiError(405, "method_not_allowed", "use POST for /mcp (no server-initiated stream)",
                           {"Allow": "POST, DELETE"})
        try:
            token = gw.mcp.authenticate(self.headers.get("Authorization"), ip, "/mcp", count=(method == "POST"))
        except AuthFailure as failure:
            gw.metrics.auth_failure(failure.status, failure.reason)
            codes = {401: "unauthorized", 403: "forbidden", 429: "rate_limited"}
            headers = {}
            if failure.status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="mcp"'
            if failure.retry_after:
                headers["Retry-After"] = failure.retry_after
            raise ApiError(failure.status, codes[failure.status], "MCP token %s" % failure.reason.replace("_", " "),
                           headers)
        sid = self.headers.get("Mcp-Session-Id")
        if method == "DELETE":
            gw.mcp.end_session(sid, token) if sid else None
            return self._send(200, {})
        try:
            message = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            return self._send(400, _error(None, PARSE_ERROR, "parse error"))
        if not isinstance(message, dict):
            return self._send(400, _error(None, INVALID_REQUEST, "send one JSON-RPC message per POST"))
        is_init = message.get("method") == "initialize"
        if sid and not is_init and not gw.mcp.session_ok(sid, token):
            return self._send(404, _error(message.get("id"), INVALID_REQUEST, "unknown or ended session"))
        response, headers = gw.mcp.handle(message, token, ip)
        if response is None:
            return self._send(202, None)
        self._send(200, response, headers)


def _only(method, *allowed):
    if method not in allowed:
        raise ApiError(405, "method_not_allowed", "use %s" % " or ".join(allowed), {"Allow": ", ".join(allowed)})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, gateway):
        self.gateway = gateway
        super().__init__(address, Handler)


def serve(config, store, stop_event):
    gateway = Gateway(config, store, stop_event)
    server = Server((config.host, config.port), gateway)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True)
    return server, thread
