# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mcp_token's work: issue a scoped token (secret to a 0600 file, never into the result) or update one idempotently.

run(params, check_mode, diff=, client=) returns the module's result or raises TaskError(msg, result).
No Ansible here.
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.secret_file import (
    SecretFileError,
    check_secret_dest,
    write_secret_file,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import (
    GatewayClient,
    GatewayError,
    TokenIdError,
    validate_token_id,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._token.selection import (
    SelectionError,
    check_name,
    parse_ts,
)

ISSUE_ONLY = ("client_id", "org_id", "scopes", "expires_in", "profile", "secret_dest")
UPDATE_ONLY = ("blocked", "expires_at")
NEVER = ("never", "none", "null")


def normalize_expires_at(value):
    """None for never/none/null/empty, else the UTC YYYY-MM-DDTHH:MM:SSZ form the gateway stores."""
    if value is None or (isinstance(value, str) and value.strip().lower() in NEVER + ("",)):
        return None
    return parse_ts(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _client(params):
    if not params.get("api_token"):
        raise ValueError("api_token (the admin token) is required")
    return GatewayClient.from_params(params)


def run(params, check_mode=False, *, diff=False, client=None):
    """client: a GatewayClient stand-in for tests; default one for params' api_url and api_token, made only
    when a request is due (after every input check)."""
    result = dict(changed=False, token=None, prefix=None)
    try:
        if params.get("id"):
            return update(params, check_mode, diff, result, client)
        return issue(params, check_mode, result, client)
    except (GatewayError, SecretFileError, TokenIdError, ValueError) as exc:
        raise TaskError(str(exc), result)


def issue(params, check_mode, result, client=None):
    given = [name for name in UPDATE_ONLY if params.get(name) is not None]
    if given:
        raise TaskError("%s only apply to an existing token (with id); nothing was issued" % ", ".join(given), result)
    missing = [name for name in ("client_id", "org_id", "scopes", "secret_dest") if not params.get(name)]
    if missing:
        raise TaskError("issuing a token (no id) needs %s; nothing was issued" % ", ".join(missing), result)
    # The rule token_revoke and mcp_token_info select by: a token issued for "org_acme\n" could never be selected.
    try:
        check_name(params["client_id"], "client_id")
        check_name(params["org_id"], "org_id")
    except SelectionError as exc:
        raise TaskError("%s; nothing was issued" % exc, result)
    if params.get("rate_limit") is not None and params["rate_limit"] < 1:
        raise TaskError("rate_limit must be a positive number of requests per minute", result)
    if params.get("expires_in") is not None and params["expires_in"] < 1:
        raise TaskError("expires_in must be a positive number of seconds", result)
    dest = check_secret_dest(params["secret_dest"])
    body = {"clientId": params["client_id"], "orgId": params["org_id"], "scopes": list(params["scopes"])}
    if params.get("rate_limit") is not None:
        body["rateLimit"] = {"requestsPerMinute": params["rate_limit"]}
    if params.get("expires_in") is not None:
        body["expiresIn"] = params["expires_in"]
    if params.get("profile"):
        body["profile"] = params["profile"]
    result.update(changed=True, secret_dest=dest)
    if check_mode:
        result["token"] = dict(body, id=None, prefix=None)
        return result
    client = client or _client(params)
    record, secret = client.issue_token(body)
    try:
        write_secret_file(dest, secret)
    except SecretFileError as exc:
        message = "token %s was issued but its secret could not be kept (%s)" % (record.get("id"), exc)
        try:
            client.revoke_token(record.get("id"))
            message += "; the token was revoked again, nothing usable was left behind"
        except (GatewayError, TokenIdError) as again:
            message += "; revoking it again failed too (%s): revoke %s by hand" % (again, record.get("id"))
        raise TaskError(message, result)
    finally:
        secret = None
    record = dict((k, v) for k, v in record.items() if k not in ("secret", "secretHash"))
    result.update(token=record, prefix=record.get("prefix"))
    return result


def update(params, check_mode, diff, result, client=None):
    token_id = validate_token_id(params["id"])
    given = [name for name in ISSUE_ONLY if params.get(name) is not None]
    if given:
        raise TaskError("%s only apply when issuing a new token (without id)" % ", ".join(given), result)
    wanted = {}
    if params.get("rate_limit") is not None:
        if params["rate_limit"] < 1:
            raise TaskError("rate_limit must be a positive number of requests per minute", result)
        wanted["rateLimit"] = {"requestsPerMinute": params["rate_limit"]}
    if params.get("blocked") is not None:
        wanted["blocked"] = bool(params["blocked"])
    if params.get("expires_at") is not None:
        try:
            wanted["expiresAt"] = normalize_expires_at(params["expires_at"])
        except ValueError:
            raise TaskError("expires_at %r is not an ISO-8601 timestamp (or never)" % params["expires_at"], result)
    if not wanted:
        raise TaskError("with id, give at least one of rate_limit, blocked, expires_at", result)
    client = client or _client(params)
    try:
        current = client.get_token(token_id)
    except GatewayError as exc:
        if exc.status == 404:
            raise TaskError("no token with id %s (GET /api/mcp-tokens/%s -> 404); nothing was changed" % (token_id, token_id), result)
        raise
    have = {
        "rateLimit": {"requestsPerMinute": (current.get("rateLimit") or {}).get("requestsPerMinute")},
        "blocked": bool(current.get("blocked")),
    }
    try:
        have["expiresAt"] = normalize_expires_at(current.get("expiresAt"))
    except ValueError:
        have["expiresAt"] = current.get("expiresAt")
    changes = dict((k, v) for k, v in wanted.items() if have[k] != v)
    result.update(token=current, prefix=current.get("prefix"), changed=bool(changes))
    if diff and changes:
        result["diff"] = {
            "before_header": "token %s" % token_id, "after_header": "token %s" % token_id,
            "before": dict((k, have[k]) for k in sorted(changes)),
            "after": dict((k, changes[k]) for k in sorted(changes)),
        }
    if not changes:
        return result
    if check_mode:
        result["token"] = dict(current, **changes)
        return result
    updated = client.update_token(token_id, changes)
    result["token"] = updated if isinstance(updated, dict) else dict(current, **changes)
    result["prefix"] = result["token"].get("prefix")
    return result
