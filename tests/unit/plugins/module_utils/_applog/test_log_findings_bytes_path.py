"""The bytes path of app_log_scan (log_tokens, log_needles, the anchored key patterns, scan_once, the judge built
once) gives exactly what parsing every line gives, on a log in the bench's form (bench/app_log_scan.py: INFO
requests, errors with escaped quotes, 429s, auth failures, MCP and memory lines, slow requests) with every odd line
the bytes path has to notice: level forms that change from block to block (a new casing, an escaped tab, digits as
text, a pino number), a nested and a duplicated level, the key's name as a value, names in mixed case and with
spaces, latencies as text, with an exponent, with odd spacing, lines that start right but are not JSON (all of them
candidates: a line no search names is taken as JSON, log_fast_scan's docstring), CRLF ends, trailing blanks, a
region where a byte the sample calls rare is everywhere, and times on the window's two bounds and a millisecond
outside each. Small reads (64 KiB) and splits (512 bytes), so lines cross reads, blocks and splits; then the same
log in byte ranges (log_ranges), cut inside lines."""

import datetime
import json
import random

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog import log_file, log_needles, log_ranges
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.app_log_scan_run import run

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
FIELDS = {"time": "timestamp", "level": "level", "message": "message", "latency": "duration_ms",
          "client_ip": "client_ip", "error_type": "error_type", "status": "status", "path": "path"}
BOUNDS = ["2026-11-23T06:00:00.000Z", "2026-11-23T12:00:00.000Z"]  # last 6h from NOW: since and until, included
OUTSIDE = ["2026-11-23T05:59:59.999Z", "2026-11-23T12:00:00.001Z"]


def stamp(seconds_back):
    moment = NOW - datetime.timedelta(seconds=seconds_back)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def request(rng, when):
    """One line of the bench's mix (bench/app_log_scan.py generate())."""
    path = rng.choice(["/api/oauth/start", "/api/oauth/callback", "/api/tools/call", "/api/health", "/api/me"])
    rec = {"timestamp": when, "level": "INFO", "logger": "connectormcp", "message": "GET %s 200" % path,
           "method": "GET", "path": path, "status": 200, "duration_ms": round(rng.lognormvariate(3, 1.2), 1),
           "client_ip": "10.%d.%d.%d" % (rng.randint(0, 3), rng.randint(0, 255), rng.randint(1, 254))}
    kind = rng.random()
    if kind < 0.05:
        rec.update(level="ERROR", status=503, message="GET %s 503" % path,
                   error="database: (2003, \"Can't connect to MySQL server\")",
                   error_type=rng.choice(["OperationalError", "PoolExhausted", "HTTPError"]))
    elif kind < 0.09:
        rec.update(level="WARNING", status=429, message="rate_limit_exceeded", duration_ms=0.4,
                   client_ip="203.0.113.%d" % rng.randint(1, 5))
    elif kind < 0.11:
        rec = {"timestamp": when, "level": "WARNING", "logger": "connectormcp", "message": "auth failure on GET /api/me",
               "event": rng.choice(["auth_failure", "invalid_token", "unauthorized"]), "client_ip": rec["client_ip"],
               "path": "/api/me", "status": 401}
    elif kind < 0.12:
        rec = {"timestamp": when, "level": "ERROR", "logger": "connectormcp",
               "message": "MCP tool call failed: slack/list_channels", "event": "tool_call_failed",
               "error_type": "ToolCallFailed", "client_ip": rec["client_ip"]}
    elif kind < 0.125:
        rec = {"timestamp": when, "level": "WARNING", "logger": "connectormcp",
               "message": "memory usage high: rss %d MB" % rng.randint(257, 900), "event": "memory_high"}
    elif kind < 0.15:
        rec.update(duration_ms=round(rng.uniform(5000, 30000), 1))
    return json.dumps(rec)


def odd(rng, when, index):
    """One of the lines the bytes path must notice, in turn."""
    base = {"timestamp": when, "level": "INFO", "message": "GET /api/me 200", "path": "/api/me", "status": 200,
            "duration_ms": 12.5, "client_ip": "10.9.9.%d" % (index % 250)}
    head = '{"timestamp": "%s", ' % when
    kinds = [
        lambda: json.dumps(dict(base, level="Error", error_type="Mixed")),
        lambda: json.dumps(dict(base, level=" Fatal ")),
        lambda: json.dumps(dict(base, level="\tcritical")),                             # an escaped tab
        lambda: json.dumps(dict(base, level="50")),                                     # pino digits as text
        lambda: json.dumps(dict(base, level=60)),                                       # a number: counting fails
        lambda: json.dumps(dict(base, ctx={"level": "ERROR"})),                         # nested, top level INFO
        lambda: json.dumps(base)[:-1] + ', "level": "ERROR"}',                          # duplicate: the last wins
        lambda: json.dumps(dict(base, field="level")),                                  # the name as a value
        lambda: json.dumps(dict(base, level="WARNING", event="Auth_Failure")),
        lambda: json.dumps(dict(base, level="WARNING", message=" RATE_LIMIT_EXCEEDED ")),
        lambda: json.dumps(dict(base, level="WARNING", message="RATE_LIMIT_EXCEEDED", client_ip=None)),
        lambda: json.dumps(dict(base, error_type="unauthorized")),
        lambda: json.dumps(dict(base, duration_ms="6000")),
        lambda: json.dumps(dict(base, duration_ms=6e3)),
        lambda: json.dumps(dict(base, duration_ms=-7000)),
        lambda: head + '"level": "INFO", "duration_ms" : 7000, "path": "/spaced"}',
        lambda: head + '"level": "ERROR", "message": "not json after all"} trailing',  # a candidate that is not JSON
        lambda: head + '"level": "ERROR", "message": }',
        lambda: head + '"level": "ERROR", "message": "crlf"}\r',
        lambda: json.dumps(dict(base, level="ERROR", message="blank after")) + "   ",
        lambda: json.dumps(dict(base, message="MCP connector memory", error_type="Quote\"Error")),
        lambda: json.dumps(dict(base, level="ERROR", timestamp="2026-11-23 06:00:00.000")),  # another time form
        lambda: json.dumps(dict(base, level="ERROR", timestamp=None)),
    ]
    return kinds[index % len(kinds)]()


