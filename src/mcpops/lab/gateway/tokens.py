"""MCP tokens: listing with filters and opaque cursors, issue, revoke, patch, lookup by secret hash."""

import base64
import binascii
import datetime as _dt
import hashlib
import json
import secrets

from . import fsutil
from .audit import token_fields
from .errors import ApiError

ALLOWED_SCOPES = ("tools:read", "tools:write", "admin:read")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
DEFAULT_RPM = 60


def hash_secret(secret):
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret(prefix):
    """`mcp_<4 hex>` + 40 url-safe characters (conventions.md)."""
    return prefix + secrets.token_urlsafe(30)


def public(token):
    """The API view of a record: never secretHash."""
    return {k: v for k, v in token.items() if k != "secretHash"}


def status_of(token, now=None):
    if token.get("revokedAt"):
        return "revoked"
    expires = token.get("expiresAt")
    if expires:
        try:
            if fsutil.parse_ts(expires) <= (now or fsutil.utcnow()):
                return "expired"
        except ValueError:
            return "expired"
    return "active"


def _sort_key(token):
    return (str(token.get("createdAt") or ""), str(token.get("id") or ""))


def encode_cursor(token):
    raw = json.dumps(list(_sort_key(token)), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text):
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw.decode("utf-8"))
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
            raise ValueError
        return tuple(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "invalid_cursor", "cursor is not one this gateway issued")


def _one(query, name):
    values = query.get(name)
    return values[-1] if values else None


def list_tokens(store, query):
    limit_text = _one(query, "limit")
    limit = DEFAULT_LIMIT
    if limit_text is not None:
        try:
            limit = int(limit_text)
        except ValueError:
            raise ApiError(400, "invalid_limit", "limit must be an integer 1..%d" % MAX_LIMIT)
        if limit < 1:
            raise ApiError(400, "invalid_limit", "limit must be an integer 1..%d" % MAX_LIMIT)
        limit = min(limit, MAX_LIMIT)
    status = _one(query, "status")
    if status is not None and status not in ("active", "revoked", "expired"):
        raise ApiError(400, "invalid_status", "status must be active, revoked or expired")
    org, client, prefix = _one(query, "orgId"), _one(query, "clientId"), _one(query, "prefix")
    cursor_text = _one(query, "cursor")
    after = decode_cursor(cursor_text) if cursor_text else None
    now = fsutil.utcnow()
    with store.lock:
        rows = sorted(store.tokens, key=_sort_key)
    selected = []
    for token in rows:
        if after is not None and _sort_key(token) <= after:
            continue
        if org is not None and token.get("orgId") != org:
            continue
        if client is not None and token.get("clientId") != client:
            continue
        if prefix is not None and not str(token.get("prefix") or "").startswith(prefix):
            continue
        if status is not None and status_of(token, now) != status:
            continue
        selected.append(token)
        if len(selected) > limit:
            break
    more = len(selected) > limit
    page = selected[:limit]
    return {"tokens": [public(t) for t in page], "nextCursor": encode_cursor(page[-1]) if more and page else None}


def _rate_limit(value):
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_rate_limit", "rateLimit must be {\"requestsPerMinute\": N}")
    rpm = value.get("requestsPerMinute")
    if not isinstance(rpm, int) or isinstance(rpm, bool) or rpm < 1 or rpm > 1000000:
        raise ApiError(400, "invalid_rate_limit", "rateLimit.requestsPerMinute must be a positive integer")
    return {"requestsPerMinute": rpm}


def _expires_at(value):
    if value is None:
        return None
    try:
        return fsutil.iso_s(fsutil.parse_ts(value))
    except (ValueError, TypeError):
        raise ApiError(400, "invalid_expires_at", "expiresAt must be an ISO-8601 timestamp or null")


def find(store, token_id):
    for token in store.tokens:
        if token.get("id") == token_id:
            return token
    raise ApiError(404, "token_not_found", "no token with id %s" % token_id)


