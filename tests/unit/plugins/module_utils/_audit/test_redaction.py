"""_audit/redaction.py: secrets masked on the line, the rest kept; ip hashing consistent under a salt."""

import json

from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.redaction import IpHasher, Redactor, redact_text

CANARY = "mcp_ab12" + "Q7xK9zP2mL4vN8bR1tY6wE3uI0oA5sD-fG_hJkLz"  # prefix + 40 token chars


def test_canary_token_secret_and_password_masked_rest_kept():
    line = json.dumps({"ts": "2026-11-23T10:00:00.123Z", "event": "auth.failed", "tokenPrefix": "mcp_ab12",
                       "ip": "203.0.113.7", "path": "/mcp?password=hunter2secret&x=1", "note": "sent " + CANARY},
                      separators=(",", ":"))
    out = Redactor().redact(line.encode()).decode()
    assert CANARY[8:] not in out and "hunter2secret" not in out
    rec = json.loads(out)
    assert rec["note"] == "sent mcp_ab12[REDACTED]"
    assert rec["path"] == "/mcp?password=[REDACTED]&x=1"
    assert rec["tokenPrefix"] == "mcp_ab12" and rec["ip"] == "203.0.113.7" and rec["event"] == "auth.failed"
    assert rec["ts"] == "2026-11-23T10:00:00.123Z"


def test_bearer_secret_keys_and_long_runs():
    text = json.dumps({"authorization": "Bearer abc.def", "msg": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9x",
                       "clientSecret": "s3cr3t", "blob": "a1" * 20, "sha": "0f" * 32,
                       "path": "/api/mcp-tokens/tok_7f3a9c/revoke", "tokenId": "tok_7f3a9c",
                       "backupId": "20261123T020000Z-a1b2c3"})
    out = json.loads(redact_text(text))
    assert out["authorization"] == "[REDACTED]" and "eyJ" not in out["msg"] and out["clientSecret"] == "[REDACTED]"
    assert out["blob"] == "[REDACTED]" and out["sha"] == "[REDACTED]"
    assert out["path"] == "/api/mcp-tokens/tok_7f3a9c/revoke" and out["tokenId"] == "tok_7f3a9c"
    assert out["backupId"] == "20261123T020000Z-a1b2c3"


def test_hash_ips_consistent_under_one_salt():
    hasher = IpHasher("salt-1")
    assert hasher("203.0.113.7") == hasher("203.0.113.7") == IpHasher("salt-1")("203.0.113.7")
    assert hasher("203.0.113.7") != hasher("203.0.113.8")
    assert hasher("203.0.113.7") != IpHasher("salt-2")("203.0.113.7")
    line = b'{"ts":"2026-11-23T10:00:00.123Z","event":"auth.ok","ip":"2001:db8::1","msg":"from 203.0.113.7"}'
    out = json.loads(Redactor("salt-1").redact(line))
    assert out["ip"] == hasher("2001:db8::1") and out["msg"] == "from " + hasher("203.0.113.7")
    assert out["ts"] == "2026-11-23T10:00:00.123Z"
