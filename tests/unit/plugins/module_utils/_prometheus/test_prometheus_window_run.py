"""prometheus_window's run(): the seed's three queries by default, each query's series summed up (highest max first,
at most max_series), periods when asked, no data a finding, the inputs checked before Prometheus is asked, a failed
query named with what was found before it, Prometheus' warnings passed on, and the token never in a message."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import Answer
from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus.prometheus_window_run import (
    SEED_QUERIES, run)

NOW = 1736942400.0  # 2025-01-15T12:00:00Z
TOKEN = "prom-token-77aa"


class Prometheus:
    """Answers each query with the series given for it ({query: [(labels, [values])]}), else no series."""

    def __init__(self, series=None, status=200, warnings=()):
        self.series, self.status, self.warnings, self.queries = series or {}, status, list(warnings), []

    def exchange(self, method, url, data, headers):
        params = parse_qs(urlsplit(url).query)
        query, start, step = params["query"][0], float(params["start"][0]), int(params["step"][0])
        self.queries.append((query, headers.get("Authorization")))
        if self.status != 200:
            return Answer(self.status, "Bad Request", {}, json.dumps(
                {"status": "error", "errorType": "bad_data", "error": "parse error"}).encode())
        result = [{"metric": labels, "values": [[start + i * step, str(v)] for i, v in enumerate(vals)]}
                  for labels, vals in self.series.get(query, [])]
        body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
        if self.warnings:
            body["warnings"] = self.warnings
        return Answer(200, "OK", {}, json.dumps(body).encode())


def params(**extra):
    base = dict(url="http://127.0.0.1:9090", queries=None, start="-2m", end="now", step="60s", period=None,
                max_points=11000, max_series=50, bearer_token=TOKEN, validate_certs=True, timeout=30)
    base.update(extra)
    return base


def test_the_seed_queries_by_default():
    errors = SEED_QUERIES[0]["query"]
    prom = Prometheus({errors: [({"instance": "a"}, [0, 1, 0]), ({"instance": "b"}, [2, 5, 3])]})
    result = run(params(), transport=prom, now=lambda: NOW)
    assert [q for q, _ in prom.queries] == [q["query"] for q in SEED_QUERIES]
    assert all(auth == "Bearer " + TOKEN for _, auth in prom.queries)
    assert result["window"]["points"] == 3 and result["changed"] is False
    assert [s["labels"]["instance"] for s in result["by_query"]["error_rate"]["series"]] == ["b", "a"]
    assert result["by_query"]["error_rate"]["series"][0]["max_at"] == "2025-01-15T11:59:00Z"
    assert result["no_data"] == ["p95_latency", "cpu"]
    assert result["lines"][0] == "Window 2025-01-15T11:58:00Z to 2025-01-15T12:00:00Z, step 1m (3 points a series)"
    assert "p95_latency: no data in the window: no series matched " + SEED_QUERIES[1]["query"] in result["lines"]
    assert not any(TOKEN in line for line in result["lines"])


def test_max_series_keeps_the_highest_and_counts_all():
    prom = Prometheus({"q": [({"i": str(n)}, [n]) for n in range(5)]})
    result = run(params(queries=[dict(name="q", query="q")], start="now", max_series=2), transport=prom,
                 now=lambda: NOW)
    found = result["by_query"]["q"]
    assert (found["series_count"], [s["max"] for s in found["series"]]) == (5, [4.0, 3.0])
    assert "q: 5 series (q), the 2 with the highest max listed" in result["lines"]


def test_periods_and_trend_when_asked():
    prom = Prometheus({"q": [({}, [1, 2, 2, 4, 4])]})
    result = run(params(queries=[dict(name="q", query="q", unit="req/s")], start="-4m", period="2m"),
                 transport=prom, now=lambda: NOW)
    [series] = result["by_query"]["q"]["series"]
    assert [p["avg"] for p in series["periods"]] == [2.0, 4.0]
    assert series["trend"]["growth_percent"] == 100.0


def test_prometheus_warnings_are_passed_on():
    warned = []
    run(params(queries=[dict(name="q", query="q")]), transport=Prometheus(warnings=["partial"]), now=lambda: NOW,
        warn=warned.append)
    assert warned == ["query q: Prometheus warns: partial"]


def test_a_refused_query_is_named_with_what_came_before():
    with pytest.raises(TaskError) as err:
        run(params(queries=[dict(name="q", query="up")]), transport=Prometheus(status=400), now=lambda: NOW)
    assert err.value.msg == "query q (up): Prometheus refused the query (HTTP 400, bad_data: parse error); fix the PromQL"
    assert err.value.result["by_query"] == {} and err.value.result["window"]["points"] == 3


@pytest.mark.parametrize("extra, message", [
    (dict(url="127.0.0.1:9090"), "url must be Prometheus' base URL"),
    (dict(start="yesterday"), "start must be an RFC 3339 time"),
    (dict(step="1.5m"), "step must be a duration"),
    (dict(start="-7d", step="1s"), "over max_points 11000"),
    (dict(period="30s"), r"period \(30s\) must be at least the step \(1m\)"),
    (dict(start="-500d", step="1d", period="1d"), "more than 400 periods"),
    (dict(max_series=0), "max_series must be 1 or more"),
    (dict(queries=[dict(name="1bad", query="up")]), "a query's name must be a letter"),
    (dict(queries=[dict(name="a", query="up"), dict(name="a", query="up")]), "query a is given twice"),
    (dict(queries=[dict(name="a", query=" ")]), "query a: its PromQL is empty"),
    (dict(queries=[dict(name="q%d" % i, query="up") for i in range(21)]), "at most 20 queries"),
])
def test_bad_inputs_are_refused_before_prometheus_is_asked(extra, message):
    prom = Prometheus()
    with pytest.raises(TaskError, match=message):
        run(params(**extra), transport=prom, now=lambda: NOW)
    assert prom.queries == []
