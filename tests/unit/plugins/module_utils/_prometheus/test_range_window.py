"""The window of a query_range: RFC 3339 (with its zone), `now` and `-2h` read against a given now, steps as
durations, and a window that would make too many points a series refused with the step that would fit."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus.range_window import (
    build_window, parse_duration, parse_instant, rfc3339, step_text)

NOW = 1736942400.75  # 2025-01-15T12:00:00.75Z


@pytest.mark.parametrize("text, seconds", [("60s", 60), ("5m", 300), ("1h", 3600), ("7d", 604800), ("1w", 604800),
                                           ("90", 90)])
def test_durations(text, seconds):
    assert parse_duration(text, "step") == seconds


@pytest.mark.parametrize("text", ["0s", "0", "1.5m", "5 m", "-5m", "5mm", "", "1y", "5m\n"])
def test_bad_durations_are_named(text):
    with pytest.raises(ValueError, match="^step must be a duration like 60s"):
        parse_duration(text, "step")


@pytest.mark.parametrize("text, epoch", [
    ("2025-01-15T10:00:00Z", 1736935200.0),
    ("2025-01-15t10:00:00z", 1736935200.0),
    ("2025-01-15T12:00:00+02:00", 1736935200.0),
    ("2025-01-15T10:00:00.5Z", 1736935200.5),
    ("2025-01-15T10:00:00.123456789Z", 1736935200.123456),
    ("now", 1736942400.0),
    ("-2h", 1736935200.0),
    ("-7d", 1736942400.0 - 7 * 86400),
])
def test_instants(text, epoch):
    assert parse_instant(text, NOW, "start") == pytest.approx(epoch, abs=1e-6)


@pytest.mark.parametrize("text", ["2025-01-15T10:00:00", "2025-01-15", "yesterday", "+2h", "-2", "now-2h",
                                  "2025-01-15T10:00:00Z\n"])
def test_a_time_without_its_zone_or_unknown_is_refused(text):
    with pytest.raises(ValueError, match="^end must be an RFC 3339 time with its zone"):
        parse_instant(text, NOW, "end")


def test_rfc3339_keeps_fractions_only_when_there_are_some():
    assert rfc3339(1736935200) == "2025-01-15T10:00:00Z"
    assert rfc3339(1736935200.25) == "2025-01-15T10:00:00.25Z"


def test_step_text_is_the_largest_whole_unit():
    assert [step_text(s) for s in (45, 60, 300, 5400, 86400, 604800)] == ["45s", "1m", "5m", "90m", "1d", "1w"]


def test_a_window_counts_its_points_start_and_end_included():
    window = build_window("2025-01-15T10:00:00Z", "2025-01-15T12:00:00Z", "60s", 11000, NOW)
    assert window.as_dict() == {"start": "2025-01-15T10:00:00Z", "end": "2025-01-15T12:00:00Z", "step": "1m",
                                "step_seconds": 60, "points": 121}
    assert build_window("-2h", "now", "1h", 3, NOW).points == 3


def test_a_window_over_max_points_is_refused_with_the_step_that_fits():
    with pytest.raises(ValueError) as err:
        build_window("-7d", "now", "1s", 11000, NOW)
    assert "would be 604801 points a series, over max_points 11000: give a step of 55s or more" in str(err.value)
    assert build_window("-7d", "now", "55s", 11000, NOW).points <= 11000


def test_a_window_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError, match=r"^the window ends \(2025-01-15T10:00:00Z\) before it starts"):
        build_window("now", "2025-01-15T10:00:00Z", "60s", 11000, NOW)
