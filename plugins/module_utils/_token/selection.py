# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Token filters -> the tokens they select, following nextCursor pagination (token_revoke, mcp_token_info).

validate_filters(params) refuses bad or too broad input before any request; every value must match its whole
pattern (check_name, check_prefix: no trailing newline, no whitespace, ASCII only); select_tokens(client, params)
returns a Selection: `to_revoke` (match every filter and the status), `already_revoked`, `skipped` (match the
filters but not the status, e.g. expired with status active) and `not_found` (ids the gateway does not know).
Filters are ANDed: ids, prefixes (any of), client_id, org_id. No Ansible here.
"""

from __future__ import annotations

import datetime as _dt
import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import (
    GatewayError,
    TokenIdError,
    validate_token_id,
)

PAGE_LIMIT = 100
MAX_PAGES = 100000
# Whole-value patterns (\Z, not $: `$` also matches before a final newline, and "org_acme\n" would select nothing).
PREFIX_RE = re.compile(r"[A-Za-z0-9_.-]{5,64}\Z")
# client_id and org_id, as INC-006 checks its org_id: 1-128 ASCII letters, digits, _ . - starting with a letter or digit.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
NAME_RULE = "1-128 ASCII letters, digits, _ . or -, starting with a letter or digit, nothing else (no space, no newline)"
STATUSES = ("active", "expired", "any")


class SelectionError(Exception):
    """Refused input or a listing that failed; msg names what and why."""


def public_fields(token):
    """What results carry of a token: id, prefix, clientId, orgId (never a secret or hash)."""
    return {"id": token.get("id"), "prefix": token.get("prefix"), "clientId": token.get("clientId"), "orgId": token.get("orgId")}


def parse_ts(text):
    """An aware UTC datetime from an ISO-8601 string (Z or offset, optional fraction); ValueError otherwise."""
    if not isinstance(text, str) or not text:
        raise ValueError("not a timestamp: %r" % (text,))
    value = text.strip()
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    if "." in value:
        head, dot, tail = value.partition(".")
        digits = re.match(r"\d+", tail)
        if digits:
            frac = digits.group(0)
            value = head + dot + (frac + "000000")[:6] + tail[len(frac):]
    parsed = _dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.astimezone(_dt.timezone.utc)


def token_status(token, now=None):
    """revoked, expired or active, the gateway's way (an unreadable expiresAt counts as expired)."""
    if token.get("revokedAt"):
        return "revoked"
    expires = token.get("expiresAt")
    if expires:
        try:
            if parse_ts(expires) <= (now or _dt.datetime.now(_dt.timezone.utc)):
                return "expired"
        except ValueError:
            return "expired"
    return "active"


