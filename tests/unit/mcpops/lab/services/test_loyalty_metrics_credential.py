"""loyalty_api.metrics_credential: the token GET /metrics was given, X-Metrics-Token first, else a Bearer token (how
Prometheus 2.42 sends a scrape's credentials: it has no custom headers). The endpoint compares it with the metrics
token either way (tests/integration/lab/test_reference_services.py)."""

from mcpops.lab.services.loyalty_api import metrics_credential
from mcpops.lab.services.http_app import Request

TOKEN = "metrics-canary-1"


def request(headers):
    return Request("GET", "/metrics", headers, b"", "127.0.0.1")


def test_the_header_is_the_token_and_a_bearer_token_the_same_one():
    assert metrics_credential(request({"X-Metrics-Token": TOKEN})) == TOKEN
    assert metrics_credential(request({"Authorization": "Bearer " + TOKEN})) == TOKEN
    assert metrics_credential(request({"authorization": "bearer  %s " % TOKEN})) == TOKEN


def test_the_header_wins_over_a_bearer_token_and_nothing_else_is_a_credential():
    # a wrong X-Metrics-Token is not rescued by a right Bearer token: the header check is as strict as before
    assert metrics_credential(request({"X-Metrics-Token": "wrong", "Authorization": "Bearer " + TOKEN})) == "wrong"
    for header in ("Basic " + TOKEN, TOKEN, "Bearer", ""):
        assert metrics_credential(request({"Authorization": header})) == "", header
    assert metrics_credential(request({})) == ""
