# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mcp_token_info's work: every token a filter selects, across all pages, as records without any secret.

No Ansible here; run(params, check_mode, client=) returns the module's result or raises TaskError.
"""

from __future__ import annotations

import datetime as _dt

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import GatewayClient, GatewayError
from ansible_collections.mcpops.runbooks.plugins.module_utils._token.selection import (
    SelectionError,
    check_name,
    check_prefix,
    list_all,
    token_status,
)

STATUSES = ("active", "expired", "revoked", "any")
# What a listed token carries: the contract's record, never secretHash or anything a gateway adds.
RECORD_FIELDS = ("id", "prefix", "clientId", "orgId", "scopes", "createdAt", "expiresAt", "revokedAt", "blocked",
                 "rateLimit", "profile")


def validate_query(params):
    """The gateway query for the params; TaskError for bad input, before any request.

    prefix, client_id and org_id must match their whole pattern (selection.py's rule): "org_acme\n" is refused,
    not answered with an empty list."""
    status = params.get("status") or "any"
    if status not in STATUSES:
        raise TaskError("status must be one of %s, not %r" % (", ".join(STATUSES), status))
    prefix = params.get("prefix") or None
    client_id = params.get("client_id") or None
    org_id = params.get("org_id") or None
    try:
        if prefix is not None:
            check_prefix(prefix)
        for value, option in ((client_id, "client_id"), (org_id, "org_id")):
            if value is not None:
                check_name(value, option)
    except SelectionError as exc:
        raise TaskError("%s; nothing was listed" % exc)
    return {"status": None if status == "any" else status, "clientId": client_id, "orgId": org_id, "prefix": prefix}


def record(token, now):
    out = dict((key, token.get(key)) for key in RECORD_FIELDS if key in token)
    out["status"] = token_status(token, now)
    return out


def list_tokens(client, query, now=None):
    """{"tokens": [...], "count": n, "by_status": {...}} for a validated query, sorted by id."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    tokens = []
    for token in list_all(client, query):
        if not token.get("id"):
            continue
        row = record(token, now)
        # The gateway filters by status and clientId itself; checked again here so that one that ignores
        # a query parameter cannot widen the answer.
        if query["status"] and row["status"] != query["status"]:
            continue
        if query["clientId"] and row.get("clientId") != query["clientId"]:
            continue
        if query["orgId"] and row.get("orgId") != query["orgId"]:
            continue
        if query["prefix"] and not str(row.get("prefix") or "").startswith(query["prefix"]):
            continue
        tokens.append(row)
    tokens.sort(key=lambda row: str(row["id"]))
    by_status = {"active": 0, "expired": 0, "revoked": 0}
    for row in tokens:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    return {"tokens": tokens, "count": len(tokens), "by_status": by_status}


def run(params, check_mode=False, *, client=None):
    """What the module returns (read-only: the same in check mode); TaskError naming the endpoint on failure.

    client: a stand-in with list_tokens(params, cursor); default a GatewayClient for params' api_url."""
    query = validate_query(params)
    if client is None:
        client = GatewayClient.from_params(params)
    try:
        return dict(list_tokens(client, query), changed=False)
    except (GatewayError, SelectionError) as exc:
        raise TaskError("listing tokens failed: %s; nothing was changed (this module never changes anything)"
                        % exc)
