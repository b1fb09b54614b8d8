"""_audit/window.py: since/until/last -> UTC bounds in the audit's text form."""

import datetime

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.window import (
    AuditWindowError,
    parse_duration,
    resolve_window,
    ts_key,
)

NOW = datetime.datetime(2026, 11, 23, 10, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("30m", 1800), ("1h", 3600), ("2d", 172800), ("1w", 604800)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["1", "h", "-1h", "0m", "1y", "1.5h", "1h30m"])
def test_bad_duration_names_option_and_forms(bad):
    with pytest.raises(AuditWindowError) as err:
        resolve_window(last=bad, now=NOW)
    assert "last" in err.value.msg and "30m" in err.value.msg


def test_last_counts_back_from_now_with_baseline():
    window = resolve_window(last="1h", baseline="1d", now=NOW)
    assert (window.since, window.until) == ("2026-11-23T09:00:00.000Z", "2026-11-23T10:00:00.000Z")
    assert window.baseline_dict() == {"since": "2026-11-22T09:00:00.000Z", "until": "2026-11-23T09:00:00.000Z"}
    assert window.seconds == 3600 and window.baseline_seconds == 86400


def test_since_with_offset_until_and_last_from_until():
    window = resolve_window(since="2026-11-23T13:00:00+03:00", until="2026-11-23T10:30:00Z", now=NOW)
    assert (window.since, window.until) == ("2026-11-23T10:00:00.000Z", "2026-11-23T10:30:00.000Z")
    window = resolve_window(last="30m", until="2026-11-23", now=NOW)
    assert window.since == "2026-11-22T23:30:00.000Z"


def test_open_window_has_no_baseline():
    window = resolve_window(now=NOW)
    assert window.as_dict() == {"since": None, "until": None} and window.baseline_dict() is None


@pytest.mark.parametrize("kwargs,words", [
    (dict(since="yesterday"), "since"),
    (dict(since="2026-13-01T00:00:00Z"), "since"),
    (dict(until="10:00"), "until"),
    (dict(since="2026-11-23T10:00:00Z", last="1h"), "exclude"),
    (dict(since="2026-11-23T10:00:00Z", until="2026-11-23T09:00:00Z"), "empty"),
    (dict(last="1h", baseline="week"), "baseline"),
])
def test_bad_input_is_a_clear_error(kwargs, words):
    with pytest.raises(AuditWindowError) as err:
        resolve_window(now=NOW, **kwargs)
    assert words in err.value.msg


def test_ts_key_fast_path_and_other_forms_compare_as_text():
    assert ts_key(b"2026-11-23T10:00:00.123Z") == "2026-11-23T10:00:00.123Z"
    assert ts_key("2026-11-23T10:00:00Z") == "2026-11-23T10:00:00.000Z"
    assert ts_key("2026-11-23T13:00:00.5+03:00") == "2026-11-23T10:00:00.500Z"
    assert ts_key("not a time") is None and ts_key(17) is None
