"""A phase judged: failures over max_failures, p99 over max_p99_ms, requests not sent; the line a human reads."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._loadprobe.phase_verdict import phase_line, phase_problems


def phase(**changes):
    base = {"requests": 100, "concurrency": 10, "time_limit": 60, "sent": 100, "not_started": 0, "answered": 100,
            "ok": 100, "non_2xx": 0, "no_answer": 0, "failures": 0, "status_counts": {"200": 100},
            "elapsed_seconds": 0.5, "requests_per_second": 200.0,
            "latency_ms": {"count": 100, "min": 1.0, "p50": 2.0, "p90": 3.0, "p99": 40.0, "max": 90.0, "mean": 3.0}}
    base.update(changes)
    return base


def test_a_clean_phase_passes():
    assert phase_problems("load", phase(), 0, 50.0) == []
    assert phase_problems("load", phase(), 0, None) == []


def test_failures_are_named_by_status_and_no_answer():
    p = phase(ok=90, non_2xx=8, no_answer=2, failures=10, answered=98, status_counts={"200": 90, "500": 5, "502": 3},
              by_url={"http://lb/health": {"sent": 50, "ok": 50, "failures": 0},
                      "http://lb/tools/x": {"sent": 50, "ok": 40, "failures": 10}})
    [problem] = phase_problems("load", p, 0, None)
    assert problem == ("load: 10 failed requests of 100 (HTTP 500 x5, 502 x3; no answer x2 on http://lb/tools/x x10), "
                       "at most 0 allowed")
    assert phase_problems("load", p, 10, None) == []


def test_p99_over_the_threshold_and_no_latency_at_all():
    assert phase_problems("performance", phase(), 0, 39.9) == ["performance: p99 40.0 ms over the 39.9 ms allowed"]
    none = phase(answered=0, ok=0, no_answer=100, failures=100, status_counts={},
                 latency_ms={"count": 0, "min": None, "p50": None, "p90": None, "p99": None, "max": None, "mean": None})
    problems = phase_problems("load", none, 0, 100.0)
    assert problems[1] == "load: no request was answered, no latency measured"


def test_requests_not_sent_fail_the_phase():
    problems = phase_problems("load", phase(sent=40, not_started=60, answered=40, ok=40), 0, None)
    assert problems == ["load: stopped at its time limit (60s): 60 of 100 requests not sent"]


def test_the_line_has_counts_rps_and_percentiles():
    line = phase_line("load", phase())
    assert line == ("load: 100 of 100 sent at concurrency 10 in 0.50s (200.0 req/s): 100 2xx, 0 non-2xx, 0 no answer; "
                    "latency ms p50 2.0 p90 3.0 p99 40.0 max 90.0")
