"""A series summed up: min, max and its first and last time, avg, last; NaN and Inf counted, not averaged; periods
(a point belongs to the period ending at or after it) and the trend from the first period with points to the last."""

import math

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus.series_stats import (
    periods, series_stats, summary, trend)
from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus.range_window import Window

T0 = 1736935200  # 2025-01-15T10:00:00Z


def values(*numbers, step=60):
    return [[T0 + i * step, str(v)] for i, v in enumerate(numbers)]


def test_summary_names_the_first_and_last_time_at_the_max():
    stats = series_stats(values(0, 5, 2, 5, 1), Window(T0, T0 + 240, 60))
    assert stats == {"points": 5, "min": 0.0, "max": 5.0, "avg": 2.6, "last": 1.0, "last_at": "2025-01-15T10:04:00Z",
                     "max_at": "2025-01-15T10:01:00Z", "max_last_at": "2025-01-15T10:03:00Z", "non_finite_points": 0}


def test_nan_and_infinities_are_counted_not_averaged():
    stats = series_stats(values("NaN", 1, "+Inf", 3, "-Inf"), Window(T0, T0 + 240, 60))
    assert (stats["points"], stats["non_finite_points"], stats["avg"], stats["max"]) == (2, 3, 2.0, 3.0)


def test_a_series_without_a_finite_value_has_no_numbers():
    stats = series_stats(values("NaN", "NaN"), Window(T0, T0 + 60, 60))
    assert stats["points"] == 0 and stats["non_finite_points"] == 2
    assert stats["max"] is None and stats["avg"] is None and stats["max_at"] is None


def test_summary_of_nothing():
    assert summary([])["points"] == 0


def test_periods_take_each_point_into_the_period_ending_at_or_after_it():
    # 10:00 (before the window's first period), 10:01..10:04 in (10:00, 10:02] and (10:02, 10:04]
    window = Window(T0, T0 + 240, 60)
    points = [(T0 + i * 60, float(v)) for i, v in enumerate([100, 1, 3, 5, 7])]
    split = periods(points, window, 120)
    assert [(p["start"][11:16], p["end"][11:16], p["points"], p["avg"], p["max"]) for p in split] == [
        ("10:00", "10:02", 2, 2.0, 3.0), ("10:02", "10:04", 2, 6.0, 7.0)]


def test_the_last_period_ends_at_the_window_end():
    window = Window(T0, T0 + 300, 60)
    split = periods([(T0 + i * 60, 1.0) for i in range(6)], window, 120)
    assert [(p["end"][11:16], p["points"]) for p in split] == [("10:02", 2), ("10:04", 2), ("10:05", 1)]


def test_trend_from_the_first_period_with_points_to_the_last():
    split = [dict(points=0, avg=None), dict(points=3, avg=20.0), dict(points=3, avg=25.0), dict(points=3, avg=32.0)]
    assert trend(split) == {"first_avg": 20.0, "last_avg": 32.0, "growth_percent": pytest.approx(60.0)}
    assert trend(split[:2])["growth_percent"] is None  # one period is no trend
    assert trend([dict(points=1, avg=0.0), dict(points=1, avg=4.0)])["growth_percent"] is None
    assert trend([dict(points=1, avg=-4.0), dict(points=1, avg=-2.0)])["growth_percent"] == 50.0


def test_series_stats_with_a_period_has_periods_and_trend():
    stats = series_stats(values(9, 10, 10, 20, 20), Window(T0, T0 + 240, 60), period=120)
    assert [p["avg"] for p in stats["periods"]] == [10.0, 20.0]
    assert stats["trend"]["growth_percent"] == 100.0
    assert not math.isnan(stats["avg"])
