"""_applog/log_findings.py: what counts as an error, slow, an auth failure, a rate-limit hit; caps; skipped lines."""

import datetime
import json

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_fields import check_fields
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_findings import AppLogFindings, Matcher, number
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_time import last_window

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
AUTH = ("auth_failure", "invalid_token", "unauthorized", "SECURITY")
RATE = ("rate_limit_exceeded", "RATE_LIMIT_EXCEEDED")


def findings(fields=None, last="12h", **kwargs):
    kwargs.setdefault("auth_events", AUTH)
    kwargs.setdefault("rate_limit_events", RATE)
    return AppLogFindings(check_fields(fields), last_window(last, now=NOW), **kwargs)


def feed(found, lines, path="/var/log/app.log"):
    raw = [line if isinstance(line, bytes) or line is None else json.dumps(line).encode() for line in lines]
    return found.feed(path, iter([(1, raw)]))


def at(minute, **fields):
    return dict({"timestamp": "2026-11-23T10:%02d:00.000Z" % minute}, **fields)


def test_errors_by_type_then_level_with_pino_numbers():
    found = findings()
    feed(found, [
        at(1, level="ERROR", error_type="OperationalError", message="POST /api/oauth/start 503"),
        at(2, level="error", error_type="OperationalError"),
        at(3, level="CRITICAL"),
        {"time": 1795428000000, "level": 50, "msg": "request errored"},
        {"time": 1795428000000, "level": 60, "msg": "db gone"},
        {"time": 1795428000000, "level": 40, "msg": "slowish"},
        at(4, level="WARNING", error_type="RedisUnavailable"),
        at(5, level="INFO"),
    ])
    result = found.result(5)
    assert result["errors"]["total"] == 5
    assert result["errors"]["by_type"] == [{"key": "OperationalError", "count": 2}, {"key": "critical", "count": 1},
                                           {"key": "error", "count": 1}, {"key": "fatal", "count": 1}]
    assert [s["line"] for s in result["errors"]["samples"]] == [5, 4, 3]  # the latest first


def test_error_levels_given_as_numbers_or_in_any_case():
    found = findings(error_levels=["WARN", "50"])
    feed(found, [at(1, level="warn"), at(2, level=50), at(3, level="error"), at(4, level=60)])
    assert found.result(5)["errors"]["total"] == 3


def test_slow_by_path_and_message_slowest_samples():
    found = findings(slow_ms=1000, samples=2)
    feed(found, [
        at(1, duration_ms=999.9, path="/a", message="GET /a 200"),
        at(2, duration_ms=1000, path="/a", message="GET /a 200"),
        at(3, duration_ms="2500.5", path="/b", message="GET /b 200"),
        at(4, duration_ms=1800, message="no path"),
        at(5, duration_ms="slow", path="/c"),
        at(6, duration_ms=True, path="/c"),
    ])
    slow = found.result(5)["slow"]
    assert slow["total"] == 3 and slow["slowest_ms"] == 2500.5 and slow["threshold_ms"] == 1000
    assert slow["average_ms"] == round((1000 + 2500.5 + 1800) / 3, 3)
    assert slow["by_path"] == [{"key": "/a", "count": 1}, {"key": "/b", "count": 1}, {"key": None, "count": 1}]
    assert [s["line"] for s in slow["samples"]] == [3, 4]


def test_auth_and_rate_limit_by_event_error_type_message_or_status():
    found = findings(fields={"client_ip": "context.client_ip"}, auth_statuses=[401], rate_limit_statuses=[])
    feed(found, [
        at(1, event="SECURITY", context={"client_ip": "10.0.0.7"}, message="SECURITY: invalid API key on GET /health"),
        at(2, event="security", context={"client_ip": "10.0.0.7"}),
        at(3, error_type="invalid_token", context={"client_ip": "10.0.0.8"}),
        at(4, message="unauthorized"),
        at(5, status=401, context={"client_ip": "10.0.0.9"}),
        at(6, status="401", event="http_request"),
        at(7, event="RATE_LIMIT_EXCEEDED", context={"client_ip": "203.0.113.9"}),
        at(8, message="rate_limit_exceeded", status=429, context={"client_ip": "203.0.113.9"}),
        at(9, message="rate_limit_exceeded is not the whole message", status=429),
        at(10, event="http_request", status=429),
    ])
    result = found.result(5)
    auth = result["auth_failures"]
    assert auth["total"] == 6
    assert auth["by_client_ip"][:2] == [{"key": "10.0.0.7", "count": 2}, {"key": None, "count": 2}]
    assert {item["key"] for item in auth["by_event"]} == {"SECURITY", "security", "invalid_token", "unauthorized",
                                                          "status 401"}
    rate = result["rate_limited"]
    assert rate["total"] == 2 and rate["by_client_ip"] == [{"key": "203.0.113.9", "count": 2}]


