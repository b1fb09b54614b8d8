# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's HTTP API client (gateway-contract.md), on the request core of _common/http_transport."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import NoAnswer, UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.secret_redaction import redact_text
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.api_args import DEFAULT_API_URL
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.errors import GatewayError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.operator_identity import (
    OperatorIdentity,
    OperatorIdentityError,
)

# A token or backup id goes into a URL path: one segment of these characters, never only dots (`..`).
PATH_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}\Z")  # \Z: a trailing newline is not accepted
# The calls that change the gateway: each carries the operator identity headers (contract-operator-identity.md).
CHANGING_METHODS = ("POST", "PATCH", "PUT", "DELETE")


class IdentityRefused(GatewayError):
    """A changing call not sent because its break-glass account or operator breaks the header rule (never retried)."""

    def __init__(self, method, endpoint, reason):
        super().__init__(method, endpoint, code="invalid_operator_identity", message=reason,
                         text="%s %s: not sent, nothing was changed: %s" % (method, endpoint, reason))


class PathSegmentError(ValueError):
    """An id refused before any request because it is not one safe URL path segment."""


class TokenIdError(PathSegmentError):
    pass


def check_path_segment(value, what, error=PathSegmentError):
    """value when it matches ^[A-Za-z0-9_.-]{1,128}$ and is not only dots; error("invalid <what> ...") otherwise."""
    if not isinstance(value, str) or not PATH_SEGMENT_RE.match(value) or not value.strip("."):
        raise error("invalid %s %r: must match ^[A-Za-z0-9_.-]{1,128}$ (and not be only dots)" % (what, value))
    return value


def validate_token_id(token_id):
    """Refuse an id that is not ^[A-Za-z0-9_.-]{1,128}$ or is only dots (a path segment like `..`)."""
    return check_path_segment(token_id, "token id", TokenIdError)


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


def is_transient(error):
    """True for a GatewayError worth retrying: no answer (timeout, reset, refused) or a 5xx; never a call refused
    before it was sent (IdentityRefused)."""
    if isinstance(error, IdentityRefused):
        return False
    return isinstance(error, GatewayError) and (error.status is None or 500 <= error.status <= 599)


class GatewayClient:
    """One gateway: base url, admin token (never in any message), one transport (TLS context built once), timeout,
    and the operator identity (break-glass account, operator) every changing call carries."""

    def __init__(self, base_url=DEFAULT_API_URL, token=None, validate_certs=True, timeout=10, transport=None,
                 identity=None):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self._transport = transport or UrllibTransport(validate_certs, timeout)
        self.identity = identity or OperatorIdentity()

    @classmethod
    def from_params(cls, params, token_key="api_token"):
        """The client for a module's gateway API options (doc fragment mcpops.runbooks.gateway_api), the operator
        identity included. A bad identity value is not refused here but by the first changing call, before it is
        sent."""
        return cls(params["api_url"], params.get(token_key), params.get("validate_certs", True),
                   params.get("timeout", 10), identity=OperatorIdentity.from_params(params))

    def identity_headers(self, method, endpoint):
        """The identity headers of a changing call ({} for a read); IdentityRefused when a value breaks the rule."""
        if method not in CHANGING_METHODS:
            return {}
        try:
            return self.identity.headers()
        except OperatorIdentityError as exc:
            raise IdentityRefused(method, endpoint, str(exc))

    def _redact(self, text):
        return redact_text(text, self._token)

    def close(self):
        self._transport.close()

    def request(self, method, path, body=None, auth=True, ok=(200,)):
        """(status, parsed JSON body) for a call whose status is in ok; GatewayError otherwise."""
        endpoint = self.base_url + path
        headers = {"Accept": "application/json"}
        headers.update(self.identity_headers(method, endpoint))
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if auth:
            if not self._token:
                raise GatewayError(method, endpoint, None, None, "api_token is required for this endpoint")
            headers["Authorization"] = "Bearer %s" % self._token
        try:
            answer = self._transport.exchange(method, endpoint, data, headers)
        except NoAnswer as exc:
            raise GatewayError(method, endpoint, None, None, self._redact(str(exc)))
        status, raw = answer.status, answer.body
        if status not in ok:
            code, message = decode_error_body(raw)
            raise GatewayError(method, endpoint, status, self._redact(code), self._redact(message))
        try:
            parsed = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            raise GatewayError(method, endpoint, status, "bad_response",
                               "the body is not JSON: %r" % self._redact(raw[:120].decode("utf-8", "replace")))
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
        # The backup domain checks the id's full format before; here only that it stays one path segment.
        check_path_segment(backup_id, "backup id")
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
            raise GatewayError("POST", self.base_url + "/api/mcp-tokens", 201, "bad_response",
                               "no token record and secret in the answer")
        return answer["token"], answer["secret"]

    def update_token(self, token_id, body):
        validate_token_id(token_id)
        answer = self.request("PATCH", "/api/mcp-tokens/%s" % quote(token_id, safe=""), body=body)[1]
        return answer.get("token", answer) if isinstance(answer, dict) else answer


class KeepAliveGatewayClient(GatewayClient):
    """A GatewayClient over a KeepAliveTransport, for one thread at a time (close() it when done).

    Any failure to get an answer raises GatewayError with status None, so that callers can tell transient
    failures from HTTP errors."""

    def __init__(self, base_url=DEFAULT_API_URL, token=None, validate_certs=True, timeout=10, identity=None):
        from ansible_collections.mcpops.runbooks.plugins.module_utils._common.keepalive_transport import (
            KeepAliveTransport,
        )

        try:
            transport = KeepAliveTransport(base_url.rstrip("/"), validate_certs, timeout)
        except ValueError as exc:
            raise GatewayError("GET", base_url.rstrip("/"), None, None, str(exc))
        GatewayClient.__init__(self, base_url, token, validate_certs, timeout, transport=transport, identity=identity)
