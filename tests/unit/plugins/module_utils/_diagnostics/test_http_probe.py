"""The health, metrics and getMe steps against a loopback stub: the key sent as a header and the bot token in the
Bot API's path, neither ever in the step; the status as curl -f's exit code; the seed's metrics lines kept."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.http_probe import (
    SEED_METRICS, get_me, metric_lines, metrics, probe)

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


TOKEN = "7000000001:canary-TOKEN_abcdefghijklmnopqrstuvw"


def token_file(tmp_path, text=TOKEN + "\n"):
    path = tmp_path / "bot_token"
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def test_get_me_reads_the_token_from_its_file_and_names_the_bot_without_showing_the_token(stub, tmp_path):
    stub.routes[("GET", "/bot%s/getMe" % TOKEN)] = (200, {"Content-Type": "application/json"},
                                                     {"ok": True, "result": {"id": 7000000001, "is_bot": True,
                                                                             "username": "mcpops_lab_bot"}})
    done = get_me(UrllibTransport(timeout=5), stub.url + "/", token_file(tmp_path), 1000)
    assert stub.requests[-1]["path"] == "/bot%s/getMe" % TOKEN  # the token went in the path, as the Bot API wants
    assert done["rc"] == 0, done
    assert "ok: the token is accepted, bot @mcpops_lab_bot (id 7000000001, is_bot true)" in done["output"]
    assert done["command"] == "curl -sS %s/bot<hidden>/getMe (token from %s)" % (stub.url, token_file(tmp_path))
    assert TOKEN not in str(done) and "canary" not in str(done)


def test_get_me_refused_token_is_exit_22_and_a_missing_or_odd_file_sends_nothing(stub, tmp_path):
    stub.routes[("GET", "/bot%s/getMe" % TOKEN)] = (401, {"Content-Type": "application/json"},
                                                     {"ok": False, "error_code": 401, "description": "Unauthorized"})
    done = get_me(UrllibTransport(timeout=5), stub.url, token_file(tmp_path), 1000)
    assert done["rc"] == 22 and done["output"] == "HTTP 401 Unauthorized\nnot ok: Unauthorized\n", done
    sent = len(stub.requests)
    missing = get_me(UrllibTransport(timeout=5), stub.url, str(tmp_path / "nope"), 1000)
    assert missing["rc"] == 1 and missing["output"].endswith("nope: not there\n")
    odd = get_me(UrllibTransport(timeout=5), stub.url, token_file(tmp_path, "7000:a/../x?y\n"), 1000)
    assert odd["rc"] == 1 and "does not hold a bot token" in odd["output"] and "a/../x" not in str(odd)
    assert len(stub.requests) == sent
    # no answer: exit 7, and the error text (which could carry the URL) masked
    gone = get_me(UrllibTransport(timeout=2), "http://127.0.0.1:1", token_file(tmp_path), 1000)
    assert gone["rc"] == 7 and TOKEN not in str(gone)
