"""Audit and usage lines: one JSON object a line, appended with a single O_APPEND write.

Nothing passed here may be a secret: callers hand over token records (hashes stripped) and prefixes only.

Who acts (docs/dev/contract-operator-identity.md): the HTTP layer runs each admin call inside `Audit.acting(actor)`,
and every audit line written during it gets `"actor": {"breakGlass": ..., "operator": ...}` (null where the call
named none). The actor lives in a context variable: one request's, never another thread's."""

import contextlib
import contextvars

from . import fsutil

_TOKEN_FIELDS = ("tokenId", "tokenPrefix", "clientId", "orgId")
_ACTOR = contextvars.ContextVar("mcpops_gateway_actor", default=None)


def actor_fields(break_glass=None, operator=None):
    """The audit line's actor: {"breakGlass", "operator"}, null for what the call did not name."""
    return {"breakGlass": break_glass, "operator": operator}


def token_fields(token):
    if not token:
        return {}
    return {"tokenId": token.get("id"), "tokenPrefix": token.get("prefix"),
            "clientId": token.get("clientId"), "orgId": token.get("orgId")}


class Audit:
    def __init__(self, store):
        self.store = store

    @staticmethod
    @contextlib.contextmanager
    def acting(actor):
        """Every audit line written inside the block (this thread's request) carries `actor`."""
        token = _ACTOR.set(actor)
        try:
            yield
        finally:
            _ACTOR.reset(token)

    def event(self, event, **fields):
        record = {"ts": fsutil.iso_ms(), "event": event}
        for key, value in fields.items():
            if value is not None or key in _TOKEN_FIELDS:
                record[key] = value
        actor = _ACTOR.get()
        if actor is not None and "actor" not in record:
            record["actor"] = dict(actor)
        self.store.append("audit.jsonl", record)
        return record

    def usage(self, token, tool, status):
        record = {"ts": fsutil.iso_ms()}
        record.update(token_fields(token))
        record["tool"] = tool
        record["status"] = status
        self.store.append("usage.jsonl", record)
        return record
