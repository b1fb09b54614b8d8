# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gateway_health's work: /healthz, /readyz, storage-meta, the MCP checks and check_tokens, retried until healthy.

run(params, check_mode, warn=) returns the module's result dict (tokens redacted) or raises TaskError carrying
msg and the result. No Ansible here: unit tests call it directly.
"""

from __future__ import annotations

import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.secret_redaction import redact
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import (
    GatewayClient,
    GatewayError,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.mcp_client import (
    McpClient,
    McpError,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.recovery_checks import (
    POST_RECOVERY,
    VALIDATIONS,
    check_mcp,
)

# check_tokens: what GET /api/system/storage-meta must answer to an accepted and to a refused admin token.
TOKEN_PROBE_PATH = "/api/system/storage-meta"
WANTED_STATUS = {"accepted": 200, "refused": 401}


def _ignore(message):
    pass


def check_storage_meta(meta, max_schema_version):
    problems = []
    version = meta.get("schemaVersion") if isinstance(meta, dict) else None
    if isinstance(version, bool) or not isinstance(version, int):
        problems.append("storage-meta: schemaVersion is %r, not a known version" % (version,))
    elif version > max_schema_version:
        problems.append("storage-meta: schemaVersion %d is newer than max_schema_version %d" % (version, max_schema_version))
    stores = meta.get("stores") if isinstance(meta, dict) else None
    if isinstance(stores, dict):
        for name in sorted(stores):
            store = stores[name]
            if not (isinstance(store, dict) and store.get("ok") is True):
                problems.append("storage-meta: store %s is not ok: %r" % (name, store))
    else:
        problems.append("storage-meta: no 'stores' in the answer")
    return problems


def token_lists(params):
    """(accepted, refused) of params' check_tokens, each a list ([] when not given)."""
    given = params.get("check_tokens") or {}
    return list(given.get("accepted") or []), list(given.get("refused") or [])


def check_tokens(params):
    """GET storage-meta with each token of check_tokens: (report, problems). No token text in either."""
    report, problems = {}, []
    base_url = params["api_url"].rstrip("/")
    for kind, tokens in zip(("accepted", "refused"), token_lists(params)):
        wanted = WANTED_STATUS[kind]
        report[kind] = []
        for number, token in enumerate(tokens, 1):
            probe = GatewayClient(base_url, token, params["validate_certs"], params["timeout"])
            try:
                probe.request("GET", TOKEN_PROBE_PATH)
                status = 200
            except GatewayError as exc:
                status = exc.status
            report[kind].append({"status": status, "ok": status == wanted})
            if status != wanted:
                problems.append("check_tokens: GET %s%s answered %s to %s token #%d (wanted %d)"
                                % (base_url, TOKEN_PROBE_PATH, "nothing" if status is None else status, kind, number, wanted))
    return report, problems


def check_once(params):
    """One round of every check: (report dict, problems)."""
    api = GatewayClient.from_params(params)
    report = {"healthz": None, "readyz": None, "storage_meta": None, "mcp": None, "token_checks": None}
    problems = []
    try:
        report["healthz"] = api.healthz()
        if report["healthz"].get("status") != "ok":
            problems.append("GET %s/healthz: status %r, expected 'ok'" % (api.base_url, report["healthz"].get("status")))
    except GatewayError as exc:
        problems.append(str(exc))
    try:
        report["readyz"] = api.readyz()
        if report["readyz"].get("status") != "ready":
            checks = report["readyz"].get("checks") or {}
            failing = ", ".join("%s=%s" % (k, v) for k, v in sorted(checks.items()) if v != "ok") or "none named"
            problems.append("GET %s/readyz: not ready, failing checks: %s" % (api.base_url, failing))
    except GatewayError as exc:
        problems.append(str(exc))
    if params["api_token"]:
        try:
            report["storage_meta"] = api.storage_meta()
            problems.extend(check_storage_meta(report["storage_meta"], params["max_schema_version"]))
        except GatewayError as exc:
            problems.append(str(exc))
    if params["mcp_token"]:
        mcp = McpClient(
            params["mcp_url"] or api.base_url + "/mcp", params["mcp_token"], params["validate_certs"], params["timeout"]
        )
        try:
            report["mcp"], mcp_problems = check_mcp(
                mcp, params["critical_profiles"], validation=params.get("validation") or POST_RECOVERY,
                require_connection_health=params.get("require_connection_health", True) is not False,
            )
            problems.extend(mcp_problems)
        except McpError as exc:
            problems.append(str(exc))
    if any(token_lists(params)):
        report["token_checks"], token_problems = check_tokens(params)
        problems.extend(token_problems)
    return report, problems


def mcp_notes(mcp, problems):
    """What the MCP checks say beside their problems: tools judged by name, a 1C connection that is down (not a
    problem unless require_connection_health)."""
    if not isinstance(mcp, dict):
        return []
    return list(mcp.get("notes") or []) + [s for s in mcp.get("connection_problems") or [] if s not in problems]


def check_input(params):
    """Refuse a check_tokens that cannot prove anything, or an unknown validation, before any request."""
    validation = params.get("validation") or POST_RECOVERY
    if validation not in VALIDATIONS:
        raise TaskError("validation must be one of %s, got %r; nothing was checked" % (", ".join(VALIDATIONS), validation))
    accepted, refused = token_lists(params)
    if any(not token for token in accepted + refused):
        raise TaskError("check_tokens: an accepted or refused token is empty (an unset variable?); nothing was checked")
    if set(accepted) & set(refused):
        raise TaskError("check_tokens: the same token is both accepted and refused; nothing was checked")


def run(params, check_mode=False, *, warn=None, check=check_once, sleep=time.sleep):
    """check(params) once, then up to params["retries"] more times params["delay"] seconds apart
    until it finds no problem. Returns the result (no token text in it); raises TaskError(msg, result)
    when still unhealthy and params["fail_when_unhealthy"]. Read-only: check_mode changes nothing."""
    warn = warn or _ignore
    check_input(params)
    accepted, refused = token_lists(params)
    secrets = [s for s in [params["api_token"], params["mcp_token"]] + accepted + refused if s]
    if not params["api_token"]:
        warn("no api_token: /api/system/storage-meta (schemaVersion, stores) was not checked")
    attempts = 0
    while True:
        attempts += 1
        report, problems = check(params)
        if not problems or attempts > max(0, params["retries"]):
            break
        sleep(max(0, params["delay"]))
    result = redact(dict(report, changed=False, healthy=not problems, problems=problems, attempts=attempts), secrets)
    for sentence in mcp_notes(result.get("mcp"), problems):
        warn(sentence)
    if problems and params["fail_when_unhealthy"]:
        raise TaskError(
            redact(
                "gateway at %s unhealthy after %d checks: %s" % (params["api_url"], attempts, "; ".join(result["problems"])),
                secrets,
            ),
            result,
        )
    return result
