"""Nearest-rank percentiles: always a measured value, ordered p50 <= p90 <= p99 <= max, null without values."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._loadprobe.percentiles import (
    latency_summary, nearest_rank)


def test_nearest_rank_of_one_to_a_hundred_is_the_rank_itself():
    ordered = list(range(1, 101))
    assert [nearest_rank(ordered, p) for p in (1, 50, 90, 99, 100)] == [1, 50, 90, 99, 100]


def test_nearest_rank_rounds_the_rank_up_and_never_interpolates():
    assert nearest_rank([10, 20, 30, 40], 50) == 20      # rank ceil(2.0) = 2
    assert nearest_rank([10, 20, 30, 40], 51) == 30      # rank ceil(2.04) = 3
    assert nearest_rank([10, 20, 30], 99) == 30
    assert nearest_rank([7.5], 1) == 7.5


def test_nearest_rank_of_nothing_is_none_and_a_bad_percent_is_refused():
    assert nearest_rank([], 50) is None
    for bad in (0, -1, 100.5):
        with pytest.raises(ValueError):
            nearest_rank([1, 2], bad)


def test_latency_summary_sorts_first_and_keeps_the_order_of_the_figures():
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    summary = latency_summary(values)
    assert summary == {"count": 100, "min": 1.0, "p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0, "mean": 50.5}


def test_latency_summary_one_slow_request_in_a_hundred_is_the_max_not_the_p99():
    summary = latency_summary([5.0] * 99 + [900.0])
    assert summary["p99"] == 5.0 and summary["max"] == 900.0
    summary = latency_summary([5.0] * 98 + [900.0, 901.0])
    assert summary["p99"] == 900.0


def test_latency_summary_of_nothing_has_null_figures():
    assert latency_summary([]) == {"count": 0, "min": None, "p50": None, "p90": None, "p99": None, "max": None,
                                   "mean": None}
