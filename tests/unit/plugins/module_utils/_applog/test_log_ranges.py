"""_applog/log_ranges.py: a log scanned in byte ranges, one forked process a range, gives exactly what one pass gives:
the same counts, counters, samples (line numbers included) and window placement, with the range cuts falling inside
lines, an overlong line across a cut, odd lines, and a counter over its cap sent back to one pass."""

import datetime
import json
import random

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog import log_ranges
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.app_log_scan_run import run
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_fields import check_fields
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_file import line_blocks, open_log
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_findings import AppLogFindings
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_time import last_window

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
FIELDS = {"time": "timestamp", "latency": "duration_ms"}


def connector_log(path, lines=3000, seed=7):
    """JSON lines over 12 hours up to NOW (so a 6h window cuts the file in two), in the mix connector-mcp writes,
    with odd lines among them: not JSON, a JSON array, blank, non-ASCII, an escape, a 5,000-byte message (over the
    max_line_bytes the test uses), equal latencies far apart (slow samples tie)."""
    rng = random.Random(seed)
    with open(str(path), "w") as out:
        for n in range(lines):
            stamp = (NOW - datetime.timedelta(hours=12) + datetime.timedelta(seconds=n * 43200 // lines))
            rec = {"timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (n % 1000), "level": "INFO",
                   "message": "GET /api/me 200", "path": rng.choice(["/api/me", "/api/tools/call", "/api/health"]),
                   "status": 200, "duration_ms": round(rng.uniform(1, 300), 1),
                   "client_ip": "10.0.%d.%d" % (rng.randint(0, 3), rng.randint(1, 40))}
            kind = rng.random()
            if kind < 0.05:
                rec.update(level="ERROR", status=503, error_type=rng.choice(["OperationalError", "PoolExhausted"]))
            elif kind < 0.08:
                rec.update(level="WARNING", status=429, message="rate_limit_exceeded",
                           client_ip="203.0.113.%d" % rng.randint(1, 5))
            elif kind < 0.10:
                rec.update(status=401, event=rng.choice(["auth_failure", "invalid_token"]))
            elif kind < 0.13:
                rec.update(duration_ms=rng.choice([6000.0, 7500.5, 9000.0]))  # ties across the ranges
            elif kind < 0.14:
                rec.update(level="ERROR", message="MCP tool call failed: slack/list_channels", error_type="ToolCallFailed")
            elif kind < 0.145:
                rec.update(message="memory usage high: rss %d MB" % rng.randint(300, 900))
            elif kind < 0.15:
                rec.update(message="caf\u00e9 r\u00e9ponse lente", duration_ms=8000.0)
            elif kind < 0.155:
                rec.update(message='quote \\" and \u00e9 escape', level="error")
            line = json.dumps(rec, ensure_ascii=kind >= 0.15)
            if n % 701 == 350:
                line = "not json at all"
            elif n % 977 == 500:
                line = "[1, 2, 3]"
            elif n % 613 == 100:
                line = ""
            elif n % 1499 == 700:
                rec["message"] = "x" * 5000 + " MCP"
                line = json.dumps(rec)
            out.write(line + "\n")
    return str(path)


def test_byte_ranges_cut_at_line_starts(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"aaaa\nbb\n" + b"c" * 100 + b"\nd\n")
    fd = open_log(str(log))
    try:
        size = log.stat().st_size
        ranges = log_ranges.byte_ranges(fd, size, 4)
        assert ranges[0][0] == 0 and ranges[-1][1] == size
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        data = log.read_bytes()
        assert all(data[start - 1:start] == b"\n" for start, _ in ranges[1:])
        assert len(ranges) < 4  # two cuts fell in the 100-byte line: one range dropped empty
    finally:
        import os
        os.close(fd)


def _params(log, **extra):
    params = dict(paths=[log], fields=FIELDS, last="6h", slow_ms=5000, message_contains=["MCP", "memory"],
                  samples=5, top=50, max_line_bytes=4096)
    params.update(extra)
    return params


def test_ranges_equal_one_pass(tmp_path, monkeypatch):
    log = connector_log(tmp_path / "app.log")
    one_pass = run(_params(log), now=NOW)
    calls = []
    real = log_ranges.scan_in_ranges

    def counted(*args, **kwargs):
        done = real(*args, **kwargs)
        calls.append(done)
        return done

    monkeypatch.setattr(log_ranges, "MIN_RANGE", 1)  # one range a CPU however small the file
    monkeypatch.setattr(log_ranges, "processes", lambda: 5)
    monkeypatch.setattr(log_ranges, "scan_in_ranges", counted)
    in_ranges = run(_params(log), now=NOW)
    assert calls == [True]  # it did run in ranges, not fall back
    assert in_ranges == one_pass
    # what this compares holds something in every part: window both ways, every kind, odd lines, samples
    entry = one_pass["files"][0]
    assert entry["in_window"] and entry["out_of_window"] and entry["skipped_bad_json"] and entry["skipped_too_long"]
    for kind in ("errors", "slow", "auth_failures", "rate_limited"):
        assert one_pass[kind]["total"] and len(one_pass[kind]["samples"]) == 5
    assert all(m["count"] for m in one_pass["messages"])
    # the whole file (no window) and the reference path's own numbers agree too
    assert run(_params(log, last=None), now=NOW) == run(_params(log, last=None, parse_every_line=True), now=NOW)


def test_every_cut_position(tmp_path, monkeypatch):
    """Ranges cut at many different places (2 to 9 parts) all give the one-pass result."""
    monkeypatch.setattr(log_ranges, "MAX_RANGES", 9)
    log = connector_log(tmp_path / "app.log", lines=800, seed=11)
    window = last_window("6h", now=NOW)

    def findings():
        return AppLogFindings(check_fields(FIELDS), window, slow_ms=5000, auth_events=["auth_failure", "invalid_token"],
                              rate_limit_events=["rate_limit_exceeded"], samples=3, max_line=4096,
                              messages=["MCP", "memory"])

    single = findings()
    single.feed_blocks(log, line_blocks(log, 4096))
    expected = single.result(20)
    for parts in range(2, 10):
        split = findings()
        assert log_ranges.scan_in_ranges(split, log, 4096, min_range=1, cpus=parts)
        assert split.result(20) == expected, parts


def test_a_counter_over_its_cap_goes_back_to_one_pass(tmp_path):
    log = connector_log(tmp_path / "app.log", lines=600)
    window = last_window(None, now=NOW)
    capped = AppLogFindings(check_fields(FIELDS), window, max_keys=3, samples=2, max_line=4096)
    assert not log_ranges.scan_in_ranges(capped, log, 4096, min_range=1, cpus=3)
    assert capped.files == []  # nothing counted: the caller reads the file in one pass
    assert not log_ranges.scan_in_ranges(capped, log, 4096, min_range=10 ** 9, cpus=3)  # too small to split
    assert not log_ranges.scan_in_ranges(capped, log, 4096, min_range=1, cpus=1)  # one CPU


def test_no_more_ranges_than_max_ranges(tmp_path, monkeypatch):
    """Memory stays bounded whatever the CPUs: at most MAX_RANGES processes (this one and MAX_RANGES - 1 forks)."""
    log = connector_log(tmp_path / "app.log", lines=600)
    forks = []
    real_fork = log_ranges.os.fork

    def fork():
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(log_ranges.os, "fork", fork)
    findings = AppLogFindings(check_fields(FIELDS), last_window(None, now=NOW), samples=2, max_line=4096)
    assert log_ranges.scan_in_ranges(findings, log, 4096, min_range=1, cpus=64)
    assert len(forks) == log_ranges.MAX_RANGES - 1
