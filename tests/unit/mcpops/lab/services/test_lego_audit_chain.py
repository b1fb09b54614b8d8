"""lego-mcp's audit writer: who signs (the HSM; the fallback only when enabled, and then said loudly), how a record
links to the last one, and that a signing failure writes nothing."""

import hashlib
import json

import pytest

from mcpops.lab.services.lego_audit_chain import GENESIS, AuditSigning, SigningFailed, append, record_digest


class Signer:
    def __init__(self, name, fail=None):
        self.name, self.fail = name, fail

    def sign(self, digest):
        if self.fail:
            raise RuntimeError(self.fail)
        return (self.name + ":").encode() + digest


class Conn:
    """The three statements append() sends, against an in-memory table."""

    def __init__(self, rows=()):
        self.rows = list(rows)
        self.statements = []

    def execute(self, sql, args=None):
        self.statements.append(sql.split()[0])
        result = None
        if sql.startswith("SELECT id, hash"):
            result = [(r["id"], r["hash"]) for r in self.rows[-1:]]
        elif sql.startswith("INSERT"):
            self.rows.append(dict(args))
        return Result(result)


class Result:
    def __init__(self, rows):
        self.rows = rows or []

    def fetchone(self):
        return self.rows[0] if self.rows else None


def test_the_hsm_signs_when_it_can_and_the_fallback_only_when_enabled():
    said = []
    assert AuditSigning(Signer("hsm"), Signer("sw"), True, said.append).sign(b"d")[1] == "hsm"
    signing = AuditSigning(Signer("hsm", fail="HSM down"), Signer("sw"), True, said.append)
    assert signing.sign(b"d") == (b"sw:d", "software-fallback") and said == ["HSM down"]
    with pytest.raises(SigningFailed, match="HSM_FALLBACK_ENABLED is off: HSM down"):
        AuditSigning(Signer("hsm", fail="HSM down"), None, False, said.append).sign(b"d")


def test_records_link_to_the_last_one_from_genesis():
    conn = Conn()
    signing = AuditSigning(Signer("hsm"), None, False, None)
    first = append(conn, signing, "t1", "lead", "equipment.status", {"to": "idle", "equipment_id": "A"})
    second = append(conn, signing, "t2", "lead", "equipment.status", {"to": "operational"})
    assert (first["id"], first["prev_hash"]) == (1, GENESIS)
    assert (second["id"], second["prev_hash"]) == (2, first["hash"])
    assert first["payload"] == '{"equipment_id":"A","to":"idle"}'
    expected = hashlib.sha256(json.dumps({"id": 1, "ts": "t1", "actor": "lead", "action": "equipment.status",
                                          "payload": first["payload"], "prev_hash": GENESIS}, sort_keys=True,
                                         separators=(",", ":")).encode()).hexdigest()
    assert first["hash"] == expected == record_digest(1, "t1", "lead", "equipment.status", first["payload"],
                                                      GENESIS).hex()
    assert conn.statements[0] == "SELECT" and "INSERT" in conn.statements  # the advisory lock comes first


def test_a_signing_failure_inserts_nothing():
    conn = Conn()
    with pytest.raises(SigningFailed):
        append(conn, AuditSigning(Signer("hsm", fail="timeout"), None, False, None), "t", "a", "x", {})
    assert conn.rows == [] and "INSERT" not in conn.statements


def test_the_chain_is_off_unless_configured_and_the_hsm_url_must_be_https(tmp_path):
    from mcpops.lab.services import lego_mcp
    from mcpops.lab.services.config import ConfigError

    env = {"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0", "MCPOPS_SERVICE_STATE_DIR": str(tmp_path),
           "DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/lego_mcp"}
    assert not lego_mcp.load_config(env).audit_enabled
    assert lego_mcp.build(lego_mcp.load_config(env)).signing is None
    assert lego_mcp.load_config(dict(env, HSM_FALLBACK_ENABLED="true")).audit_enabled
    config = lego_mcp.load_config(dict(env, HSM_URL="https://127.0.0.1:12345", HSM_TIMEOUT_SECONDS="3"))
    assert (config.audit_enabled, config.hsm_timeout, config.fallback_enabled) == (True, 3, False)
    with pytest.raises(ConfigError, match="HSM_URL must be a https URL"):
        lego_mcp.load_config(dict(env, HSM_URL="http://127.0.0.1:12345"))
