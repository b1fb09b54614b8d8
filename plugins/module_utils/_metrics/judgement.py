# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One threshold judged on two snapshots of a /metrics page taken a window apart: the value (a counter's increase per
minute, its increase over the window, or a gauge's latest value), the threshold, and whether it is within it."""

from __future__ import annotations

KINDS = ("rate_per_min", "delta", "value")


def increase(before, after):
    """A counter's increase from before to after ({series: value}); a series that went down was reset (the process
    restarted), so its whole new value is the increase, as Prometheus' increase() takes it."""
    total = 0.0
    for series, value in after.items():
        old = before.get(series, 0.0)
        total += value - old if value >= old else value
    return total


def measure(kind, before, after, elapsed_seconds):
    if kind == "value":
        return sum(after.values())
    grown = increase(before, after)
    if kind == "delta":
        return grown
    return grown * 60.0 / elapsed_seconds if elapsed_seconds > 0 else 0.0


def judge(check, first, second, elapsed_seconds):
    """{name, selector, kind, value, threshold, ok, series, found} for check {name, selector (a Selector), kind, max};
    ok is value <= max. found is false when neither page declares the metric (a typo, or a service that does not
    export it): its value is 0, and the caller says so."""
    selector = check["selector"]
    before, after = first.select(selector), second.select(selector)
    value = measure(check["kind"], before, after, elapsed_seconds)
    return {
        "name": check["name"],
        "selector": str(selector),
        "kind": check["kind"],
        "value": round(value, 3),
        "threshold": check["max"],
        "ok": value <= check["max"],
        "series": len(set(before) | set(after)),
        "found": first.declares(selector.name) or second.declares(selector.name),
    }
