"""_applog/app_log_scan_run.py: run() end to end on files: options refused with a clear message, missing files,
links and FIFOs refused, several files added up, problems, a canary secret never returned, bounded memory."""

import datetime
import json
import os
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.app_log_scan_run import run
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..", "collections"))


def write(path, records):
    with open(str(path), "w") as handle:
        for record in records:
            handle.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    return str(path)


def scan(**params):
    warnings = []
    result = run(params, now=NOW, warn=warnings.append)
    return result, warnings


def refused(**params):
    with pytest.raises(TaskError) as caught:
        run(params, now=NOW)
    return caught.value.msg


def test_connector_shaped_log(tmp_path):
    log = write(tmp_path / "app.log", [
        {"timestamp": "2026-11-23T10:00:0%d.000Z" % i, "level": "ERROR", "logger": "connectormcp",
         "message": "POST /api/oauth/start 503", "method": "POST", "path": "/api/oauth/start", "status": 503,
         "duration_ms": 2100.5, "client_ip": "10.0.0.5", "error": "database: (2003, \"Can't connect\")",
         "error_type": "OperationalError"} for i in range(3)
    ] + [
        {"timestamp": "2026-11-23T10:01:00.000Z", "level": "WARNING", "logger": "connectormcp",
         "message": "rate_limit_exceeded", "method": "POST", "path": "/api/oauth/start", "status": 429,
         "duration_ms": 1.2, "client_ip": "203.0.113.9"} for _ in range(4)
    ] + [
        {"timestamp": "2026-11-22T10:00:00.000Z", "level": "ERROR", "message": "old", "error_type": "Old"},
    ])
    result, warnings = scan(paths=[log], last="12h",
                            fields={"time": "timestamp", "latency": "duration_ms", "client_ip": "client_ip"})
    assert result["changed"] is False and warnings == []
    assert result["window"] == {"from": "2026-11-23T00:00:00.000Z", "to": "2026-11-23T12:00:00.000Z"}
    assert result["files"] == [{"path": log, "lines": 8, "in_window": 7, "out_of_window": 1, "undated": 0,
                                "skipped_bad_json": 0, "skipped_too_long": 0}]
    assert result["errors"]["by_type"] == [{"key": "OperationalError", "count": 3}]
    assert result["slow"]["total"] == 3 and result["slow"]["by_path"] == [{"key": "/api/oauth/start", "count": 3}]
    assert result["rate_limited"]["by_client_ip"] == [{"key": "203.0.113.9", "count": 4}]
    assert result["auth_failures"]["total"] == 0
    assert result["problems"] == [
        "3 errors in the last 12h (OperationalError 3)",
        "3 slow requests of 1000 ms or more in the last 12h, slowest 2100.5 ms (/api/oauth/start 3)",
        "4 rate-limited requests in the last 12h (by client ip: 203.0.113.9 4)",
    ]


def test_cctelegram_application_and_security_logs_added_up(tmp_path):
    app = write(tmp_path / "application.log", [
        {"ts": "2026-11-23T11:00:00.000Z", "timestamp": "2026-11-23T11:00:00.000Z", "level": "WARN",
         "message": "GET /health 401", "event": "http_request", "method": "GET", "path": "/health", "status": 401,
         "duration_ms": 0.4, "context": {"client_ip": "10.1.1.1", "duration": 0.4}},
    ])
    security = write(tmp_path / "security.log", [
        {"ts": "2026-11-23T11:00:00.000Z", "timestamp": "2026-11-23T11:00:00.000Z", "level": "WARN",
         "event": "SECURITY", "message": "SECURITY: invalid API key on GET /health", "reason": "invalid_api_key",
         "context": {"client_ip": "10.1.1.1", "method": "GET", "path": "/health"}},
        {"ts": "2026-11-23T11:00:01.000Z", "timestamp": "2026-11-23T11:00:01.000Z", "level": "WARN",
         "event": "RATE_LIMIT_EXCEEDED", "message": "RATE_LIMIT_EXCEEDED: more than 600 requests a minute",
         "reason": "rate_limit", "context": {"client_ip": "10.1.1.2", "method": "POST", "path": "/tools/x"}},
    ])
    result, _ = scan(paths=[app, security], last="1d", fields={"time": "ts", "client_ip": "context.client_ip"})
    assert [f["lines"] for f in result["files"]] == [1, 2]
    assert result["auth_failures"]["by_client_ip"] == [{"key": "10.1.1.1", "count": 1}]  # the 401 line not twice
    assert result["auth_failures"]["by_event"] == [{"key": "SECURITY", "count": 1}]
    assert result["rate_limited"]["by_client_ip"] == [{"key": "10.1.1.2", "count": 1}]
    assert result["errors"]["total"] == 0 and result["problems"][0].startswith("1 auth failure in the last 1d")


