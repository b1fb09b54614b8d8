"""Audit and usage lines: one JSON object a line, appended with a single O_APPEND write.

Nothing passed here may be a secret: callers hand over token records (hashes stripped) and prefixes only."""

from . import fsutil

_TOKEN_FIELDS = ("tokenId", "tokenPrefix", "clientId", "orgId")


def token_fields(token):
    if not token:
        return {}
    return {"tokenId": token.get("id"), "tokenPrefix": token.get("prefix"),
            "clientId": token.get("clientId"), "orgId": token.get("orgId")}


class Audit:
    def __init__(self, store):
        self.store = store

    def event(self, event, **fields):
        record = {"ts": fsutil.iso_ms(), "event": event}
        for key, value in fields.items():
            if value is not None or key in _TOKEN_FIELDS:
                record[key] = value
        self.store.append("audit.jsonl", record)
        return record

    def usage(self, token, tool, status):
        record = {"ts": fsutil.iso_ms()}
        record.update(token_fields(token))
        record["tool"] = tool
        record["status"] = status
        self.store.append("usage.jsonl", record)
        return record
