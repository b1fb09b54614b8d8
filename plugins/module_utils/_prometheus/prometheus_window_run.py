# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""prometheus_window's work: named PromQL queries over one window (query_range), each series summed up (points, min,
max and when, avg, last; by period and its trend when asked), and lines a human reads.

run(params, check_mode, transport=, now=, warn=) returns {changed: false, window, by_query, no_data, lines} or raises
TaskError. Read-only. No data is a finding in the result; an unreachable Prometheus or a bad query is an error."""

from __future__ import annotations

import re
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus.finding_lines import (
    query_lines, window_line)
from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus.query_api import (
    QueryError, check_base_url, query_range)
from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus.series_stats import series_stats
from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus.range_window import (
    build_window, parse_duration, step_text)

# The seed's "Performance Analysis" queries, in the reference cctelegram-mcp's metric names: its CPU is the rate of
# process_cpu_seconds_total (cores used over the 5 minutes), since its process_cpu_usage is an average since start.
SEED_QUERIES = (
    dict(name="error_rate", query='rate(http_requests_total{status=~"5.."}[5m])', unit="req/s"),
    dict(name="p95_latency",
         query="histogram_quantile(0.95, sum by (le, instance) (rate(http_request_duration_seconds_bucket[5m])))",
         unit="s"),
    dict(name="cpu", query="rate(process_cpu_seconds_total[5m])", unit="cores"),
)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_QUERIES = 20
MAX_PERIODS = 400


def checked_queries(given):
    """[{name, query, unit}] from the option (the seed's when not given); TaskError naming a bad one."""
    queries = [dict(q) for q in (given or SEED_QUERIES)]
    if len(queries) > MAX_QUERIES:
        raise TaskError("at most %d queries a window, got %d" % (MAX_QUERIES, len(queries)))
    names = set()
    for query in queries:
        name = query.get("name")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise TaskError("a query's name must be a letter or _ then letters, digits or _ (64 at most), got %r"
                            % (name,))
        if name in names:
            raise TaskError("query %s is given twice" % name)
        names.add(name)
        if not isinstance(query.get("query"), str) or not query["query"].strip():
            raise TaskError("query %s: its PromQL is empty" % name)
        query["unit"] = query.get("unit") or ""
    return queries


def sort_key(series):
    peak = series["max"]
    return (peak is None, -(peak or 0.0), str(sorted(series["labels"].items())))


def query_result(query, answer, window, period, max_series):
    """{name, query, unit, no_data, series_count, series: [{labels, points, min, max, ...}]}: the highest max first,
    at most max_series of them."""
    series = []
    for item in answer:
        stats = series_stats(item.get("values") or [], window, period)
        stats["labels"] = dict(item.get("metric") or {})
        series.append(stats)
    series.sort(key=sort_key)
    return dict(name=query["name"], query=query["query"], unit=query["unit"], no_data=not series,
                series_count=len(series), series=series[:max_series])


def run(params, check_mode=False, *, transport=None, now=None, warn=None):
    """Read-only, check mode alike. transport.exchange(method, url, data, headers) -> Answer (http_transport's);
    now() -> epoch seconds, for `now` and relative times."""
    try:
        base_url = check_base_url(params["url"])
        window = build_window(params["start"], params["end"], params["step"], params["max_points"],
                              (now or time.time)())
        period = parse_duration(params["period"], "period") if params.get("period") else None
    except ValueError as exc:
        raise TaskError(str(exc))
    if period is not None:
        if period < window.step:
            raise TaskError("period (%s) must be at least the step (%s)" % (step_text(period), step_text(window.step)))
        if (window.end - window.start) / period > MAX_PERIODS:
            raise TaskError("the window holds more than %d periods of %s: give a longer period"
                            % (MAX_PERIODS, step_text(period)))
    if params["max_series"] < 1:
        raise TaskError("max_series must be 1 or more")
    queries = checked_queries(params.get("queries"))
    transport = transport or UrllibTransport(params["validate_certs"], params["timeout"], follow_redirects=False)

    results, lines = {}, [window_line(window.as_dict())]
    for query in queries:
        try:
            answer, warnings = query_range(transport, base_url, query["query"], window, params.get("bearer_token"))
        except QueryError as exc:
            raise TaskError("query %s (%s): %s" % (query["name"], query["query"], exc),
                            dict(window=window.as_dict(), by_query=results, lines=lines))
        for text in warnings:
            if warn:
                warn("query %s: Prometheus warns: %s" % (query["name"], text))
        results[query["name"]] = query_result(query, answer, window, period, params["max_series"])
        lines += query_lines(results[query["name"]])
    no_data = [name for name, result in results.items() if result["no_data"]]
    return dict(changed=False, window=window.as_dict(), by_query=results, no_data=no_data, lines=lines)
