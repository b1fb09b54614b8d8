# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""token_revoke's work: select (selection.py) then revoke concurrently with retries.

revoke_tokens(make_client, tokens, concurrency, retries, backoff) runs POST /api/mcp-tokens/{id}/revoke over
`concurrency` worker threads, each with its own kept-alive connection (make_client() -> a client with
revoke_token(id) and close()), opened a few at a time (OPENING_AT_ONCE); transient failures (no answer, timeout,
reset, 5xx) are retried with exponential backoff. run(params, check_mode) is the module's whole run and returns
the result or raises TaskError(msg, result). No Ansible here.
"""

from __future__ import annotations

import threading
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import (
    GatewayError,
    KeepAliveGatewayClient,
    is_transient,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._token.selection import (
    SelectionError,
    public_fields,
    select_tokens,
    validate_filters,
)

MAX_BACKOFF = 5.0
# Requests in flight: the gateway writes tokens.json once for every revoke that arrived during its previous write
# (group commit), so the more are in flight, the fewer writes of the whole file. On the reference gateway with
# 20,000 tokens, 32 revoked as fast as 64 and about 2x faster than 8; 96 and 128 were slower (its threads contend).
DEFAULT_CONCURRENCY = 32
MAX_CONCURRENCY = 64
# New connections whose first request is not answered yet, at most: a server's accept queue may be short (Python's
# socketserver listens with a backlog of 5), and a connection beyond it loses its SYN and waits 1 s, then 3 s, to retry.
OPENING_AT_ONCE = 4


def entry_id(entry):
    return str(entry.get("id"))


class Outcome:
    """The four lists of a revocation run (thread-safe appends)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.revoked = []
        self.already_revoked = []
        self.not_found = []
        self.failed = []

    def add(self, name, entry):
        with self.lock:
            getattr(self, name).append(entry)

    def sorted(self):
        return {name: sorted(getattr(self, name), key=entry_id) for name in ("revoked", "already_revoked", "not_found", "failed")}


def revoke_one(client, token, retries, backoff, outcome, sleep=time.sleep):
    """Revoke one token with retries; record it under exactly one of the outcome's lists."""
    fields = public_fields(token)
    attempt = 0
    while True:
        try:
            record, already = client.revoke_token(token["id"])
        except GatewayError as exc:
            if exc.status == 404:
                outcome.add("not_found", fields)
                return
            if is_transient(exc) and attempt < retries:
                sleep(min(MAX_BACKOFF, backoff * (2 ** attempt)))
                attempt += 1
                continue
            outcome.add("failed", dict(fields, status=exc.status, message=str(exc), attempts=attempt + 1))
            return
        except Exception as exc:  # a bug or an unexpected answer must not lose the token from the report
            outcome.add("failed", dict(fields, status=None, message="%s: %s" % (type(exc).__name__, exc), attempts=attempt + 1))
            return
        merged = dict(fields)
        if isinstance(record, dict):
            merged.update((k, record[k]) for k in ("prefix", "clientId", "orgId") if record.get(k) is not None)
        outcome.add("already_revoked" if already else "revoked", merged)
        return


def revoke_tokens(make_client, tokens, concurrency=DEFAULT_CONCURRENCY, retries=3, backoff=0.2, sleep=time.sleep):
    """Revoke every token (dicts with at least id) over min(concurrency, len(tokens)) threads. Returns an Outcome."""
    outcome = Outcome()
    queue = list(reversed(tokens))
    queue_lock = threading.Lock()
    opening = threading.BoundedSemaphore(OPENING_AT_ONCE)

    def worker():
        client = None
        try:
            while True:
                with queue_lock:
                    if not queue:
                        return
                    token = queue.pop()
                if client is not None:
                    revoke_one(client, token, retries, backoff, outcome, sleep)
                    continue
                with opening:  # a new connection: its first request waits for a place (OPENING_AT_ONCE)
                    try:
                        client = make_client()
                    except Exception as exc:
                        outcome.add("failed", dict(public_fields(token), status=None, message="no client: %s" % exc,
                                                   attempts=0))
                        continue
                    revoke_one(client, token, retries, backoff, outcome, sleep)
        finally:
            if client is not None and hasattr(client, "close"):
                client.close()

    count = max(1, min(int(concurrency or 1), len(tokens)))
    if not tokens:
        return outcome
    if count == 1:
        worker()
        return outcome
    threads = [threading.Thread(target=worker, name="token-revoke-%d" % n) for n in range(count)]
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join()
    return outcome


def run(params, check_mode=False):
    """The token_revoke module's run: result dict, or TaskError(msg, result)."""
    result = dict(changed=False, revoked=[], already_revoked=[], not_found=[], failed_tokens=[], skipped=[])
    concurrency = params.get("concurrency")
    concurrency = DEFAULT_CONCURRENCY if concurrency is None else concurrency
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise TaskError("concurrency must be 1..%d" % MAX_CONCURRENCY, result)
    if (params.get("retries") or 0) < 0:
        raise TaskError("retries must be >= 0", result)
    try:
        filters = validate_filters(params)
    except SelectionError as exc:
        raise TaskError(str(exc), result)
    if not params.get("api_token"):
        raise TaskError("api_token (the admin token) is required; nothing was revoked", result)
    lister = KeepAliveGatewayClient.from_params(params)
    try:
        selection = select_tokens(lister, filters)
    except (GatewayError, SelectionError) as exc:
        raise TaskError("selecting the tokens failed, nothing was revoked: %s" % exc, result)
    finally:
        lister.close()
    result.update(already_revoked=selection.already_revoked, not_found=selection.not_found, skipped=selection.skipped)
    ignore_missing = bool(params.get("ignore_missing"))
    if selection.not_found and not ignore_missing:
        raise TaskError(
            "%d of the given ids are unknown to the gateway (%s): nothing was revoked; fix the ids or set "
            "ignore_missing: true" % (len(selection.not_found), ", ".join(e["id"] for e in selection.not_found)), result)
    if check_mode:
        result["revoked"] = [public_fields(t) for t in selection.to_revoke]
        result["changed"] = bool(result["revoked"])
        return result
    outcome = revoke_tokens(lambda: KeepAliveGatewayClient.from_params(params), selection.to_revoke,
                            concurrency, params.get("retries", 3), params.get("backoff", 0.2))
    lists = outcome.sorted()
    result["revoked"] = lists["revoked"]
    result["already_revoked"] = sorted(selection.already_revoked + lists["already_revoked"], key=entry_id)
    result["not_found"] = sorted(selection.not_found + lists["not_found"], key=entry_id)
    result["failed_tokens"] = lists["failed"]
    result["changed"] = bool(result["revoked"])
    if result["failed_tokens"]:
        first = result["failed_tokens"][0]
        raise TaskError(
            "%d of %d selected tokens were not revoked and are left active (revoked %d, already revoked %d); "
            "first failure %s: %s. Re-run the task: it is idempotent and only retries what is left"
            % (len(result["failed_tokens"]), len(selection.to_revoke), len(result["revoked"]), len(result["already_revoked"]),
               first["id"], first["message"]), result)
    if lists["not_found"] and not ignore_missing:
        raise TaskError(
            "%d selected tokens disappeared before they could be revoked (HTTP 404): %s"
            % (len(lists["not_found"]), ", ".join(e["id"] for e in lists["not_found"])), result)
    return result
