"""_health/http_check.py: one check's request (bearer, header, none; refused without its secret), its verdict
(status, latency, conditions, body) from a fake transport, and the real transport on a loopback stub (redirects are
answers, never followed)."""

import json
import socket
import threading
from http import client as http_client

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import Answer, NoAnswer, UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.http_check import (
    BODY_DECODED_MAX,
    build_request,
    decode_json,
    problem_line,
    run_check,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.selection import health_checks

CANARY = "CANARY-api-key-5b1e77d0"
JSON = {"Content-Type": "application/json"}
AUTH = {
    "api_key": {"style": "header", "header": "X-API-Key", "secret_var": "cctelegram_api_key"},
    "admin": {"style": "bearer", "secret_var": "gateway_admin_token"},
    "open": {"style": "none"},
}


def spec(**fields):
    item = {"name": "health", "path": "/health", "conditions": ["status == healthy"], "max_latency_ms": 2000}
    item.update(fields)
    return health_checks({"checks": [item]})[0]


class Clock:
    """time.monotonic stand-in: each call moves on by step seconds."""

    def __init__(self, step):
        self.now, self.step = 100.0, step

    def __call__(self):
        self.now += self.step
        return self.now


class FakeTransport:
    def __init__(self, answer):
        self.answer = answer
        self.sent = []

    def exchange(self, method, url, data, headers):
        self.sent.append((method, url, data, dict(headers)))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def answer(status=200, body=None, headers=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    return Answer(status, "x", headers or dict(JSON), raw)


def check(s, transport, step=0.004):
    return run_check(s, build_request(s, "http://127.0.0.1:8080", AUTH, {"cctelegram_api_key": CANARY}), transport,
                     clock=Clock(step))


# -- the request -------------------------------------------------------------------------


def test_header_bearer_and_none_requests():
    secrets = {"cctelegram_api_key": CANARY, "gateway_admin_token": "adm-" + CANARY}
    header = build_request(spec(auth="api_key"), "http://127.0.0.1:8080/", AUTH, secrets)
    assert header["method"] == "GET" and header["url"] == "http://127.0.0.1:8080/health"
    assert header["headers"]["X-API-Key"] == CANARY and "Authorization" not in header["headers"]
    bearer = build_request(spec(auth="admin", path="/api/system/storage-meta"), "https://gw.example:3000", AUTH, secrets)
    assert bearer["url"] == "https://gw.example:3000/api/system/storage-meta"
    assert bearer["headers"]["Authorization"] == "Bearer adm-" + CANARY
    for name in ("none", None, "open"):
        plain = build_request(spec(auth=name), "http://127.0.0.1:8080", AUTH, {})
        assert not set(plain["headers"]) - {"Accept", "User-Agent"}


def test_method_and_non_text_secret():
    request = build_request(spec(auth="api_key", method="head"), "http://h", AUTH, {"cctelegram_api_key": 12345})
    assert request["method"] == "HEAD" and request["headers"]["X-API-Key"] == "12345"


@pytest.mark.parametrize("secrets", [{}, {"cctelegram_api_key": ""}, {"cctelegram_api_key": None}, None,
                                     {"other": CANARY}])
def test_missing_secret_names_check_auth_and_variable(secrets):
    with pytest.raises(TaskError) as caught:
        build_request(spec(auth="api_key"), "http://h", AUTH, secrets)
    assert caught.value.msg == ("check health: auth api_key (header X-API-Key) takes its secret from variable "
                                "cctelegram_api_key, which is not set or empty (secrets.cctelegram_api_key); nothing was checked")


def test_missing_bearer_secret():
    with pytest.raises(TaskError) as caught:
        build_request(spec(auth="admin"), "http://h", AUTH, {})
    assert "auth admin (bearer) takes its secret from variable gateway_admin_token" in caught.value.msg


@pytest.mark.parametrize("bad", ["a\nb", "a\r\nX-Evil: 1", "a\x00b"])
def test_a_secret_that_cannot_be_a_header_value_is_refused_without_showing_it(bad):
    with pytest.raises(TaskError) as caught:
        build_request(spec(auth="api_key"), "http://h", AUTH, {"cctelegram_api_key": CANARY + bad})
    assert "line break or NUL" in caught.value.msg and "cctelegram_api_key" in caught.value.msg
    assert CANARY not in caught.value.msg


@pytest.mark.parametrize("auth,name,says", [
    ({}, "api_key", "auth 'api_key' is not in the auth section (known: none defined)"),
    (AUTH, "apikey", "auth 'apikey' is not in the auth section (known: admin, api_key, open)"),
    ({"k": "X-API-Key"}, "k", "auth.k must be a dict"),
    ({"k": {"style": "basic", "secret_var": "v"}}, "k", "style 'basic' is not one of bearer, header, none"),
    ({"k": {"style": "header", "secret_var": "v"}}, "k", "style header needs a header name"),
    ({"k": {"style": "header", "header": "X Key", "secret_var": "v"}}, "k", "style header needs a header name"),
    ({"k": {"style": "header", "header": "X-Key:", "secret_var": "v"}}, "k", "style header needs a header name"),
    ({"k": {"style": "bearer"}}, "k", "style bearer needs secret_var"),
    ({"k": {"style": "header", "header": "X-Key", "secret_var": ""}}, "k", "style header needs secret_var"),
])
def test_bad_auth_entries_are_refused(auth, name, says):
    with pytest.raises(TaskError) as caught:
        build_request(spec(auth=name), "http://h", auth, {"v": CANARY})
    assert says in caught.value.msg and "nothing was checked" in caught.value.msg


# -- the verdict ---------------------------------------------------------------------------


def test_healthy_answer():
    transport = FakeTransport(answer(200, {"status": "healthy", "version": "1.2"}))
    verdict = check(spec(auth="api_key"), transport)
    assert verdict == {"method": "GET", "url": "http://127.0.0.1:8080/health", "status": 200, "latency_ms": 4,
                       "ok": True, "problem": None, "failed_condition": None,
                       "body": {"status": "healthy", "version": "1.2"}}
    method, url, data, headers = transport.sent[0]
    assert (method, url, data) == ("GET", "http://127.0.0.1:8080/health", None)
    assert headers["X-API-Key"] == CANARY and "json" in headers["Accept"]


def test_wrong_status():
    verdict = check(spec(), FakeTransport(answer(503, {"status": "unhealthy"})))
    # the status is the problem; a JSON body that says why is named too
    assert verdict["ok"] is False and verdict["status"] == 503
    assert verdict["problem"] == "HTTP 503, expected 200; condition 'status == healthy' failed: status is \"unhealthy\""
    assert verdict["failed_condition"] == "status == healthy"
    healthy_body = check(spec(), FakeTransport(answer(503, {"status": "healthy"})))
    assert healthy_body["problem"] == "HTTP 503, expected 200" and healthy_body["failed_condition"] is None
    assert verdict["body"] == {"status": "unhealthy"}
    assert problem_line("health", healthy_body) == "check health (GET http://127.0.0.1:8080/health): HTTP 503, expected 200"
    text_503 = check(spec(), FakeTransport(answer(503, b"Service Unavailable", {"Content-Type": "text/plain"})))
    assert text_503["problem"] == "HTTP 503, expected 200" and text_503["failed_condition"] is None  # not JSON: nothing more


def test_expect_status_other_than_200():
    assert check(spec(expect_status=204, conditions=[]), FakeTransport(answer(204)))["ok"] is True
    assert check(spec(expect_status=204, conditions=[]), FakeTransport(answer(200)))["problem"] == "HTTP 200, expected 204"


def test_a_redirect_names_where_it_points():
    verdict = check(spec(), FakeTransport(answer(302, b"", {"Location": "http://elsewhere.example/login"})))
    assert verdict["problem"] == "HTTP 302, expected 200 (a redirect to http://elsewhere.example/login, not followed)"


def test_failed_condition_is_named():
    s = spec(path="/api/health", conditions=["status == healthy", "database.status == healthy", "redis.status == healthy"])
    body = {"status": "healthy", "database": {"status": "healthy"}, "redis": {"status": "unhealthy"}}
    verdict = check(s, FakeTransport(answer(200, body)))
    assert verdict["ok"] is False and verdict["failed_condition"] == "redis.status == healthy"
    assert verdict["problem"] == "condition 'redis.status == healthy' failed: redis.status is \"unhealthy\""
    assert verdict["body"] == body


def test_the_first_failing_condition_only():
    s = spec(conditions=["a == 1", "b == 2"])
    assert check(s, FakeTransport(answer(200, {"a": 0, "b": 0})))["failed_condition"] == "a == 1"


def test_conditions_on_a_body_that_is_not_json():
    verdict = check(spec(), FakeTransport(answer(200, b"<html>ok</html>", {"Content-Type": "text/html"})))
    assert verdict["failed_condition"] == "status == healthy" and verdict["body"] is None
    assert verdict["problem"] == "condition 'status == healthy' failed: the body is not JSON"
    empty = check(spec(), FakeTransport(answer(200, b"")))
    assert empty["problem"] == "condition 'status == healthy' failed: the body is empty"


def test_no_conditions_and_a_text_body_is_fine():
    verdict = check(spec(conditions=[], path="/metrics"), FakeTransport(answer(200, b"up 1\n", {"Content-Type": "text/plain"})))
    assert verdict["ok"] is True and verdict["body"] is None


def test_too_slow():
    verdict = check(spec(), FakeTransport(answer(200, {"status": "healthy"})), step=2.345)
    assert verdict["ok"] is False and verdict["latency_ms"] == 2345
    assert verdict["problem"] == "2345 ms, over max_latency_ms 2000"
    assert check(spec(max_latency_ms=None), FakeTransport(answer(200, {"status": "healthy"})), step=30)["ok"] is True


def test_status_is_judged_before_conditions_and_conditions_before_latency():
    slow_503 = check(spec(), FakeTransport(answer(503, {"status": "x"})), step=5)
    assert slow_503["problem"] == "HTTP 503, expected 200; condition 'status == healthy' failed: status is \"x\""
    slow_bad = check(spec(), FakeTransport(answer(200, {"status": "x"})), step=5)
    assert slow_bad["failed_condition"] == "status == healthy"


def test_no_answer():
    verdict = check(spec(), FakeTransport(NoAnswer("[Errno 111] Connection refused")))
    assert verdict["status"] is None and verdict["ok"] is False and verdict["latency_ms"] == 4
    assert verdict["problem"] == "no answer (Connection refused)" and verdict["body"] is None
    timeout = check(spec(), FakeTransport(NoAnswer("timed out")))
    assert timeout["problem"] == "no answer (timed out)"


@pytest.mark.parametrize("error,says", [
    (http_client.BadStatusLine("garbage"), "no answer (BadStatusLine: garbage)"),
    (http_client.IncompleteRead(b"ab", 10), "no answer (IncompleteRead: IncompleteRead(2 bytes read, 10 more expected))"),
    (OSError(113, "No route to host"), "no answer (OSError: [Errno 113] No route to host)"),
])
def test_a_garbled_answer_is_no_answer_not_a_crash(error, says):
    assert check(spec(), FakeTransport(error))["problem"] == says


def test_body_returned_only_when_small_json():
    big = {"status": "healthy", "pad": "x" * 5000}
    verdict = check(spec(), FakeTransport(answer(200, big)))
    assert verdict["ok"] is True and verdict["body"] is None
    just = {"status": "healthy", "pad": ""}
    just["pad"] = "x" * (4096 - len(json.dumps(just)))
    assert check(spec(), FakeTransport(answer(200, just)))["body"] == just


def test_decode_json_limits():
    assert decode_json(b'{"a": 1}') == ({"a": 1}, None)
    assert decode_json(b'\xef\xbb\xbf{"a": 1}') == ({"a": 1}, None)
    assert decode_json(b"") == (None, "the body is empty")
    assert decode_json(b"\xff\xfe") == (None, "the body is not JSON")
    assert decode_json(b"[" * 100000 + b"]" * 100000) == (None, "the body is JSON nested too deeply")
    too_big = b'{"a": "' + b"x" * BODY_DECODED_MAX + b'"}'
    assert decode_json(too_big)[1] == "the body is %d bytes, over %d: not decoded" % (len(too_big), BODY_DECODED_MAX)


# -- the real transport, on loopback ------------------------------------------------------------------


def test_header_reaches_the_service(stub):
    stub.routes[("GET", "/health")] = lambda h, b: (
        (200, JSON, {"status": "healthy"}) if h.headers.get("X-API-Key") == CANARY else (503, JSON, {"status": "unauthorized"}))
    s = spec(auth="api_key")
    good = run_check(s, build_request(s, stub.url, AUTH, {"cctelegram_api_key": CANARY}), UrllibTransport(True, 5, follow_redirects=False))
    assert good["ok"] is True and good["status"] == 200 and good["body"] == {"status": "healthy"}
    bad = run_check(s, build_request(s, stub.url, AUTH, {"cctelegram_api_key": "wrong"}), UrllibTransport(True, 5, follow_redirects=False))
    assert bad["status"] == 503 and bad["problem"].startswith("HTTP 503, expected 200; condition 'status == healthy' failed")


def test_a_redirect_is_not_followed_so_the_secret_stays(stub):
    stub.routes[("GET", "/health")] = (302, {"Location": stub.url + "/elsewhere"}, b"")
    stub.routes[("GET", "/elsewhere")] = (200, JSON, {"status": "healthy"})
    s = spec(auth="api_key")
    verdict = run_check(s, build_request(s, stub.url, AUTH, {"cctelegram_api_key": CANARY}), UrllibTransport(True, 5, follow_redirects=False))
    assert verdict["status"] == 302 and "not followed" in verdict["problem"]
    assert [r["path"] for r in stub.requests] == ["/health"]


def test_connection_refused_on_loopback():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = spec()
    verdict = run_check(c, build_request(c, "http://127.0.0.1:%d" % port, AUTH, {}), UrllibTransport(True, 5, follow_redirects=False))
    assert verdict["status"] is None and verdict["problem"] == "no answer (Connection refused)"


def test_a_garbled_status_line_on_loopback_is_no_answer():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"NOT-HTTP\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        c = spec()
        url = "http://127.0.0.1:%d" % server.getsockname()[1]
        verdict = run_check(c, build_request(c, url, AUTH, {}), UrllibTransport(True, 5, follow_redirects=False))
    finally:
        thread.join(5)
        server.close()
    assert verdict["status"] is None and verdict["problem"].startswith("no answer (")
