"""_audit/findings.py directly: the capped counter, AuditFindings on lines and blocks, usage_summary."""

import datetime
import json

from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.findings import (
    OTHER,
    AuditFindings,
    Counter,
    usage_summary,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.window import resolve_window

NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=datetime.timezone.utc)


def ts(minutes_ago):
    when = NOW - datetime.timedelta(minutes=minutes_ago)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (when.microsecond // 1000)


def gateway_line(when, event, **fields):
    """A line in the gateway's own form (compact, ts then event first): the fast path reads it."""
    rec = {"ts": when, "event": event}
    rec.update(fields)
    return json.dumps(rec, separators=(",", ":")).encode()


def other_form(when, event, **fields):
    """The same event with spaces and another key order: only a full JSON parse reads it."""
    rec = dict(fields, event=event, ts=when)
    return json.dumps(rec).encode()


def test_counter_caps_distinct_keys_and_ranks_by_count():
    counter = Counter(cap=2)
    for key, amount in ((b"a", 1), (b"b", 5), (b"a", 1), (b"c", 7), (b"d", 1)):
        counter.add(key, amount)
    assert counter.truncated is True and counter.total() == 15
    assert counter.top(2) == [{"key": OTHER, "count": 8}, {"key": "b", "count": 5}]
    assert counter.top(10)[-1] == {"key": "a", "count": 2}


def test_fast_and_slow_forms_count_the_same():
    window = resolve_window(last="1h", baseline=None, now=NOW)
    events = [("auth.failed", dict(tokenPrefix="mcp_ab12", ip="203.0.113.7", reason="revoked")),
              ("rate_limit.exceeded", dict(tokenPrefix="mcp_9f3e", clientId="ci-bot", orgId="org_acme", ip="203.0.113.5")),
              ("auth.ok", dict(tokenPrefix="mcp_9f3e"))]
    results = []
    for form in (gateway_line, other_form):
        findings = AuditFindings(window, checks=["auth_failed", "rate_limited"])
        findings.feed_lines([form(ts(30), name, **fields) for name, fields in events] + [form(ts(90), "auth.ok")])
        results.append(findings.result(top=5))
    fast, slow = results
    assert fast == slow
    assert fast["lines"] == 3 and fast["scanned_lines"] == 4
    assert fast["auth_failed"]["by_reason"] == [{"key": "revoked", "count": 1}]
    assert fast["rate_limited"]["top_actors"] == [
        {"token_prefix": "mcp_9f3e", "client_id": "ci-bot", "org_id": "org_acme", "count": 1}]
    assert fast["exfiltration"] is None


def test_a_block_counts_like_its_lines_and_finds_a_broken_line_number():
    window = resolve_window(last="1h", baseline=None, now=NOW)
    lines = [gateway_line(ts(50 - i), "auth.failed", tokenPrefix="mcp_%04d" % (i % 3), reason="expired") for i in range(9)]
    lines.insert(4, b'{"ts":"%s","event":"auth.failed","tokenPrefix":' % ts(40).encode() + b"}")  # shape ok, JSON not
    by_block = AuditFindings(window, checks=["auth_failed"])
    by_block.feed_block(b"\n".join(lines), first_lineno=11)
    by_line = AuditFindings(window, checks=["auth_failed"])
    by_line.feed_lines(lines, first_lineno=11)
    assert by_block.result() == by_line.result()
    result = by_block.result()
    assert result["malformed"] == {"count": 1, "first_lines": [15]}
    assert result["auth_failed"]["total"] == 9 and result["events"] == {"auth.failed": 9}


def test_malformed_lines_are_counted_with_their_numbers():
    findings = AuditFindings(resolve_window(now=NOW), checks=["auth_failed"])
    findings.feed_lines([b"not json", b"[1, 2]", b'{"ts": "yesterday", "event": "x"}', b'{"ts": "%s"}' % ts(1).encode(),
                         None, b"", gateway_line(ts(1), "auth.ok")])
    result = findings.result()
    assert result["malformed"] == {"count": 5, "first_lines": [1, 2, 3, 4, 5]}
    assert result["lines"] == 1 and result["events"] == {"auth.ok": 1}


def test_usage_summary_counts_the_window_and_the_errors(tmp_path):
    path = tmp_path / "usage.jsonl"
    rows = [
        {"ts": ts(10), "tokenPrefix": "mcp_ab12", "clientId": "cursor-ide", "orgId": "org_acme", "tool": "query", "status": "ok"},
        {"ts": ts(20), "tokenPrefix": "mcp_ab12", "clientId": "cursor-ide", "orgId": "org_acme", "tool": "query", "status": 500},
        {"ts": ts(30), "tokenPrefix": "mcp_9f3e", "clientId": "ci-bot", "orgId": "org_acme", "tool": "list", "status": 200},
        {"ts": ts(120), "tokenPrefix": "mcp_old0", "tool": "query", "status": "error"},  # before the window
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\nnot json\n")
    summary = usage_summary(str(path), resolve_window(last="1h", baseline=None, now=NOW), top=5)
    assert summary["lines"] == 3 and summary["malformed"] == {"count": 1, "first_lines": [5]}
    assert summary["by_token_prefix"] == [{"key": "mcp_ab12", "count": 2}, {"key": "mcp_9f3e", "count": 1}]
    assert summary["by_tool"][0] == {"key": "query", "count": 2}
    assert summary["errors_by_token_prefix"] == [{"key": "mcp_ab12", "count": 1}]
    assert summary["truncated"] is False