def create_token(store, audit, body, ip=None):
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "body must be a JSON object")
    client_id, org_id, scopes = body.get("clientId"), body.get("orgId"), body.get("scopes")
    if not isinstance(client_id, str) or not client_id:
        raise ApiError(400, "invalid_client", "clientId is required")
    if not isinstance(org_id, str) or not org_id:
        raise ApiError(400, "invalid_org", "orgId is required")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise ApiError(400, "invalid_scopes", "scopes must be a non-empty list of %s" % ", ".join(ALLOWED_SCOPES))
    bad = [s for s in scopes if s not in ALLOWED_SCOPES]
    if bad:
        raise ApiError(400, "invalid_scopes", "unknown scope(s) %s; allowed: %s" % (", ".join(bad), ", ".join(ALLOWED_SCOPES)))
    rate = _rate_limit(body["rateLimit"]) if body.get("rateLimit") is not None else {"requestsPerMinute": DEFAULT_RPM}
    now = fsutil.utcnow()
    expires = None
    if body.get("expiresIn") is not None:
        seconds = body["expiresIn"]
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
            raise ApiError(400, "invalid_expires_in", "expiresIn must be a positive number of seconds")
        expires = fsutil.iso_s(now + _dt.timedelta(seconds=seconds))
    elif body.get("expiresAt") is not None:
        expires = _expires_at(body["expiresAt"])
    profile = body.get("profile")
    with store.lock:
        if client_id not in store.clients:
            raise ApiError(400, "unknown_client", "client %s is not in allowedClients" % client_id)
        if profile is not None and (not isinstance(profile, str) or store.profile(profile) is None):
            raise ApiError(400, "unknown_profile", "profile %r is not in profiles.json" % (profile,))
        ids = {t.get("id") for t in store.tokens}
        prefixes = {t.get("prefix") for t in store.tokens}
        token_id = "tok_" + secrets.token_hex(3)
        while token_id in ids:
            token_id = "tok_" + secrets.token_hex(4)
        prefix = "mcp_" + secrets.token_hex(2)
        for _ in range(64):
            if prefix not in prefixes:
                break
            prefix = "mcp_" + secrets.token_hex(2)
        secret = new_secret(prefix)
        record = {"id": token_id, "prefix": prefix, "clientId": client_id, "orgId": org_id,
                  "scopes": list(dict.fromkeys(scopes)), "createdAt": fsutil.iso_s(now), "expiresAt": expires,
                  "revokedAt": None, "blocked": False, "rateLimit": rate}
        if profile is not None:
            record["profile"] = profile
        record["secretHash"] = hash_secret(secret)
        store.tokens.append(record)
    store.commit_tokens(record)
    audit.event("token.issued", ip=ip, path="/api/mcp-tokens", status=201, scopes=record["scopes"],
                **token_fields(record))
    return public(record), secret


def revoke_token(store, audit, token_id, ip=None):
    with store.lock:
        token = find(store, token_id)
        already = bool(token.get("revokedAt"))
        if not already:
            token["revokedAt"] = fsutil.iso_s()
        answer = public(token)
    if not already:
        store.commit_tokens(token)
    audit.event("token.revoked", ip=ip, path="/api/mcp-tokens/%s/revoke" % token_id, status=200,
                alreadyRevoked=already, **token_fields(answer))
    return answer, already


def patch_token(store, audit, token_id, body, ip=None):
    if not isinstance(body, dict) or not body:
        raise ApiError(400, "invalid_body", "body must be a JSON object with rateLimit, blocked and/or expiresAt")
    unknown = sorted(set(body) - {"rateLimit", "blocked", "expiresAt"})
    if unknown:
        raise ApiError(400, "invalid_field", "cannot change %s (only rateLimit, blocked, expiresAt)" % ", ".join(unknown))
    changes = {}
    if "rateLimit" in body:
        changes["rateLimit"] = _rate_limit(body["rateLimit"])
    if "blocked" in body:
        if not isinstance(body["blocked"], bool):
            raise ApiError(400, "invalid_blocked", "blocked must be true or false")
        changes["blocked"] = body["blocked"]
    if "expiresAt" in body:
        changes["expiresAt"] = _expires_at(body["expiresAt"])
    with store.lock:
        token = find(store, token_id)
        token.update(changes)
        answer = public(token)
    store.commit_tokens(token)
    audit.event("token.updated", ip=ip, path="/api/mcp-tokens/%s" % token_id, status=200,
                changed=sorted(changes), **token_fields(answer))
    return answer


def lookup_secret(store, secret):
    with store.lock:
        return store.by_hash.get(hash_secret(secret))
