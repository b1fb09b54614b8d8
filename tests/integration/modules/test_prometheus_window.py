"""prometheus_window through `ansible localhost -m` against a real Prometheus (Debian's, private) over a TSDB backfilled
with a known week of CCTelegram metrics (cctelegram_week): the seed's queries over the incident window give the
incident's numbers exactly (in check mode too: read-only), a week by day gives its growth, a query that matches
nothing is a finding, and a bad query, an unreachable Prometheus and a window too fine for max_points are clear
errors. The bearer token (a canary) is never in the output."""

import shutil

import pytest

import cctelegram_week as week
from adhoc import API_CANARY, run_module
from loopback import free_port

pytestmark = pytest.mark.skipif(not (shutil.which("prometheus") and shutil.which("promtool")),
                                reason="prometheus and promtool not found: install the Debian package prometheus")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    with week.backfilled_prometheus(tmp_path_factory.mktemp("prometheus-window")) as server:
        yield server


def incident_args(prometheus, **extra):
    args = dict(url=prometheus.url, bearer_token=API_CANARY, start=week.utc(week.INCIDENT_START - 3600),
                end=week.utc(week.INCIDENT_END + 3600), step="60s")
    args.update(extra)
    return args


def by_instance(result, name):
    return {s["labels"]["instance"]: s for s in result["by_query"][name]["series"]}


def test_the_seed_queries_over_the_incident_window_in_check_mode(prometheus):
    result = run_module("prometheus_window", incident_args(prometheus), "--check")
    assert result.get("failed") is not True, result
    assert result["changed"] is False and result["no_data"] == []
    assert result["window"] == {"start": week.utc(week.INCIDENT_START - 3600), "end": week.utc(week.INCIDENT_END + 3600),
                                "step": "1m", "step_seconds": 60, "points": 181}
    assert set(result["by_query"]) == {"error_rate", "p95_latency", "cpu"}
    assert [line.split(":")[0] for line in result["lines"] if not line.startswith((" ", "Window"))] == [
        "error_rate", "p95_latency", "cpu"]  # the lines in the order of the queries
    peak = (week.utc(week.INCIDENT_START + 300), week.utc(week.INCIDENT_END))
    errors = by_instance(result, "error_rate")
    # the worst series first; the incident's: 4 ramp points a side (1..4 req/s), 56 at 5 req/s
    assert [s["labels"]["instance"] for s in result["by_query"]["error_rate"]["series"]] == ["cct-2", "cct-1"]
    assert (errors["cct-2"]["max"], errors["cct-2"]["max_at"], errors["cct-2"]["max_last_at"]) == (5.0,) + peak
    assert errors["cct-2"]["avg"] == pytest.approx(300 / 181)
    assert (errors["cct-2"]["points"], errors["cct-2"]["last"], errors["cct-1"]["max"]) == (181, 0.0, 0.0)
    p95 = by_instance(result, "p95_latency")
    assert (p95["cct-2"]["max"], p95["cct-2"]["max_at"], p95["cct-2"]["max_last_at"]) == (pytest.approx(0.975),) + peak
    assert (p95["cct-1"]["min"], p95["cct-1"]["max"]) == (pytest.approx(0.095), pytest.approx(0.095))
    cpu = by_instance(result, "cpu")
    assert (cpu["cct-2"]["max"], cpu["cct-2"]["max_at"]) == (pytest.approx(week.INCIDENT_CPU), peak[0])
    assert ('  error_rate {instance="cct-2"}: max 5 req/s at %s (until %s), avg 1.657 req/s, min 0 req/s, '
            "last 0 req/s (181 points)" % peak) in result["lines"]


def test_a_week_by_day_gives_the_growth(prometheus):
    result = run_module("prometheus_window", dict(
        url=prometheus.url, start=week.utc(week.WEEK_START), end=week.utc(week.WEEK_END), step="5m", period="1d",
        queries=[{"name": "memory", "query": "avg(process_memory_bytes)", "unit": "bytes"},
                 {"name": "nothing", "query": 'up{job="no-such-job"}'}]))
    assert result.get("failed") is not True, result
    [memory] = result["by_query"]["memory"]["series"]
    assert [day["avg"] for day in memory["periods"]] == [week.memory_bytes(d) for d in range(week.DAYS)]
    assert memory["trend"] == {"first_avg": week.memory_bytes(0), "last_avg": week.memory_bytes(6),
                               "growth_percent": pytest.approx(60.0)}
    assert result["no_data"] == ["nothing"]
    assert result["by_query"]["nothing"]["series_count"] == 0
    assert 'nothing: no data in the window: no series matched up{job="no-such-job"}' in result["lines"]


def test_a_bad_query_an_unreachable_prometheus_and_too_many_points_are_clear_errors(prometheus):
    bad = run_module("prometheus_window", incident_args(prometheus, queries=[
        {"name": "ok", "query": "process_memory_bytes"}, {"name": "broken", "query": "rate(http_requests_total[5m]"}]))
    assert bad["failed"] is True
    assert bad["msg"].startswith("query broken (rate(http_requests_total[5m]): Prometheus refused the query (HTTP 400, "
                                 "bad_data:"), bad["msg"]
    assert "parse error" in bad["msg"] and list(bad["by_query"]) == ["ok"]  # what was found before it
    down = "http://127.0.0.1:%d" % free_port()
    unreachable = run_module("prometheus_window", incident_args(prometheus, url=down))
    assert unreachable["failed"] is True
    assert "Prometheus at %s did not answer" % down in unreachable["msg"]
    fine = run_module("prometheus_window", incident_args(prometheus, start=week.utc(week.WEEK_START),
                                                         end=week.utc(week.WEEK_END), step="1m", max_points=5000))
    assert fine["failed"] is True
    assert "would be 10081 points a series, over max_points 5000: give a step of 121s or more" in fine["msg"]
