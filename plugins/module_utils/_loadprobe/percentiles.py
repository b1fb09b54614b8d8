# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Latency percentiles by the nearest-rank rule (the value at rank ceil(p/100 * n) of the sorted sample), as ab's
"Percentage of the requests served within a certain time" reads: always a latency that was measured, never a blend."""

from __future__ import annotations

import math

PERCENTILES = (50, 90, 99)


def nearest_rank(ordered, percent):
    """The percent-th percentile of an ascending list (nearest rank); None for an empty one."""
    if not ordered:
        return None
    if not 0 < percent <= 100:
        raise ValueError("percent must be in (0, 100], got %r" % (percent,))
    rank = max(1, math.ceil(percent / 100.0 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(values_ms):
    """{count, min, p50, p90, p99, max, mean} in milliseconds (rounded to 0.01 ms); the figures null with no value."""
    ordered = sorted(values_ms)
    summary = {"count": len(ordered)}
    if not ordered:
        summary.update({"min": None, "max": None, "mean": None})
        summary.update({"p%d" % p: None for p in PERCENTILES})
        return summary
    summary["min"] = round(ordered[0], 2)
    for percent in PERCENTILES:
        summary["p%d" % percent] = round(nearest_rank(ordered, percent), 2)
    summary["max"] = round(ordered[-1], 2)
    summary["mean"] = round(sum(ordered) / len(ordered), 2)
    return summary
