# -*- coding: utf-8 -*-
# Copyright: mcpops-runbooks engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small client of the gateway's HTTP API (gateway-contract.md), standard library only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import socket
import ssl
from http import client as http_client
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit
from urllib.request import HTTPSHandler, Request, build_opener

from ansible_collections.mcpops.runbooks.plugins.module_utils.backup_id import validate_backup_id

DEFAULT_API_URL = "http://127.0.0.1:3000"


class GatewayError(Exception):
    """A call that did not succeed: method, endpoint, HTTP status and the contract's error code/message."""

    def __init__(self, method, endpoint, status=None, code=None, message=None):
        self.method = method
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.message = message
        if status is None:
            text = "%s %s: no answer (%s)" % (method, endpoint, message)
        else:
            text = "%s %s -> HTTP %s" % (method, endpoint, status)
            if code:
                text += " %s" % code
            if message:
                text += ": %s" % message
        super(GatewayError, self).__init__(text)


def make_ssl_context(validate_certs):
    context = ssl.create_default_context()
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def decode_error_body(raw):
    """(code, message) from {"error": {"code", "message"}}, or (None, short text) for anything else."""
    text = raw.decode("utf-8", "replace") if raw else ""
    try:
        body = json.loads(text)
    except ValueError:
        return None, text.strip()[:200] or None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error.get("code"), error.get("message")
    if isinstance(error, str):
        return error, None
    return None, text.strip()[:200] or None