def write_log(path, seed, lines=3000):
    rng = random.Random(seed)
    with open(str(path), "w", newline="") as out:
        for index in range(lines):
            when = stamp(8 * 3600 * (lines - index) / lines)  # 8 hours in order: the 6h window cuts it
            if index % 40 == 17:
                line = odd(rng, when, index // 40)
            elif index % 500 in (250, 251, 252, 253):  # the window's bounds and a millisecond outside each
                when = (BOUNDS + OUTSIDE)[index % 500 - 250]
                line = json.dumps({"timestamp": when, "level": "ERROR", "error_type": "Bound", "duration_ms": 9000})
            else:
                line = request(rng, when)
                if index > lines * 2 // 3:  # the x the sample calls rare (rate_limit_exceeded's) on every line
                    line = line[:-1] + ', "trace": "x%dx"}' % index
            out.write(line + "\n")


@pytest.fixture(autouse=True)
def small_reads(monkeypatch):
    """Reads of 64 KiB, splits down to 512 bytes, and a 2 KiB sample for the rare bytes (so that blocks this small
    are searched by them, and the x that turns common hands over)."""
    real = log_file.line_blocks
    monkeypatch.setattr(log_needles, "SAMPLE", 2048)
    monkeypatch.setattr("ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_fast_scan.SMALLEST", 512)
    monkeypatch.setattr("ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_findings.SMALLEST", 512)
    monkeypatch.setattr("ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_file.line_blocks",
                        lambda path, max_line: real(path, max_line, chunk_size=64 * 1024))


def scan(path, **options):
    params = dict(paths=[str(path)], fields=FIELDS, last="6h", slow_ms=5000, message_contains=["MCP", "memory"],
                  top=50, samples=5)
    params.update(options)
    return run(params, now=NOW)


@pytest.mark.parametrize("options", [
    {},
    {"last": None, "message_ignore_case": True},
    {"error_levels": ["error", "60"], "auth_statuses": [401], "rate_limit_statuses": [429], "slow_ms": 1000},
    {"fields": {}, "include_undated": True},
    {"message_contains": ["MCP", '"/']},  # a text no byte search can find: every line a candidate for every check
])
def test_bytes_path_equals_parsing_every_line(tmp_path, options):
    log = tmp_path / "app.log"
    write_log(log, seed=len(options))
    fast = scan(log, **options)
    assert fast == scan(log, parse_every_line=True, **options)
    entry = fast["files"][0]
    assert entry["skipped_bad_json"] >= 2 and entry["lines"] == 3000
    for kind in ("errors", "slow", "auth_failures", "rate_limited"):
        assert fast[kind]["total"] > 20, kind
    if options.get("last", "6h"):
        assert entry["out_of_window"] and entry["in_window"]


def test_the_bounds_are_in_the_window_and_a_millisecond_out_is_not(tmp_path):
    log = tmp_path / "app.log"
    write_log(log, seed=5)
    found = scan(log, checks=["errors"], top=1000)
    bounds = {item["key"]: item["count"] for item in found["errors"]["by_type"]}
    assert bounds["Bound"] == 6 * 2  # 3000 lines: the four special lines at 250, 750, ... (6 times), 2 of 4 inside
    assert found == scan(log, checks=["errors"], top=1000, parse_every_line=True)


def test_ranges_equal_one_pass(tmp_path, monkeypatch):
    log = tmp_path / "app.log"
    write_log(log, seed=9)
    one_pass = scan(log)
    monkeypatch.setattr(log_ranges, "MIN_RANGE", 1)
    monkeypatch.setattr(log_ranges, "processes", lambda: 3)
    calls = []
    real = log_ranges.scan_in_ranges

    def counted(*args, **kwargs):
        calls.append(real(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(log_ranges, "scan_in_ranges", counted)
    assert scan(log) == one_pass
    assert calls == [True]
