# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lines a human reads of a window's results: one for the window, one a query, one a series (its labels that
tell it from the query's other series, max and when, avg, min, last), and no data said as a finding."""

from __future__ import annotations


def selector_text(labels):
    """`{instance="cct-2",status="500"}`: labels as PromQL writes them, sorted."""
    return "{%s}" % ",".join('%s="%s"' % (k, str(v).replace("\\", "\\\\").replace('"', '\\"'))
                             for k, v in sorted(labels.items()))


def distinguishing(series_labels):
    """Each series' labels without those every series of the query shares (all of them for a lone series)."""
    if len(series_labels) < 2:
        return [dict(labels) for labels in series_labels]
    shared = set(series_labels[0].items())
    for labels in series_labels[1:]:
        shared &= set(labels.items())
    return [{k: v for k, v in labels.items() if (k, v) not in shared} for labels in series_labels]


def number(value, unit=""):
    """A value as a human reads it: 4 significant digits, bytes in MiB, a unit after it."""
    if value is None:
        return "-"
    if unit == "bytes":
        return "%.1f MiB" % (value / 1048576.0)
    text = ("%.0f" % value) if abs(value) >= 1000 else ("%.4g" % value)
    return text + (" " + unit if unit else "")


def series_line(name, labels, stats, unit):
    """One series' line; `labels` those that tell it apart (none: the query's one series, an avg() or sum())."""
    name = "%s %s" % (name, selector_text(labels)) if labels else name
    if not stats["points"]:
        return "%s: no finite value in the window (%d NaN or infinite points)" % (name, stats["non_finite_points"])
    peak = "max %s at %s" % (number(stats["max"], unit), stats["max_at"])
    if stats["max_last_at"] != stats["max_at"]:
        peak += " (until %s)" % stats["max_last_at"]
    line = "%s: %s, avg %s, min %s, last %s (%d points)" % (
        name, peak, number(stats["avg"], unit), number(stats["min"], unit), number(stats["last"], unit),
        stats["points"])
    growth = (stats.get("trend") or {}).get("growth_percent")
    if growth is not None:
        line += "; first period avg %s, last %s: %+.1f%%" % (
            number(stats["trend"]["first_avg"], unit), number(stats["trend"]["last_avg"], unit), growth)
    return line


def query_lines(result):
    """The lines of one query's result (see prometheus_window_run.query_result)."""
    name = result["name"]
    if result["no_data"]:
        return ["%s: no data in the window: no series matched %s" % (name, result["query"])]
    head = "%s: %d series (%s)" % (name, result["series_count"], result["query"])
    if result["series_count"] > len(result["series"]):
        head += ", the %d with the highest max listed" % len(result["series"])
    labels = distinguishing([s["labels"] for s in result["series"]])
    return [head] + ["  " + series_line(name, l, s, result["unit"])
                     for l, s in zip(labels, result["series"])]


def window_line(window):
    return "Window %s to %s, step %s (%d points a series)" % (window["start"], window["end"], window["step"],
                                                              window["points"])
