"""A /metrics page read with prometheus_client's real parser: counters keep their _total in the samples, a family
with no sample is still declared, labels and values come through; bad text is a ValueError; a missing library is a
TaskError naming it."""

import builtins

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._metrics import exposition
from ansible_collections.mcpops.runbooks.plugins.module_utils._metrics.selector import parse_selector

PAGE = """\
# HELP http_requests_total HTTP requests answered, by method, route and status.
# TYPE http_requests_total counter
http_requests_total{method="GET",path="/health",status="200"} 7
http_requests_total{method="GET",path="/health",status="503"} 3
http_requests_total{method="POST",path="/api/v1/loyalty/earn",status="500"} 2
# HELP http_slow_requests_total HTTP requests slower than 1000 ms.
# TYPE http_slow_requests_total counter
# HELP loyalty_outbox_pending Outbox events waiting.
# TYPE loyalty_outbox_pending gauge
loyalty_outbox_pending 4
"""


def test_samples_and_declared_names():
    snap = exposition.parse_page(PAGE)
    fives = snap.select(parse_selector('http_requests_total{status=~"5.."}'))
    assert sorted(fives.values()) == [2.0, 3.0]
    assert snap.select(parse_selector("loyalty_outbox_pending")) == {(): 4.0}
    assert snap.declares("http_slow_requests_total")  # declared, no sample yet
    assert snap.select(parse_selector("http_slow_requests_total")) == {}
    assert not snap.declares("loyalty_outbox_dead_total")


def test_text_that_is_not_prometheus_is_a_value_error():
    with pytest.raises(ValueError):
        exposition.parse_page("<html>not metrics</html>\n")


def test_a_missing_prometheus_client_is_named(monkeypatch):
    real_import = builtins.__import__

    def no_prometheus(name, *args, **kwargs):
        if name.startswith("prometheus_client"):
            raise ImportError("No module named 'prometheus_client'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_prometheus)
    with pytest.raises(TaskError) as err:
        exposition.require_parser()
    assert err.value.library == "prometheus-client"
    assert "Prometheus text" in err.value.reason