def test_pino_log_with_statuses(tmp_path):
    log = write(tmp_path / "api.log", [
        {"level": 50, "time": 1795428000000 + i, "pid": 1, "hostname": "h", "msg": "request errored",
         "req": {"method": "POST", "url": "/api/v1/loyalty/earn", "remoteAddress": "172.18.0.5"},
         "res": {"statusCode": 500}, "responseTime": 3000 + i} for i in range(2)
    ] + [
        {"level": "warn", "time": 1795428000000, "msg": "request completed",
         "req": {"method": "GET", "url": "/metrics", "remoteAddress": "172.18.0.9"}, "res": {"statusCode": 401},
         "responseTime": 1},
    ])
    fields = {"time": "time", "message": "msg", "latency": "responseTime", "status": "res.statusCode",
              "client_ip": "req.remoteAddress", "path": "req.url"}
    result, _ = scan(paths=[log], last="12h", fields=fields, auth_statuses=[401], slow_ms=2000)
    assert result["errors"]["by_type"] == [{"key": "error", "count": 2}]
    assert result["slow"]["slowest_ms"] == 3001 and result["slow"]["by_path"][0]["key"] == "/api/v1/loyalty/earn"
    assert result["slow"]["samples"][0]["record"]["responseTime"] == 3001
    assert result["auth_failures"]["by_client_ip"] == [{"key": "172.18.0.9", "count": 1}]
    assert result["auth_failures"]["by_event"] == [{"key": "status 401", "count": 1}]


def test_canary_secret_never_returned(tmp_path):
    canary = "CANARY-%s" % os.urandom(12).hex()
    other = "Bearer sk_live_%s" % ("Z9" * 20)
    log = write(tmp_path / "app.log", [
        {"timestamp": "2026-11-23T10:00:00.000Z", "level": "ERROR", "message": "upstream said %s" % canary,
         "error_type": "Leak%s" % canary, "client_ip": canary, "path": "/x/%s" % canary, "duration_ms": 5000,
         "event": "SECURITY", "headers": {"Authorization": other, "X-API-Key": "plain-key-value"},
         "password": "hunter2", "note": "x" * 190 + canary},
        {"timestamp": "2026-11-23T10:00:00.000Z", "level": "ERROR", "message": "m" * 150 + canary + "tail"},
    ])
    result, _ = scan(paths=[log], last="12h", secrets=[canary], top=10, samples=5)
    text = json.dumps(result)
    assert canary not in text and canary[-16:] not in text and canary[:16] not in text
    assert "sk_live_" not in text and "hunter2" not in text and "plain-key-value" not in text
    assert result["errors"]["total"] == 2 and result["auth_failures"]["by_client_ip"] == [
        {"key": "********", "count": 1}]
    record = result["errors"]["samples"][-1]["record"]
    assert record["headers"] == {"Authorization": "********", "X-API-Key": "********"}
    # a canary in a path given is scrubbed from a refusal too
    msg = refused(paths=[str(tmp_path / canary / "app.log")], secrets=[canary])
    assert canary not in msg and "does not exist" in msg


def test_missing_file_fails_naming_it_unless_missing_ok(tmp_path):
    present = write(tmp_path / "app.log", [{"level": "error"}])
    gone = str(tmp_path / "security.log")
    msg = refused(paths=[present, gone])
    assert msg == ("log file %s does not exist; check paths (the profile's logs.path / logs.security_path) or set "
                   "missing_ok" % gone)
    result, warnings = scan(paths=[gone, present], missing_ok=True)
    assert result["files"][0] == {"path": gone, "lines": 0, "in_window": 0, "out_of_window": 0, "undated": 0,
                                  "skipped_bad_json": 0, "skipped_too_long": 0, "missing": True}
    assert result["errors"]["total"] == 1 and warnings == ["log file %s does not exist; skipped (missing_ok)" % gone]
    assert "%s: not there (missing_ok), not scanned" % gone in result["problems"]


def test_link_and_fifo_refused_before_any_scan(tmp_path):
    target = write(tmp_path / "real.log", [{"level": "error"}])
    link = tmp_path / "app.log"
    os.symlink(target, str(link))
    assert refused(paths=[target, str(link)]) == ("log file %s: a link, not a regular file (links are never followed)"
                                                  % link)
    fifo = tmp_path / "pipe.log"
    os.mkfifo(str(fifo))
    assert refused(paths=[str(fifo)], missing_ok=True) == "log file %s: not a regular file (a FIFO)" % fifo


