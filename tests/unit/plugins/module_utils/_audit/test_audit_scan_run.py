"""audit_scan's entry point run(), end to end on an audit file: counts, auth failures, rate-limit actors,
exfiltration indicators, export, malformed lines, bad input (TaskError)."""

import datetime
import json
import os
import stat

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.audit_scan_run import run
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=datetime.timezone.utc)
CANARY = "mcp_ab12" + "Q7xK9zP2mL4vN8bR1tY6wE3uI0oA5sD-fG_hJkLz"


def ts(hours_ago, extra_ms=0):
    when = NOW - datetime.timedelta(hours=hours_ago) + datetime.timedelta(milliseconds=extra_ms)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (when.microsecond // 1000)


def line(when, event, **fields):
    rec = {"ts": when, "event": event}
    rec.update(fields)
    return json.dumps(rec, separators=(",", ":"))


def use(when, prefix, ip, rows=None, event="tool.called"):
    extra = {"tool": "list_profiles", "rows": rows} if rows is not None else {}
    return line(when, event, status=200, ip=ip, path="/mcp", tokenPrefix=prefix, clientId="cursor-ide",
                orgId="org_acme", **extra)


def scan(tmp_path, lines, **params):
    path = tmp_path / "audit.jsonl"
    path.write_text("\n".join(lines) + "\n")
    params.setdefault("audit_path", str(path))
    params.setdefault("data_dir", str(tmp_path))
    warnings = []
    result = run(params, params.pop("check_mode", False), warn=warnings.append, now=NOW)
    result["warnings"] = warnings
    return result


def test_counts_auth_failed_and_rate_limited_in_window(tmp_path):
    lines = [
        line(ts(5), "auth.failed", status=403, tokenPrefix="mcp_old0", ip="203.0.113.1", reason="expired"),
        line(ts(0.5), "auth.failed", status=403, tokenPrefix="mcp_ab12", clientId="cursor-ide", ip="203.0.113.7", reason="revoked"),
        line(ts(0.4), "auth.failed", status=403, tokenPrefix="mcp_ab12", clientId="cursor-ide", ip="203.0.113.7", reason="revoked"),
        line(ts(0.3), "auth.failed", status=401, tokenPrefix=None, ip="198.51.100.9", reason="missing_token"),
        line(ts(0.2), "rate_limit.exceeded", status=429, tokenPrefix="mcp_9f3e", clientId="ci-bot", orgId="org_acme", ip="203.0.113.5"),
        line(ts(0.1), "rate_limit.exceeded", status=429, tokenPrefix="mcp_9f3e", clientId="ci-bot", orgId="org_acme", ip="203.0.113.5"),
        line(ts(0.1), "auth.ok", status=200, tokenPrefix="mcp_9f3e"),
        line(ts(-1), "auth.failed", status=403, tokenPrefix="mcp_late", reason="expired"),  # after until
    ]
    for checks in (["auth_failed", "rate_limited"], None):  # block fast path, then line by line (exfiltration)
        result = scan(tmp_path, lines, last="1h", checks=checks)
        assert result["lines"] == 6 and result["scanned_lines"] == 8
        assert result["events"] == {"auth.failed": 3, "rate_limit.exceeded": 2, "auth.ok": 1}
        failed = result["auth_failed"]
        assert failed["total"] == 3
        assert failed["by_token_prefix"] == [{"key": "mcp_ab12", "count": 2}, {"key": None, "count": 1}]
        assert failed["by_reason"][0] == {"key": "revoked", "count": 2}
        assert failed["by_ip"][0] == {"key": "203.0.113.7", "count": 2}
        assert result["rate_limited"]["top_actors"] == [
            {"token_prefix": "mcp_9f3e", "client_id": "ci-bot", "org_id": "org_acme", "count": 2}]


def test_malformed_lines_counted_never_fatal(tmp_path):
    lines = [use(ts(0.5), "mcp_a1a1", "203.0.113.1"), "{not json", "[1, 2]", '{"event": "auth.ok"}',
             '{"ts":"2026-11-23T11:30:00.000Z","event":"auth.failed","reason":"x"',  # truncated
             '{"ts": "2026-11-23T11:40:00Z", "event": "auth.ok"}']  # other form, fine
    for checks in (["auth_failed"], None):
        result = scan(tmp_path, lines, last="1h", checks=checks)
        assert result["malformed"] == {"count": 4, "first_lines": [2, 3, 4, 5]}
        assert result["lines"] == 2 and result["events"] == {"tool.called": 1, "auth.ok": 1}
        assert any("malformed" in w for w in result["warnings"])


def baseline_lines():
    """mcp_a1a1 reads 10 rows an hour from two ips for 24 h before the window."""
    out = []
    for hour in range(2, 26):
        out.append(use(ts(hour), "mcp_a1a1", "203.0.113.%d" % (hour % 2 + 1), rows=10))
    return out


def test_high_volume_fires_far_above_baseline_only(tmp_path):
    quiet = baseline_lines() + [use(ts(0.5, i), "mcp_a1a1", "203.0.113.1", rows=10) for i in range(3)]
    result = scan(tmp_path, quiet, last="1h", baseline="1d", exfil_min_rows=50)
    assert result["exfiltration"]["baseline_checked"] is True
    assert result["exfiltration"]["high_volume"] == []
    loud = baseline_lines() + [use(ts(0.5, i), "mcp_a1a1", "203.0.113.1", rows=500) for i in range(3)]
    found = scan(tmp_path, loud, last="1h", baseline="1d", exfil_min_rows=50)["exfiltration"]["high_volume"]
    assert len(found) == 1 and found[0]["token_prefix"] == "mcp_a1a1" and found[0]["rows"] == 1500
    assert found[0]["reasons"] == ["rows"] and found[0]["rows_ratio"] >= 10
    # below the minimum it does not fire, however far above the baseline
    assert scan(tmp_path, loud, last="1h", baseline="1d", exfil_min_rows=5000)["exfiltration"]["high_volume"] == []


def test_new_ip_fires_for_an_unseen_ip_only(tmp_path):
    same = baseline_lines() + [use(ts(0.5), "mcp_a1a1", "203.0.113.2", event="auth.ok")]
    assert scan(tmp_path, same, last="1h", baseline="1d")["exfiltration"]["new_ip"] == []
    fresh = baseline_lines() + [use(ts(0.5), "mcp_a1a1", "192.0.2.66", event="auth.ok"),
                                use(ts(0.4), "mcp_b2b2", "192.0.2.67", event="auth.ok")]  # no baseline: not flagged
    found = scan(tmp_path, fresh, last="1h", baseline="1d")["exfiltration"]["new_ip"]
    assert [(f["token_prefix"], f["ip"], f["baseline_ips"]) for f in found] == [("mcp_a1a1", "192.0.2.66", 2)]
    # without a window start the baseline indicators are not checked, and the result says so
    open_window = scan(tmp_path, fresh)
    assert open_window["exfiltration"]["baseline_checked"] is False and open_window["exfiltration"]["new_ip"] == []
    assert any("baseline" in w for w in open_window["warnings"])


def test_use_after_revocation_fires_only_after_the_revocation(tmp_path):
    before = [use(ts(0.8), "mcp_c3c3", "203.0.113.1"),
              line(ts(0.5), "token.revoked", status=200, tokenPrefix="mcp_c3c3", clientId="ci-bot", orgId="org_acme")]
    assert scan(tmp_path, before, last="1h")["exfiltration"]["after_revocation"] == []
    after = before + [use(ts(0.3), "mcp_c3c3", "192.0.2.9"),
                      line(ts(0.2), "auth.failed", status=403, tokenPrefix="mcp_c3c3", reason="revoked")]
    found = scan(tmp_path, after, last="1h")["exfiltration"]["after_revocation"]
    assert len(found) == 1
    assert found[0]["token_prefix"] == "mcp_c3c3" and found[0]["revoked_at"] == ts(0.5)
    assert found[0]["uses"] == 1 and found[0]["attempts"] == 1 and found[0]["ips"] == ["192.0.2.9"]
    # a revocation long before the window still counts
    old = [line(ts(48), "token.revoked", status=200, tokenPrefix="mcp_d4d4")] + [use(ts(0.3), "mcp_d4d4", "192.0.2.9")]
    assert scan(tmp_path, old, last="1h")["exfiltration"]["after_revocation"][0]["uses"] == 1


def test_export_redacted_atomic_0600_idempotent_and_check_mode(tmp_path):
    lines = [line(ts(0.5), "tool.called", tokenPrefix="mcp_ab12", ip="203.0.113.7", note="leaked " + CANARY),
             line(ts(0.4), "auth.failed", tokenPrefix="mcp_ab12", path="/mcp?password=hunter2", ip="203.0.113.7"),
             line(ts(5), "auth.ok", tokenPrefix="mcp_ab12", ip="203.0.113.7")]  # outside the window
    dest = tmp_path / "out" / "export.jsonl"
    with pytest.raises(TaskError, match="does not exist"):
        scan(tmp_path, lines, last="1h", export_path=str(dest))
    dest.parent.mkdir()
    checked = scan(tmp_path, lines, last="1h", export_path=str(dest), check_mode=True)
    assert checked["export"]["lines"] == 2 and checked["changed"] is True and not dest.exists()
    made = scan(tmp_path, lines, last="1h", export_path=str(dest), hash_ips=True, ip_salt="s")
    assert made["changed"] is True and made["export"]["written"] is True
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600 and os.listdir(str(dest.parent)) == ["export.jsonl"]
    text = dest.read_text()
    assert CANARY[8:] not in text and "hunter2" not in text and "203.0.113.7" not in text
    rows = [json.loads(item) for item in text.splitlines()]
    assert rows[0]["note"] == "leaked mcp_ab12[REDACTED]" and rows[0]["ip"].startswith("ip_")
    assert rows[0]["ip"] == rows[1]["ip"]
    again = scan(tmp_path, lines, last="1h", export_path=str(dest), hash_ips=True, ip_salt="s")
    assert again["changed"] is False and again["export"]["written"] is False
    assert CANARY[8:] not in json.dumps(made)


def test_bad_input(tmp_path):
    with pytest.raises(TaskError, match="audit file"):
        run({"data_dir": str(tmp_path / "nope")})
    with pytest.raises(TaskError, match="last"):
        scan(tmp_path, [], last="soon")
    with pytest.raises(TaskError, match="checks"):
        scan(tmp_path, [], checks=["everything"])
