"""lego-mcp's signed audit chain (seed 001: "the HSM signs and seals the audit chain").

Every audit record is hashed over its content and the previous record's hash, and the hash is signed:

    hash = sha256(canonical JSON of {"id", "ts", "actor", "action", "payload", "prev_hash"}) as hex
    canonical JSON: sorted keys, separators (",", ":"), UTF-8, no ASCII escaping; payload is the stored text
    prev_hash of the first record: 64 zeros
    signature = ECDSA P-256 over the 32-byte digest (DER, base64), by the HSM or, in fallback, a local key

The collection's audit_chain_verify module checks the same rule with its own code (docs/dev/hsm-lab.md): the lab
never imports the collection. Records are appended under a transaction-scoped advisory lock, so that two writers
never link to the same predecessor; the lock is held while the record is signed (a slow HSM slows writes).
"""

import hashlib
import json

GENESIS = "0" * 64
LOCK_KEY = 0x1E60_A0D1  # pg_advisory_xact_lock key of the chain's writers

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id bigint PRIMARY KEY,
    ts text NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    payload text NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    signature text NOT NULL,
    signed_by text NOT NULL CHECK (signed_by IN ('hsm', 'software-fallback'))
)
"""


def canonical_payload(payload):
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_digest(record_id, ts, actor, action, payload_text, prev_hash):
    """The 32-byte SHA-256 digest of a record's content and its link."""
    content = {"id": record_id, "ts": ts, "actor": actor, "action": action, "payload": payload_text,
               "prev_hash": prev_hash}
    return hashlib.sha256(canonical_payload(content).encode("utf-8")).digest()


class SigningFailed(Exception):
    """Neither the HSM nor (when allowed) the fallback could sign: the write is refused."""


class AuditSigning:
    """Who signs: the HSM; when it fails and fallback is enabled, the software key (records marked so)."""

    def __init__(self, hsm, fallback, fallback_enabled, on_fallback):
        self.hsm = hsm  # None: no HSM configured
        self.fallback = fallback
        self.fallback_enabled = fallback_enabled
        self.on_fallback = on_fallback  # on_fallback(reason): the service logs it loudly

    def sign(self, digest):
        """(signature bytes, signed_by)."""
        reason = "no HSM configured"
        if self.hsm is not None:
            try:
                return self.hsm.sign(digest), "hsm"
            except Exception as exc:
                reason = str(exc)
        if not self.fallback_enabled:
            raise SigningFailed("HSM signing failed and HSM_FALLBACK_ENABLED is off: %s" % reason)
        self.on_fallback(reason)
        return self.fallback.sign(digest), "software-fallback"


def append(conn, signing, ts, actor, action, payload):
    """Append one record in the caller's open transaction; returns its row as a dict."""
    import base64

    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    last = conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    record_id, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    payload_text = canonical_payload(payload)
    digest = record_digest(record_id, ts, actor, action, payload_text, prev_hash)
    signature, signed_by = signing.sign(digest)
    row = {"id": record_id, "ts": ts, "actor": actor, "action": action, "payload": payload_text,
           "prev_hash": prev_hash, "hash": digest.hex(), "signature": base64.b64encode(signature).decode(),
           "signed_by": signed_by}
    conn.execute("INSERT INTO audit_log (id, ts, actor, action, payload, prev_hash, hash, signature, signed_by) "
                 "VALUES (%(id)s, %(ts)s, %(actor)s, %(action)s, %(payload)s, %(prev_hash)s, %(hash)s, "
                 "%(signature)s, %(signed_by)s)", row)
    return row