def shown(value):
    """A refused value as the message shows it: repr (a newline, a tab or a look-alike is visible), cut at 80."""
    text = ascii(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_name(value, option):
    """value when it is a client or org id (NAME_RE, whole value); SelectionError naming the option otherwise."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise SelectionError("invalid %s %s: must be %s" % (option, shown(value), NAME_RULE))
    return value


def check_prefix(value):
    """value when it is a token prefix (PREFIX_RE, whole value, not the bare mcp_); SelectionError otherwise."""
    if not isinstance(value, str) or not PREFIX_RE.match(value) or value == "mcp_":
        raise SelectionError(
            "invalid prefix %s: a token prefix such as mcp_ab12 (5-64 of [A-Za-z0-9_.-], nothing else; the bare mcp_ "
            "would match every token)" % shown(value))
    return value


def validate_filters(params):
    """Refuse bad ids/prefixes and selections that are empty or too broad. Returns the normalized filters."""
    ids = list(params.get("ids") or [])
    prefixes = list(params.get("prefixes") or [])
    client_id = params.get("client_id") or None
    org_id = params.get("org_id") or None
    status = params.get("status") or "active"
    all_in_org = bool(params.get("all_in_org"))
    if status not in STATUSES:
        raise SelectionError("status must be one of %s, not %r" % (", ".join(STATUSES), status))
    for token_id in ids:
        try:
            validate_token_id(token_id)
        except TokenIdError as exc:
            raise SelectionError("%s; nothing was revoked" % exc)
    try:
        for prefix in prefixes:
            check_prefix(prefix)
        for value, option in ((client_id, "client_id"), (org_id, "org_id")):
            if value is not None:
                check_name(value, option)
    except SelectionError as exc:
        raise SelectionError("%s; nothing was revoked" % exc)
    if all_in_org:
        if not org_id:
            raise SelectionError("all_in_org: true needs an explicit org_id; nothing was revoked")
        if ids or prefixes or client_id:
            raise SelectionError("all_in_org: true revokes every token of org_id: do not combine it with ids, prefixes "
                                 "or client_id (drop all_in_org to narrow the selection); nothing was revoked")
    elif not (ids or prefixes or client_id or org_id):
        raise SelectionError("no filter given (ids, prefixes, client_id, org_id): refusing to treat that as every "
                             "token; nothing was revoked")
    elif org_id and not (ids or prefixes or client_id):
        raise SelectionError("org_id alone selects every token of %s: set all_in_org: true to confirm, or narrow "
                             "with ids, prefixes or client_id; nothing was revoked" % org_id)
    return {"ids": list(dict.fromkeys(ids)), "prefixes": list(dict.fromkeys(prefixes)), "client_id": client_id,
            "org_id": org_id, "status": status}


def list_all(client, query):
    """Every token GET /api/mcp-tokens returns for query, following nextCursor to the end."""
    tokens, cursor, seen = [], None, set()
    params = dict(query, limit=PAGE_LIMIT)
    for page_number in range(MAX_PAGES):
        page, cursor = client.list_tokens(params, cursor)
        tokens.extend(t for t in page if isinstance(t, dict))
        if not cursor:
            return tokens
        if page_number + 1 == MAX_PAGES:
            break
        if cursor in seen:
            raise SelectionError("GET /api/mcp-tokens returned the nextCursor %r twice: the listing does not advance" % cursor)
        seen.add(cursor)
    raise SelectionError("GET /api/mcp-tokens: more than %d pages" % MAX_PAGES)


class Selection:
    def __init__(self):
        self.to_revoke = []
        self.already_revoked = []
        self.skipped = []
        self.not_found = []


def matches(token, filters):
    if filters["client_id"] and token.get("clientId") != filters["client_id"]:
        return False
    if filters["org_id"] and token.get("orgId") != filters["org_id"]:
        return False
    if filters["prefixes"] and not any(str(token.get("prefix") or "").startswith(p) for p in filters["prefixes"]):
        return False
    return True


def select_tokens(client, filters, now=None):
    """A Selection for validated filters (validate_filters). GatewayError/SelectionError on failure."""
    found = {}
    selection = Selection()
    if filters["ids"]:
        for token_id in filters["ids"]:
            try:
                token = client.get_token(token_id)
            except GatewayError as exc:
                if exc.status == 404:
                    selection.not_found.append({"id": token_id, "prefix": None, "clientId": None, "orgId": None})
                    continue
                raise
            if isinstance(token, dict) and token.get("id") and matches(token, filters):
                found.setdefault(token["id"], token)
    else:
        base = {"orgId": filters["org_id"], "clientId": filters["client_id"]}
        for prefix in filters["prefixes"] or [None]:
            for token in list_all(client, dict(base, prefix=prefix)):
                if token.get("id") and matches(token, filters):
                    found.setdefault(token["id"], token)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    for token in sorted(found.values(), key=lambda t: str(t.get("id"))):
        status = token_status(token, now)
        if status == "revoked":
            selection.already_revoked.append(public_fields(token))
        elif filters["status"] == "any" or filters["status"] == status:
            selection.to_revoke.append(token)
        else:
            selection.skipped.append(dict(public_fields(token), status=status))
    return selection