@pytest.mark.parametrize("params, words", [
    ({"paths": []}, "paths must list one or more log files"),
    ({"paths": ["/x"], "format": "text"}, "format text is not supported yet: app_log_scan reads JSON-lines logs only "
                                         "(issue 16"),
    ({"paths": ["/x"], "format": "xml"}, "format must be json"),
    ({"paths": ["/x"], "checks": ["errors", "exfil"]}, "checks: unknown exfil; choose from errors, slow"),
    ({"paths": ["/x"], "fields": {"hostname": "h"}}, "fields: unknown key hostname"),
    ({"paths": ["/x"], "last": "yesterday"}, "last: 'yesterday' is not a duration"),
    ({"paths": ["/x"], "top": 0}, "top must be a number from 1 to 1000, got 0"),
    ({"paths": ["/x"], "samples": 51}, "samples must be a number from 0 to 50"),
    ({"paths": ["/x"], "slow_ms": -1}, "slow_ms must be a number 0 or more"),
    ({"paths": ["/x"], "max_line_bytes": 10}, "max_line_bytes must be a number from 64 to 67108864"),
    ({"paths": ["/x"], "auth_statuses": [4010]}, "auth_statuses: 4010 is not an HTTP status"),
    ({"paths": ["/x"], "error_levels": []}, "error_levels is empty"),
])
def test_bad_options(params, words):
    assert words in refused(**params)


def test_undated_lines_said_and_warned(tmp_path):
    log = write(tmp_path / "app.log", [{"when": "2026-11-23T10:00:00Z", "level": "error"}] * 3)
    result, warnings = scan(paths=[log], last="12h")
    assert result["errors"]["total"] == 0 and result["files"][0]["undated"] == 3
    assert result["problems"] == ["%s: 3 lines without a time that can be read not counted (set fields.time, or "
                                  "include_undated)" % log]
    assert warnings == ["no line of %s has a time that can be read; set fields.time to the key that holds it" % log]
    fixed, warnings = scan(paths=[log], last="12h", fields={"time": "when"})
    assert fixed["errors"]["total"] == 3 and warnings == []
    whole, _ = scan(paths=[log])
    assert whole["errors"]["total"] == 3 and whole["window"] == {"from": None, "to": None}
    assert whole["problems"][0] == "3 errors in the whole log (error 3)"


def test_check_mode_is_the_same(tmp_path):
    log = write(tmp_path / "app.log", [{"timestamp": "2026-11-23T10:00:00Z", "level": "error"}])
    assert run({"paths": [log], "last": "1h"}, True, now=NOW) == run({"paths": [log], "last": "1h"}, False, now=NOW)


def test_a_huge_line_is_never_held_whole(tmp_path):
    """A 96 MiB line (no newline until its end) between good lines: skipped, counted, and the scan's peak RSS stays far
    below its size (a subprocess, so that this test's own memory does not count)."""
    log = tmp_path / "app.log"
    good = json.dumps({"timestamp": "2026-11-23T10:00:00Z", "level": "error", "error_type": "Boom"}).encode() + b"\n"
    with open(str(log), "wb") as handle:
        handle.write(good)
        handle.write(b'{"message": "')
        block = b"a" * (1 << 20)
        for _ in range(96):
            handle.write(block)
        handle.write(b'"}\n')
        handle.write(good)
    # VmHWM, not ru_maxrss: the latter keeps the parent's (pytest's) peak across exec
    script = textwrap.dedent("""
        import datetime, json, sys
        sys.path.insert(0, %r)
        from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.app_log_scan_run import run

        def peak_kib():
            with open("/proc/self/status") as status:
                return int([line for line in status if line.startswith("VmHWM:")][0].split()[1])

        base = peak_kib()
        result = run({"paths": [%r]}, now=datetime.datetime(2026, 11, 23, 12, tzinfo=datetime.timezone.utc))
        print(json.dumps({"files": result["files"], "errors": result["errors"]["total"], "grew_kib": peak_kib() - base}))
    """) % (COLLECTIONS, str(log))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["errors"] == 2
    assert found["files"][0]["skipped_too_long"] == 1 and found["files"][0]["lines"] == 3
    # 8 MiB reads (two alive at a time) + at most 1 MiB carried, never the 96 MiB line
    assert 0 < found["grew_kib"] < 40 * 1024, found
    print("peak RSS growth %d KiB" % found["grew_kib"])