def test_window_undated_and_skipped_lines():
    found = findings(max_line=200)
    counts = feed(found, [
        at(1, level="error"),
        {"timestamp": "2026-11-22T10:00:00Z", "level": "error"},     # before the window
        {"timestamp": "2026-11-24T10:00:00Z", "level": "error"},     # after it
        {"level": "error", "message": "no time"},                     # undated
        {"timestamp": "yesterday", "level": "error"},                 # undated
        b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe{}",                    # not JSON objects
        b"", b"   ",                                                                # not lines
        None, b"[" * 5000 + b"]" * 5000, json.dumps(at(2, level="error", message="x" * 300)).encode(),  # too long
    ])
    assert counts.as_dict() == {"path": "/var/log/app.log", "lines": 12, "in_window": 1, "out_of_window": 2,
                                "undated": 2, "skipped_bad_json": 4, "skipped_too_long": 3}
    assert found.result(5)["errors"]["total"] == 1


def test_deeply_nested_line_is_bad_json_not_a_crash():
    found = findings(max_line=10 ** 7)
    counts = feed(found, [b"[" * 100000 + b"]" * 100000, b'{"a":' * 50000 + b"1" + b"}" * 50000])
    assert counts.skipped_bad_json == 2


def test_undated_included_on_request_and_without_a_window():
    lines = [{"level": "error"}, at(1, level="error")]
    with_flag = findings(include_undated=True)
    assert feed(with_flag, lines).in_window == 2 and with_flag.result(5)["errors"]["total"] == 2
    no_window = findings(last=None)
    counts = feed(no_window, lines + [{"timestamp": "1999-01-01T00:00:00Z", "level": "error"}])
    assert (counts.in_window, counts.undated) == (3, 1) and no_window.result(5)["errors"]["total"] == 3


def test_counters_are_capped():
    found = findings(max_keys=50)
    feed(found, [at(1, event="SECURITY", client_ip="10.0.%d.%d" % (i // 256, i % 256)) for i in range(200)])
    auth = found.result(3)["auth_failures"]
    assert auth["total"] == 200 and found.truncated
    assert auth["by_client_ip"][0] == {"key": "(other)", "count": 150}
    assert len(found.auth_failures["by_client_ip"].counts) == 51


def test_default_cap_is_ten_thousand():
    found = findings()
    feed(found, [at(1, event="SECURITY", client_ip="ip-%d" % i) for i in range(10050)])
    assert len(found.auth_failures["by_client_ip"].counts) == 10001 and found.result(1)["truncated"] is True


def test_samples_bounded_and_checks_not_run_are_null():
    found = findings(samples=2, checks=["errors"])
    feed(found, [at(1, level="error", event="SECURITY", duration_ms=5000)] * 1000)
    result = found.result(5)
    assert len(result["errors"]["samples"]) == 2 and len(found.errors["samples"]) == 2
    assert result["slow"] is None and result["auth_failures"] is None and result["rate_limited"] is None


def test_long_keys_are_cut():
    found = findings()
    feed(found, [at(1, level="error", error_type="E" * 5000)])
    key = found.result(1)["errors"]["by_type"][0]["key"]
    assert key == "E" * 200 + "..."


def test_matcher_and_number():
    match = Matcher(["Unauthorized"], [401])
    assert match(("UNAUTHORIZED", None, None), None) == "UNAUTHORIZED"
    assert match(("x" * 100, None, None), 401) == "status 401"
    assert match((None, 5, None), 403) is None
    assert number("12.5") == 12.5 and number(7) == 7 and number(True) is None and number("x") is None
    assert number(float("nan")) is None and number("inf") is None and number(10 ** 30) == 10 ** 30
