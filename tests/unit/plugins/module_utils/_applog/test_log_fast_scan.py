"""The bytes path (feed_blocks: log_fast_scan + log_prefilter) gives the result of the parse-every-line path on
generated logs full of edge cases: escaped quotes, \\u escapes, unicode, other key orders, spaces after colons,
levels in other case and as pino numbers, out-of-window and undated lines, over-long lines, a partial last line,
message_contains (case-sensitive and not); small reads, so that blocks, splits and carries are exercised."""

import datetime
import json
import random

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.app_log_scan_run import run
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_fast_scan import SegmentHeads, count_inside
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_prefilter import plain_run
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog import log_file

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
FIELDS = {"time": "timestamp", "level": "level", "message": "message", "latency": "duration_ms",
          "client_ip": "client_ip", "error_type": "error_type", "status": "status", "path": "path"}


def stamp(rng, hours_back):
    moment = NOW - datetime.timedelta(seconds=rng.uniform(0, hours_back * 3600))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def record(rng):
    kind = rng.random()
    rec = {"timestamp": stamp(rng, 14), "level": "INFO", "logger": "connectormcp",
           "message": "GET /api/health 200", "method": "GET", "path": "/api/health", "status": 200,
           "duration_ms": round(rng.uniform(1, 50), 1), "client_ip": "10.0.0.%d" % rng.randint(1, 9)}
    if kind < 0.08:
        rec.update(level=rng.choice(["ERROR", "error", "Error", "CRITICAL", "fatal"]), status=503,
                   error_type=rng.choice(["OperationalError", "PoolExhausted", 'Quote"Error']),
                   message='POST /api/tools/call 503: "MCP tool call failed"', error='db said "no"')
    elif kind < 0.14:
        rec.update(level="WARNING", status=429, message=rng.choice(["rate_limit_exceeded", " RATE_LIMIT_EXCEEDED "]),
                   client_ip="203.0.113.%d" % rng.randint(1, 3))
    elif kind < 0.18:
        rec.update(level="WARNING", status=401, event=rng.choice(["auth_failure", "invalid_token", "Unauthorized"]))
    elif kind < 0.22:
        rec.update(duration_ms=rng.choice([999.9, 1000, 5000.5, "2500", 1e4, 12345]))
    elif kind < 0.25:
        rec.update(level="WARNING", message=rng.choice(["memory usage high: rss 300 MB", "Memory usage HIGH",
                                                        "MCP connector slack: circuit open", "mcp lower case"]))
    elif kind < 0.27:
        rec.update(message="caf\u00e9 \u00fcber MCP \u2603")  # unicode, raw
    return rec


def edge_lines(rng):
    """Lines of every odd kind, as bytes."""
    base = record(rng)
    yield json.dumps(base).encode()
    yield json.dumps(base, separators=(",", ":")).encode()                         # compact
    yield json.dumps(dict(reversed(list(base.items())))).encode()                  # other key order
    yield json.dumps(dict(base, level="\u0045RROR"), ensure_ascii=True).encode()    # plain
    yield json.dumps(dict(base, message="caf\u00e9 memory"), ensure_ascii=True).encode()  # \u escapes
    yield (json.dumps(base)[:-1] + ', "note": "\\u0045RROR"}').encode()
    yield b'{"timestamp" :  "' + stamp(rng, 3).encode() + b'", "level": "error", "duration_ms": 3000}'
    yield json.dumps(dict(base, level=" eRRoR ")).encode()
    yield json.dumps({"timestamp": stamp(rng, 3), "level": 50, "message": "pino-ish"}).encode()
    yield json.dumps({"timestamp": stamp(rng, 3), "level": "\t60", "message": "escaped tab level"}).encode()
    yield json.dumps({"level": "ERROR", "message": "undated"}).encode()
    yield json.dumps({"timestamp": "yesterday", "level": "ERROR"}).encode()
    yield json.dumps({"timestamp": "2026-11-23T10:00:00+02:00", "level": "ERROR"}).encode()  # other form
    yield json.dumps(dict(base, timestamp="2026-11-20T10:00:00.000Z", level="ERROR")).encode()  # out of window
    yield json.dumps(dict(base, timestamp="2026-11-24T10:00:00.000Z", level="ERROR")).encode()  # after now
    yield b"not json at all"
    yield b"[1, 2, 3]"
    yield b""
    yield b"   "
    yield json.dumps(dict(base, status="429", message="x", event="RATE_LIMIT_EXCEEDED")).encode()
    yield json.dumps(dict(base, duration_ms=" 1.5e3 ")).encode()
    yield json.dumps(dict(base, ctx={"timestamp": "2026-01-01T00:00:00.000Z", "level": "ERROR"})).encode()
    yield json.dumps(dict(base, message="a/b \\ MCP \"quoted\" memory")).encode()
    yield json.dumps(dict(base, message="x" * 3000)).encode()                      # over max_line_bytes
    yield (json.dumps(base) + "\r").encode()                                        # CRLF
    yield b'\xff\xfe{"timestamp": "bad utf-8"}'


