"""The health and metrics steps against a loopback stub: the key sent as a header, never in the step; the status as
curl -f's exit code; the seed's metrics lines kept."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.http_probe import SEED_METRICS, metric_lines, metrics, probe

METRICS = """# HELP http_requests_total Requests
http_requests_total{method="GET",path="/health",status="200"} 5
http_request_duration_seconds_bucket{le="0.1"} 5
process_cpu_usage 0.5
process_memory_bytes 1234
cctelegram_bridge_up 1
"""


def test_health_probe_sends_the_key_and_records_status_headers_body(stub):
    stub.routes[("GET", "/health")] = (503, {"Content-Type": "application/json"}, {"status": "unhealthy"})
    done = probe(UrllibTransport(timeout=5), stub.url + "/health", "X-API-Key", "k-123456", 1000)
    assert {k.lower(): v for k, v in stub.requests[0]["headers"].items()}["x-api-key"] == "k-123456"
    assert done["rc"] == 22 and done["output"].startswith("HTTP 503") and '"unhealthy"' in done["output"]
    assert "k-123456" not in str(done) and "<hidden>" in done["command"]


def test_no_answer_is_exit_7():
    done = probe(UrllibTransport(timeout=2), "http://127.0.0.1:1/health", "X-API-Key", "k", 1000)
    assert done["rc"] == 7 and done["output"].startswith("no answer")


def test_metrics_keeps_the_lines_the_seed_greps(stub):
    stub.routes[("GET", "/metrics")] = (200, {"Content-Type": "text/plain"}, METRICS)
    done = metrics(UrllibTransport(timeout=5), stub.url + "/metrics", "X-API-Key", "k", SEED_METRICS, 10000)
    assert done["rc"] == 0
    kept = done["output"].splitlines()
    assert kept[:5] == METRICS.splitlines()[:5] and kept[5] == "[5 of 6 lines match]"  # as grep -E, HELP too
    assert metric_lines("a\nb_process_memory\n", SEED_METRICS) == ["b_process_memory"]


def test_metrics_refused_is_exit_22(stub):
    stub.routes[("GET", "/metrics")] = (401, {}, "no")
    done = metrics(UrllibTransport(timeout=5), stub.url + "/metrics", "X-API-Key", "wrong", SEED_METRICS, 100)
    assert done["rc"] == 22 and done["output"].startswith("HTTP 401")
