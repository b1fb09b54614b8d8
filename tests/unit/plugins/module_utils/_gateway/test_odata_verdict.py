"""odata_verdict: which of the 1C web server and the 1C cluster failed, from what a $metadata request saw."""

import json

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.odata_verdict import (
    EXCERPT_CHARS,
    excerpt,
    is_onec_error,
    verdict_of_answer,
    verdict_without_answer,
)

CLUSTER_DOWN = ("Ошибка соединения с сервером 1С:Предприятия 8.3:\n"
                "Сервер 1С:Предприятия не обнаружен\n"
                "server_addr=tcp://srv:1541 descr=10061(0x0000274D) line=1056 file=src\\rtrsrvc\\src\\x.cpp").encode()


@pytest.mark.parametrize("status, body, sent, want", [
    (200, b"<edmx:Edmx/>", False, ("ok", "ok", "not_sent")),
    (200, b"<edmx:Edmx/>", True, ("ok", "ok", "ok")),
    (200, b"{}", True, ("ok", "unknown", "ok")),
    (401, b"", True, ("ok", "ok", "refused")),
    (403, b"", True, ("ok", "ok", "refused")),
    (401, b"", False, ("ok", "unknown", "not_sent")),
    (500, CLUSTER_DOWN, True, ("ok", "failed", "unknown")),
    (503, b'{"odata.error": {"code": "", "message": {"lang": "en", "value": "infobase locked"}}}', False,
     ("ok", "failed", "not_sent")),
    (502, b"<html><body>502 Bad Gateway</body></html>", False, ("failed", "unknown", "not_sent")),
    (500, b"{}", False, ("failed", "unknown", "not_sent")),
    (404, b"Not Found", False, ("failed", "unknown", "not_sent")),
])
def test_answers(status, body, sent, want):
    web, cluster, credential, evidence = verdict_of_answer(status, body, sent)
    assert (web, cluster, credential) == want
    assert set(evidence) == {"web_server", "cluster"} and all(evidence.values())


def test_the_cluster_error_is_the_evidence_in_one_line():
    _, cluster, _, evidence = verdict_of_answer(500, CLUSTER_DOWN, False)
    assert cluster == "failed" and evidence["cluster"].startswith("HTTP 500: Ошибка соединения с сервером 1С")
    assert "server_addr=tcp://srv:1541" in evidence["cluster"] and "\n" not in evidence["cluster"]
    assert "1C's error" in evidence["web_server"]


def test_a_404_says_no_such_publication():
    web, _, _, evidence = verdict_of_answer(404, b"", False)
    assert web == "failed" and "no such publication" in evidence["web_server"]


def test_without_an_answer():
    assert verdict_without_answer("refused", "connection refused", False)[:2] == ("failed", "unknown")
    web, cluster, evidence = verdict_without_answer("timeout", "no answer within 2s", True)
    assert (web, cluster) == ("ok", "unknown") and "TCP and TLS done" in evidence["web_server"]


def test_excerpt_masks_an_echoed_secret_and_is_short():
    said = excerpt(b"user mcp with password Hunter2-Canary-0123 refused\x00\x1b[31m" + b"x" * 1000,
                   secrets=["Hunter2-Canary-0123"])
    assert "Hunter2-Canary-0123" not in said and "***" in said
    assert len(said) == EXCERPT_CHARS and "\x00" not in said and "\x1b" not in said
    assert excerpt(json.dumps({"odata.error": {"message": {"value": "the message"}}}).encode()) == "the message"
    assert excerpt(b"\xff\xfe") and excerpt(None) == ""


def test_onec_markers():
    assert is_onec_error(CLUSTER_DOWN) and is_onec_error(b"Failed to connect to 1C:Enterprise server")
    assert not is_onec_error(b"<h1>502 Bad Gateway</h1>")
