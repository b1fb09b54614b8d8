"""The reference gateway's /metrics families (mcpops.lab.gateway.metrics), without a server."""

from mcpops.lab.gateway.metrics import GatewayMetrics, iso_to_epoch, render


def test_counters_and_gauges_render_as_prometheus_text():
    metrics = GatewayMetrics()
    metrics.response(200)
    metrics.response(200)
    metrics.response(503)
    metrics.auth_failure(401, "unknown_token")
    metrics.auth_failure(403, "revoked")
    metrics.auth_failure(403, "revoked")
    metrics.auth_failure(429, "rate_limit")
    backups = [{"id": "b", "createdAt": "2026-01-02T00:00:00Z"}, {"id": "a", "createdAt": "2026-01-01T00:00:00Z"}]
    text = render(metrics.families("1.2.3", {"storage": "ok", "index": "failing: index/ missing"}, backups))
    lines = set(text.splitlines())
    assert {
        'onec_gateway_build_info{version="1.2.3"} 1',
        'onec_gateway_ready{check="index"} 0',
        'onec_gateway_ready{check="storage"} 1',
        'onec_gateway_http_responses_total{code="200"} 2',
        'onec_gateway_http_responses_total{code="503"} 1',
        'onec_gateway_mcp_auth_failures_total{reason="revoked"} 2',
        'onec_gateway_mcp_auth_failures_total{reason="unknown_token"} 1',
        "onec_gateway_mcp_rate_limited_total 1",
        "onec_gateway_backups 2",
        "onec_gateway_last_backup_timestamp_seconds 1767312000",
        "# TYPE onec_gateway_mcp_auth_failures_total counter",
    } <= lines


def test_no_backup_means_no_timestamp_sample():
    text = render(GatewayMetrics().families("1", {"storage": "ok"}, [{"id": "x", "createdAt": None}]))
    assert "onec_gateway_backups 1" in text.splitlines()
    assert not [line for line in text.splitlines() if line.startswith("onec_gateway_last_backup_timestamp_seconds")]


def test_timestamps_and_label_escaping():
    assert iso_to_epoch("1970-01-01T00:01:00Z") == 60
    assert iso_to_epoch("yesterday") is None and iso_to_epoch(None) is None
    assert render([("m", "gauge", "h", [({"v": 'a"b\\c'}, 1)])]).splitlines()[-1] == 'm{v="a\\"b\\\\c"} 1'


def test_every_auth_failure_reason_is_a_series_from_the_start():
    """A counter series that first appears carrying its first failures is invisible to increase() (no earlier sample):
    the lab's auth-spike, 70 failures at once, would never fire OnecGatewayAuthFailures."""
    lines = render(GatewayMetrics().families("1", {"storage": "ok"}, [])).splitlines()
    for reason in ("missing_token", "unknown_token", "revoked", "expired", "blocked"):
        assert 'onec_gateway_mcp_auth_failures_total{reason="%s"} 0' % reason in lines
    assert "onec_gateway_mcp_rate_limited_total 0" in lines