class GatewayClient:
    """One gateway: base url, admin token (never in any message), TLS context built once, timeout."""

    def __init__(self, base_url=DEFAULT_API_URL, token=None, validate_certs=True, timeout=10):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self._opener = build_opener(HTTPSHandler(context=make_ssl_context(validate_certs)))

    def _redact(self, text):
        if text and self._token:
            return text.replace(self._token, "********")
        return text

    def request(self, method, path, body=None, auth=True, ok=(200,)):
        """(status, parsed JSON body) for a call whose status is in ok; GatewayError otherwise."""
        endpoint = self.base_url + path
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if auth:
            if not self._token:
                raise GatewayError(method, endpoint, None, None, "api_token is required for this endpoint")
            headers["Authorization"] = "Bearer %s" % self._token
        request = Request(endpoint, data=data, headers=headers, method=method)
        try:
            response = self._opener.open(request, timeout=self.timeout)
            status, raw = response.status, response.read()
        except HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (URLError, socket.timeout, ConnectionError, ssl.SSLError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GatewayError(method, endpoint, None, None, self._redact(str(reason)))
        if status not in ok:
            code, message = decode_error_body(raw)
            raise GatewayError(method, endpoint, status, self._redact(code), self._redact(message))
        try:
            parsed = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            raise GatewayError(method, endpoint, status, "bad_response", "the body is not JSON: %r" % self._redact(raw[:120].decode("utf-8", "replace")))
        return status, parsed

    # -- the contract's endpoints -----------------------------------------
    def healthz(self):
        return self.request("GET", "/healthz", auth=False)[1]

    def readyz(self):
        """The /readyz body; a 503 not_ready body is returned too (it names the failing check)."""
        return self.request("GET", "/readyz", auth=False, ok=(200, 503))[1]

    def storage_meta(self):
        return self.request("GET", "/api/system/storage-meta")[1]

    def list_backups(self):
        body = self.request("GET", "/api/system/backups")[1]
        return body.get("backups", []) if isinstance(body, dict) else []

    def create_backup(self):
        body = self.request("POST", "/api/system/backups", body={}, ok=(200, 201))[1]
        return body.get("backup", body) if isinstance(body, dict) else body

    def restore_backup(self, backup_id):
        validate_backup_id(backup_id)
        return self.request("POST", "/api/system/backups/%s/restore" % quote(backup_id, safe=""), body={})[1]

    def jobs(self):
        body = self.request("GET", "/api/system/jobs")[1]
        return body.get("jobs", []) if isinstance(body, dict) else []

    def answers(self):
        """True when /healthz answers 200 at all (the gateway is up)."""
        try:
            self.healthz()
        except GatewayError:
            return False
        return True

    # -- MCP tokens (token_revoke, mcp_token) --------------------------------
    def list_tokens(self, params=None, cursor=None):
        """One page of GET /api/mcp-tokens: (tokens, nextCursor). params: orgId, clientId, prefix, status, limit."""
        query = dict((k, v) for k, v in (params or {}).items() if v is not None)
        if cursor:
            query["cursor"] = cursor
        path = "/api/mcp-tokens"
        if query:
            path += "?" + urlencode(sorted(query.items()))
        body = self.request("GET", path)[1]
        if not isinstance(body, dict) or not isinstance(body.get("tokens"), list):
            raise GatewayError("GET", self.base_url + path, 200, "bad_response", "the body has no tokens list")
        return body["tokens"], body.get("nextCursor") or None

    def get_token(self, token_id):
        validate_token_id(token_id)
        body = self.request("GET", "/api/mcp-tokens/%s" % quote(token_id, safe=""))[1]
        return body.get("token", body) if isinstance(body, dict) else body

    def revoke_token(self, token_id):
        """(record, already_revoked) of POST /api/mcp-tokens/{id}/revoke."""
        validate_token_id(token_id)
        body = self.request("POST", "/api/mcp-tokens/%s/revoke" % quote(token_id, safe=""), body={})[1]
        if not isinstance(body, dict):
            body = {}
        return body.get("token") or {"id": token_id}, bool(body.get("alreadyRevoked"))

    def issue_token(self, body):
        """(record, secret) of POST /api/mcp-tokens. The secret is the caller's to keep out of every result."""
        answer = self.request("POST", "/api/mcp-tokens", body=body, ok=(200, 201))[1]
        if not isinstance(answer, dict) or not isinstance(answer.get("token"), dict) or not answer.get("secret"):
            raise GatewayError("POST", self.base_url + "/api/mcp-tokens", 201, "bad_response", "no token record and secret in the answer")
        return answer["token"], answer["secret"]

    def update_token(self, token_id, body):
        validate_token_id(token_id)
        answer = self.request("PATCH", "/api/mcp-tokens/%s" % quote(token_id, safe=""), body=body)[1]
        return answer.get("token", answer) if isinstance(answer, dict) else answer


TOKEN_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class TokenIdError(ValueError):
    pass


def validate_token_id(token_id):
    """Refuse an id that is not ^[A-Za-z0-9_.-]{1,128}$ or is only dots (a path segment like `..`)."""
    if not isinstance(token_id, str) or not TOKEN_ID_RE.match(token_id) or not token_id.strip("."):
        raise TokenIdError("invalid token id %r: must match ^[A-Za-z0-9_.-]{1,128}$ (and not be only dots)" % (token_id,))
    return token_id


class KeepAliveGatewayClient(GatewayClient):
    """A GatewayClient over one kept-alive http.client connection (HTTP/1.1), for one thread at a time.

    Any failure to get an answer closes the connection (the next call reconnects) and raises GatewayError
    with status None, so that callers can tell transient failures from HTTP errors."""

    def __init__(self, base_url=DEFAULT_API_URL, token=None, validate_certs=True, timeout=10):
        GatewayClient.__init__(self, base_url, token, validate_certs, timeout)
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise GatewayError("GET", self.base_url, None, None, "api_url must be http(s)://host[:port][/path]")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path_prefix = parts.path.rstrip("/")
        self._context = make_ssl_context(validate_certs) if self._https else None
        self._conn = None

    def _connection(self):
        if self._conn is None:
            if self._https:
                self._conn = http_client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=self._context)
            else:
                self._conn = http_client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        return self._conn

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method, path, body=None, auth=True, ok=(200,)):
        endpoint = self.base_url + path
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if auth:
            if not self._token:
                raise GatewayError(method, endpoint, None, None, "api_token is required for this endpoint")
            headers["Authorization"] = "Bearer %s" % self._token
        try:
            conn = self._connection()
            conn.request(method, self._path_prefix + path, body=data, headers=headers)
            response = conn.getresponse()
            status, raw = response.status, response.read()
            if response.will_close:
                self.close()
        except (socket.timeout, OSError, http_client.HTTPException, ssl.SSLError) as exc:
            self.close()
            reason = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
            raise GatewayError(method, endpoint, None, None, self._redact(reason))
        if status not in ok:
            code, message = decode_error_body(raw)
            raise GatewayError(method, endpoint, status, self._redact(code), self._redact(message))
        try:
            parsed = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            raise GatewayError(method, endpoint, status, "bad_response", "the body is not JSON: %r" % self._redact(raw[:120].decode("utf-8", "replace")))
        return status, parsed


def is_transient(error):
    """True for a GatewayError worth retrying: no answer (timeout, reset, refused) or a 5xx."""
    return isinstance(error, GatewayError) and (error.status is None or 500 <= error.status <= 599)
