"""The lines a human reads: labels that tell a query's series apart, numbers with their unit (bytes in MiB), the
peak and until when, the trend, and no data said as a finding."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus.finding_lines import (
    distinguishing, number, query_lines, selector_text, window_line)


def stats(**extra):
    base = dict(points=3, non_finite_points=0, min=0.0, max=5.0, avg=2.5, last=1.0, last_at="t3",
                max_at="2025-01-15T10:05:00Z", max_last_at="2025-01-15T11:00:00Z")
    base.update(extra)
    return base


def test_selector_text_sorts_and_escapes():
    assert selector_text({"status": "500", "instance": 'a"b'}) == '{instance="a\\"b",status="500"}'


def test_distinguishing_drops_the_shared_labels():
    labels = [{"job": "j", "instance": "a", "status": "500"}, {"job": "j", "instance": "b", "status": "500"}]
    assert distinguishing(labels) == [{"instance": "a"}, {"instance": "b"}]
    assert distinguishing(labels[:1]) == labels[:1]


def test_numbers():
    assert [number(v, u) for v, u in [(0.975, "s"), (1.6574585, "req/s"), (33.0, ""), (167772160.0, "bytes"),
                                      (12345.6, "req/s"), (None, "s")]] == [
        "0.975 s", "1.657 req/s", "33", "160.0 MiB", "12346 req/s", "-"]


def test_query_lines_name_each_series_its_peak_and_until_when():
    result = dict(name="error_rate", query="q", unit="req/s", no_data=False, series_count=3,
                  series=[dict(stats(), labels={"instance": "cct-2"}),
                          dict(stats(max=0.0, max_at="a", max_last_at="a", avg=0.0, last=0.0, min=0.0),
                               labels={"instance": "cct-1"})])
    assert query_lines(result) == [
        "error_rate: 3 series (q), the 2 with the highest max listed",
        '  error_rate {instance="cct-2"}: max 5 req/s at 2025-01-15T10:05:00Z (until 2025-01-15T11:00:00Z), '
        "avg 2.5 req/s, min 0 req/s, last 1 req/s (3 points)",
        '  error_rate {instance="cct-1"}: max 0 req/s at a, avg 0 req/s, min 0 req/s, last 0 req/s (3 points)']


def test_a_lone_series_without_labels_and_its_trend():
    trend = dict(first_avg=104857600.0, last_avg=167772160.0, growth_percent=60.0)
    result = dict(name="memory", query="avg(m)", unit="bytes", no_data=False, series_count=1,
                  series=[dict(stats(max=167772160.0, avg=1.0, min=1.0, last=1.0), labels={}, trend=trend)])
    assert query_lines(result)[1].startswith("  memory: max 160.0 MiB at ")
    assert query_lines(result)[1].endswith("; first period avg 100.0 MiB, last 160.0 MiB: +60.0%")


def test_no_data_and_no_finite_value_are_findings():
    assert query_lines(dict(name="cpu", query="rate(x[5m])", unit="", no_data=True, series_count=0, series=[])) == [
        "cpu: no data in the window: no series matched rate(x[5m])"]
    result = dict(name="p95", query="q", unit="s", no_data=False, series_count=1,
                  series=[dict(stats(points=0, non_finite_points=4), labels={"instance": "a"})])
    assert query_lines(result)[1] == '  p95 {instance="a"}: no finite value in the window (4 NaN or infinite points)'


def test_window_line():
    assert window_line(dict(start="s", end="e", step="1m", points=121)) == "Window s to e, step 1m (121 points a series)"
