"""Prometheus' query_range through a fake transport: the request (its parameters, the bearer token as a header only,
no token without one), the matrix back with its warnings, and every failure said (no answer, refused token, bad
query with Prometheus' own error, another status, not JSON, not a success, not a matrix, too big)."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import Answer, NoAnswer
from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus import query_api
from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus.query_api import (
    QueryError, check_base_url, query_range)
from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus.range_window import Window

BASE = "http://127.0.0.1:9090"
TOKEN = "prom-token-5d1a"
WINDOW = Window(1736935200.0, 1736942400.0, 60)
MATRIX = {"status": "success", "data": {"resultType": "matrix", "result": [
    {"metric": {"instance": "a"}, "values": [[1736935200, "1"]]}]}}


class Fake:
    def __init__(self, status=200, body=MATRIX, error=None):
        self.status, self.body, self.error, self.requests = status, body, error, []

    def exchange(self, method, url, data, headers):
        self.requests.append((method, url, dict(headers)))
        if self.error:
            raise self.error
        body = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        return Answer(self.status, "R", {}, body)


def test_the_request_and_the_matrix():
    fake = Fake(body=dict(MATRIX, warnings=["too many samples"]))
    series, warnings = query_range(fake, BASE, 'rate(x{a="b"}[5m])', WINDOW, token=TOKEN)
    assert series == MATRIX["data"]["result"] and warnings == ["too many samples"]
    [(method, url, headers)] = fake.requests
    parts = urlsplit(url)
    assert (method, parts.path) == ("GET", "/api/v1/query_range")
    assert parse_qs(parts.query) == {"query": ['rate(x{a="b"}[5m])'], "start": ["1736935200.0"],
                                     "end": ["1736942400.0"], "step": ["60"]}
    assert headers["Authorization"] == "Bearer " + TOKEN and TOKEN not in url


def test_no_token_no_authorization_header():
    fake = Fake()
    query_range(fake, BASE + "/prom", "up", WINDOW)
    assert "Authorization" not in fake.requests[0][2]
    assert fake.requests[0][1].startswith(BASE + "/prom/api/v1/query_range?")


@pytest.mark.parametrize("fake, message", [
    (Fake(error=NoAnswer("Connection refused")), "Prometheus at %s did not answer (Connection refused)" % BASE),
    (Fake(status=401, body=b"no"), "refused the request (HTTP 401): give the bearer token it wants"),
    (Fake(status=400, body={"status": "error", "errorType": "bad_data", "error": "1:5: parse error: x"}),
     "Prometheus refused the query (HTTP 400, bad_data: 1:5: parse error: x); fix the PromQL"),
    (Fake(status=422, body={"status": "error", "errorType": "execution", "error": "too many samples"}),
     "(HTTP 422, execution: too many samples)"),
    (Fake(status=503, body=b"Service Unavailable"), "answered HTTP 503 R: Service Unavailable"),
    (Fake(body=b"<html>"), "answered 200 but not JSON: is it Prometheus"),
    (Fake(body={"status": "error"}), "without a successful query_range result"),
    (Fake(body={"status": "success", "data": {"resultType": "vector", "result": []}}), "a vector, not a range"),
])
def test_failures_are_said(fake, message):
    with pytest.raises(QueryError) as err:
        query_range(fake, BASE, "up", WINDOW, token=TOKEN)
    assert message in str(err.value) and TOKEN not in str(err.value)


def test_a_huge_answer_is_refused(monkeypatch):
    monkeypatch.setattr(query_api, "MAX_ANSWER_BYTES", 10)
    with pytest.raises(QueryError, match="narrow the query"):
        query_range(Fake(), BASE, "up", WINDOW)


def test_base_url():
    assert check_base_url(" http://127.0.0.1:9090/ ") == BASE
    for bad, message in [("127.0.0.1:9090", "base URL"), ("ftp://h", "base URL"),
                         ("http://u:p@h:9090", "must not carry credentials"), ("http://h/?x=1", "without a query")]:
        with pytest.raises(ValueError, match=message):
            check_base_url(bad)
