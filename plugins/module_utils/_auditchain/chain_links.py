# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit chain's rule, checked record by record: the hash recomputed from the content and the link, the link
to the previous record, and the signature by the key of the signer the record names.

    hash = sha256(JSON of {"id", "ts", "actor", "action", "payload", "prev_hash"}, sorted keys, separators
           (",", ":"), UTF-8 unescaped) as hex; the first record's prev_hash is 64 zeros.

lego-mcp writes by the same rule with its own code (the lab never imports the collection); docs/dev/hsm-lab.md.
"""

from __future__ import annotations

import hashlib
import json

GENESIS = "0" * 64
SIGNERS = ("hsm", "software-fallback")
MAX_PROBLEMS = 20


def record_digest(record):
    """The 32-byte digest of a record's content and its link (record: a dict with the table's columns)."""
    content = {"id": record["id"], "ts": record["ts"], "actor": record["actor"], "action": record["action"],
               "payload": record["payload"], "prev_hash": record["prev_hash"]}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).digest()


def stored_digest(hash_hex):
    """The digest the signer signed: the stored hash (so that changed content is one hash_mismatch, and a re-hashed
    record is also a bad_signature)."""
    try:
        return bytes.fromhex(hash_hex or "")
    except ValueError:
        return b""


class ChainWalk:
    """Feed records in id order; problems() and the counts say what was found. verify(signed_by, digest,
    signature_b64) -> None when the signature is good, else the reason (a string)."""

    def __init__(self, verify):
        self.verify = verify
        self.count = 0
        self.first_broken = None
        self.problems = []
        self.problem_count = 0
        self.fallback_ids = []
        self.fallback_first_ts = None
        self.fallback_last_ts = None
        self.head = None  # (id, hash) of the last record read
        self._prev_hash = GENESIS

    def _problem(self, record, kind, detail):
        self.problem_count += 1
        found = {"id": record["id"], "ts": record.get("ts"), "problem": kind, "detail": detail}
        if self.first_broken is None:
            self.first_broken = found
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(found)

    def feed(self, record):
        self.count += 1
        digest = record_digest(record)
        if digest.hex() != record["hash"]:
            self._problem(record, "hash_mismatch", "the stored hash is not the hash of the record's content: the "
                                                   "record was changed after it was written")
        if record["prev_hash"] != self._prev_hash:
            self._problem(record, "broken_link", "prev_hash does not match the previous record's hash (%s): a "
                                                 "record before it was removed, inserted or changed"
                          % ("the chain's start" if self.head is None else "id %s" % self.head[0]))
        signed_by = record["signed_by"]
        if signed_by not in SIGNERS:
            self._problem(record, "unknown_signer", "signed_by %r is neither %s" % (signed_by, " nor ".join(SIGNERS)))
        else:
            reason = self.verify(signed_by, stored_digest(record["hash"]), record["signature"])
            if reason:
                self._problem(record, "bad_signature", reason)
            if signed_by == "software-fallback":
                self.fallback_ids.append(record["id"])
                self.fallback_first_ts = self.fallback_first_ts or record["ts"]
                self.fallback_last_ts = record["ts"]
        self._prev_hash = record["hash"]
        self.head = (record["id"], record["hash"])

    def result(self):
        return {
            "ok": self.problem_count == 0,
            "records": self.count,
            "head": {"id": self.head[0], "hash": self.head[1]} if self.head else None,
            "first_broken": self.first_broken,
            "problems": self.problems,
            "problem_count": self.problem_count,
            "fallback": {"count": len(self.fallback_ids), "ids": self.fallback_ids,
                         "first_ts": self.fallback_first_ts, "last_ts": self.fallback_last_ts},
        }
