# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a series did over the window: points, min, max (and when: its first and last time at the max), avg, last;
split into periods (a capacity report's days) and the trend from the first period to the last.

A value that is not a finite number (histogram_quantile's NaN over no requests, +Inf) is counted, not averaged."""

from __future__ import annotations

import math

from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus.range_window import rfc3339


def finite_points(values):
    """([(t, v)] of the finite values, count of the others) from Prometheus' [[t, "v"], ...]."""
    points, skipped = [], 0
    for stamp, text in values:
        value = float(text)
        if math.isfinite(value):
            points.append((float(stamp), value))
        else:
            skipped += 1
    return points, skipped


def summary(points):
    """{points, min, max, avg, last, last_at, max_at, max_last_at} of [(t, v)]; the numbers None when empty."""
    if not points:
        return dict(points=0, min=None, max=None, avg=None, last=None, last_at=None, max_at=None, max_last_at=None)
    values = [value for stamp, value in points]
    peak = max(values)
    at_peak = [t for t, v in points if v == peak]
    return dict(points=len(points), min=min(values), max=peak, avg=math.fsum(values) / len(values),
                last=points[-1][1], last_at=rfc3339(points[-1][0]), max_at=rfc3339(at_peak[0]),
                max_last_at=rfc3339(at_peak[-1]))


def periods(points, window, length):
    """The window split into periods of `length` seconds, (start, start+length], (start+length, ...], the last one
    ending at the window's end: each {start, end, points, min, max, avg}. A point at t sums up what came before t (a
    rate over [5m] at t is the 5 minutes before it), so it belongs to the period that ends at or after t; the point
    at the window's start belongs to the time before the window and to no period."""
    count = int(math.ceil((window.end - window.start) / length))
    buckets = [[] for index in range(count)]
    for stamp, value in points:
        if stamp > window.start:
            buckets[min(int(math.ceil((stamp - window.start) / length)) - 1, count - 1)].append(value)
    out = []
    for index, values in enumerate(buckets):
        start = window.start + index * length
        out.append(dict(start=rfc3339(start), end=rfc3339(min(start + length, window.end)), points=len(values),
                        min=min(values) if values else None, max=max(values) if values else None,
                        avg=math.fsum(values) / len(values) if values else None))
    return out


def trend(split):
    """{first_avg, last_avg, growth_percent} from the first and last periods that have points; growth None when
    the first average is 0 or there are fewer than two such periods."""
    filled = [p for p in split if p["points"]]
    if len(filled) < 2:
        return dict(first_avg=None, last_avg=None, growth_percent=None)
    first, last = filled[0]["avg"], filled[-1]["avg"]
    growth = (last - first) / abs(first) * 100 if first else None
    return dict(first_avg=first, last_avg=last, growth_percent=growth)


def series_stats(values, window, period=None):
    """The summary of one series' values; with `period` (seconds), its periods and trend too."""
    points, skipped = finite_points(values)
    stats = summary(points)
    stats["non_finite_points"] = skipped
    if period:
        stats["periods"] = periods(points, window, period)
        stats["trend"] = trend(stats["periods"])
    return stats