def write_log(path, rng, count, partial_last=True):
    with open(path, "wb") as handle:
        for index in range(count):
            if index % 50 == 7:
                for line in edge_lines(rng):
                    handle.write(line + b"\n")
            handle.write(json.dumps(record(rng), ensure_ascii=False).encode() + b"\n")
        if partial_last:
            handle.write(b'{"timestamp": "' + stamp(rng, 1).encode() + b'", "level": "ERROR", "mess')


def scan(path, **options):
    params = dict(paths=[str(path)], fields=FIELDS, last="12h", top=20, samples=5, max_line_bytes=2048,
                  message_contains=["MCP", "memory", "caf\u00e9", '"quoted"'])
    params.update(options)
    return run(params, now=NOW)


@pytest.fixture(autouse=True)
def small_reads(monkeypatch):
    """Reads of 64 KiB and splits down to 512 bytes, so that a small file makes many blocks and splits."""
    real = log_file.line_blocks
    monkeypatch.setattr("ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_fast_scan.SMALLEST", 512)
    monkeypatch.setattr("ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_findings.SMALLEST", 512)
    monkeypatch.setattr("ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_file.line_blocks",
                        lambda path, max_line: real(path, max_line, chunk_size=64 * 1024))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("options", [
    {},
    {"message_ignore_case": True},
    {"last": None},
    {"last": "12h", "include_undated": True},
    {"slow_ms": 0, "auth_statuses": [401], "rate_limit_statuses": [429], "error_levels": ["warning", "50"]},
    {"checks": ["slow"], "slow_ms": 2500, "fields": {}},
])
def test_bytes_path_equals_parsing_every_line(tmp_path, seed, options):
    path = tmp_path / "app.log"
    write_log(path, random.Random(seed), 1500)
    fast = scan(path, **options)
    full = scan(path, parse_every_line=True, **options)
    assert fast == full
    assert full["files"][0]["skipped_bad_json"] >= 3 and full["files"][0]["skipped_too_long"] > 0
    assert full["files"][0]["out_of_window"] > 0 or options.get("last", "12h") is None


def test_findings_are_there(tmp_path):
    path = tmp_path / "app.log"
    write_log(path, random.Random(7), 800)
    result = scan(path, message_ignore_case=True)
    assert result["errors"]["total"] > 50 and result["rate_limited"]["total"] > 30
    assert result["auth_failures"]["total"] > 20 and result["slow"]["total"] > 10
    texts = {entry["text"]: entry["count"] for entry in result["messages"]}
    assert texts["MCP"] > 50 and texts["memory"] > 5 and texts["caf\u00e9"] > 5 and texts['"quoted"'] > 0
    mcp = result["messages"][0]
    assert 0 < len(mcp["samples"]) <= 5 and all("mcp" in s["record"]["message"].lower() for s in mcp["samples"])
    assert any("whose message holds 'MCP'" in line for line in result["problems"])


def test_a_plain_log_is_read_by_bytes(tmp_path):
    """On a log of the connector's own form the bytes path reads every block without parsing most lines."""
    rng = random.Random(5)
    lines = [json.dumps(record(rng), ensure_ascii=False).encode() for _ in range(400)]
    segment = b"\n".join(line for line in lines if line.isascii())
    heads = SegmentHeads(("ts", "timestamp", "time"), 1 << 20)
    stamps = heads.timestamps(segment, segment.count(b"\n") + 1)
    assert stamps is not None and len(stamps) == segment.count(b"\n") + 1
    assert heads.timestamps(segment + b'\n{"ts": "2026-11-23T10:00:00.000Z"}', len(stamps) + 1) is None  # ts first


def test_count_inside_and_plain_run():
    stamps = [b"2026-11-23T10:00:00.000Z", b"2026-11-23T11:00:00.000Z", b"2026-11-23T12:00:00.001Z"]
    assert count_inside(stamps, None, None) == 3
    assert count_inside(stamps, b"2026-11-23T10:00:00.000Z", b"2026-11-23T12:00:00.000Z") == 2
    assert count_inside(stamps, b"2026-11-24T00:00:00.000Z", None) == 0
    assert plain_run('say "hi/there" now') == b"there"
    assert plain_run("caf\u00e9 ok") == b"caf"
    assert plain_run('"/') == b""
