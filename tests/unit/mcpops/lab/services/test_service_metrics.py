"""Prometheus text from the reference services: the exposition format, request counters, the latency histogram,
slow requests and the process gauges."""

import pytest

from mcpops.lab.services.http_app import (RequestMetrics, escape_label, format_labels, process_families,
                                          process_start_time, render_metrics)

prometheus_parser = pytest.importorskip("prometheus_client.parser")


def test_escape_and_labels():
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert format_labels({}) == ""
    assert format_labels({"method": "GET", "status": 200}) == '{method="GET",status="200"}'


def test_render_metrics_text():
    text = render_metrics([
        ("up", "gauge", "Is it up.", [("", {}, 1)]),
        ("errors_total", "counter", "Errors.", [("", {"kind": 'x"y'}, 2), ("", {"kind": "z"}, 0.5)]),
        ("empty", "gauge", "No sample.", []),
        ("odd", "gauge", "Special values.", [("", {"v": "nan"}, float("nan")), ("", {"v": "inf"}, float("inf"))]),
    ])
    assert text.endswith("\n")
    lines = text.splitlines()
    assert lines[:3] == ["# HELP up Is it up.", "# TYPE up gauge", "up 1"]
    assert 'errors_total{kind="x\\"y"} 2' in lines and 'errors_total{kind="z"} 0.5' in lines
    assert 'odd{v="nan"} NaN' in lines and 'odd{v="inf"} +Inf' in lines
    names = [f.name for f in prometheus_parser.text_string_to_metric_families(text)]
    assert names == ["up", "errors", "empty", "odd"]


def test_request_metrics_counts_and_histogram():
    metrics = RequestMetrics(slow_threshold_ms=100, buckets=(0.01, 0.1, 1.0))
    metrics.observe("GET", "/health", 200, 0.004)
    metrics.observe("GET", "/health", 200, 0.05)
    metrics.observe("GET", "/health", 503, 0.5)
    metrics.observe("POST", "/api/v1/loyalty/earn", 200, 2.0)
    assert metrics.total() == 4 and metrics.total("5") == 1
    text = render_metrics(metrics.families())
    parsed = {f.name: f for f in prometheus_parser.text_string_to_metric_families(text)}
    requests = {(s.labels["method"], s.labels["path"], s.labels["status"]): s.value
                for s in parsed["http_requests"].samples}
    assert requests == {("GET", "/health", "200"): 2, ("GET", "/health", "503"): 1,
                        ("POST", "/api/v1/loyalty/earn", "200"): 1}
    buckets = {s.labels["le"]: s.value for s in parsed["http_request_duration_seconds"].samples
               if s.name.endswith("_bucket") and s.labels["path"] == "/health"}
    assert buckets == {"0.01": 1, "0.1": 2, "1.0": 3, "+Inf": 3}
    count = [s.value for s in parsed["http_request_duration_seconds"].samples
             if s.name.endswith("_count") and s.labels["path"] == "/health"]
    assert count == [3]
    slow = {s.labels["path"]: s.value for s in parsed["http_slow_requests"].samples}
    assert slow == {"/health": 1, "/api/v1/loyalty/earn": 1}


def test_no_slow_family_without_a_threshold():
    assert "http_slow_requests_total" not in render_metrics(RequestMetrics().families())


def test_process_families():
    started = process_start_time()
    text = render_metrics(process_families(started))
    values = {s.name: s.value for f in prometheus_parser.text_string_to_metric_families(text) for s in f.samples}
    assert set(values) == {"process_cpu_usage", "process_cpu_seconds_total", "process_memory_bytes",
                           "process_start_time_seconds"}
    assert values["process_memory_bytes"] > 1024 * 1024
    assert values["process_cpu_seconds_total"] > 0
    assert 0 <= values["process_cpu_usage"]
    assert abs(values["process_start_time_seconds"] - started) < 1
