"""The shared HTTP layer (routing, faults on every request, errors, logs scrubbed of secrets) and the services'
plain rules: loyalty's modes and input, cctelegram's key check and rate limit, connector's circuits, MySQL URLs."""

import http.client
import io
import json
import threading

import pytest

from mcpops.lab.services.cctelegram_mcp import RateLimiter, check_api_key
from mcpops.lab.services.connector_mcp import circuits
from mcpops.lab.services.datastores import parse_mysql_url, probe
from mcpops.lab.services.faults import write_faults
from mcpops.lab.services.http_app import (App, HttpError, JsonLines, Request, Response, Server, compile_route,
                                          error_text, now_iso, redact)
from mcpops.lab.services.loyalty_api import mode_refusal, points_request

SECRET = "canary-secret-8fK2"


class Echo(App):
    name = "echo"

    def __init__(self, state_dir):
        super().__init__(state_dir, secrets=[SECRET])
        self.lines = io.StringIO()
        self.log = JsonLines(stream=self.lines, secrets=self.secrets)
        self.add("/health", self.health)
        self.add("/items/<item_id>", self.item, ("GET", "DELETE"))
        self.add("/boom", self.boom, ("POST",))

    def health(self, req):
        if req.faults.unhealthy:
            return 503, {"status": "unhealthy", "reason": req.faults.reason}
        return 200, {"status": "healthy"}

    def item(self, req):
        return Response(200, {"id": req.params["item_id"], "method": req.method})

    def boom(self, req):
        raise RuntimeError("cannot connect with password %s" % SECRET)

    def logged(self):
        return [json.loads(line) for line in self.lines.getvalue().splitlines()]


@pytest.fixture
def app(tmp_path):
    return Echo(str(tmp_path))


def request(app, method, path, body=b"", headers=None):
    req = Request(method, path, headers or {}, body)
    return req, app.dispatch(req)


def test_compile_route():
    regex = compile_route("/api/v1/loyalty/balance/<customer_id>")
    assert regex.match("/api/v1/loyalty/balance/c-1").group("customer_id") == "c-1"
    assert not regex.match("/api/v1/loyalty/balance/c/1")
    assert not compile_route("/a.b").match("/aXb")  # literal parts are escaped


def test_routing(app):
    req, resp = request(app, "GET", "/items/42?x=1")
    assert resp.status == 200 and resp.body == {"id": "42", "method": "GET"}
    assert req.route == "/items/<item_id>" and req.query == {"x": ["1"]}
    _, resp = request(app, "HEAD", "/health")
    assert resp.status == 200
    req, resp = request(app, "POST", "/items/42")
    assert resp.status == 405 and resp.headers["Allow"] == "DELETE, GET"
    req, resp = request(app, "GET", "/nope")
    assert resp.status == 404 and req.route == "unmatched"


def test_faults_are_read_on_every_request(app, tmp_path):
    assert request(app, "GET", "/health")[1].status == 200
    write_faults(str(tmp_path), unhealthy=True, reason="injected for the test")
    resp = request(app, "GET", "/health")[1]
    assert resp.status == 503 and resp.body["reason"] == "injected for the test"
    write_faults(str(tmp_path))
    assert request(app, "GET", "/health")[1].status == 200


def test_slow_fault_delays(app, tmp_path):
    import time

    write_faults(str(tmp_path), slow_ms=200)
    started = time.monotonic()
    assert request(app, "GET", "/health")[1].status == 200
    assert time.monotonic() - started >= 0.2


def test_an_invalid_fault_file_is_logged_once(app, tmp_path):
    (tmp_path / "faults.json").write_text("{oops")
    for _ in range(3):
        assert request(app, "GET", "/health")[1].status == 200
    warnings = [r for r in app.logged() if r.get("event") == "fault_file_invalid"]
    assert len(warnings) == 1 and "faults.json" in warnings[0]["message"]


def test_an_exception_is_a_500_and_an_error_line_without_the_secret(app):
    req, resp = request(app, "POST", "/boom")
    assert resp.status == 500 and resp.body == {"error": "internal", "message": "internal error"}
    app.record(req, resp, 0.01)
    text = app.lines.getvalue()
    assert SECRET not in text and "***" in text
    assert [r["level"] for r in app.logged()] == ["ERROR", "ERROR"]


def test_request_json():
    assert Request("POST", "/", {}, b'{"a": 1}').json() == {"a": 1}
    for body in (b"", b"{x", b"[1]", b"\xff"):
        with pytest.raises(HttpError) as info:
            Request("POST", "/", {}, body).json()
        assert info.value.status == 400


def test_request_header_is_case_insensitive_on_a_dict():
    assert Request("GET", "/", {"x-api-key": "k"}).header("X-API-Key") == "k"


def test_redact_and_error_text():
    assert redact("a %s b %s" % (SECRET, SECRET), [SECRET, "", None]) == "a *** b ***"
    assert error_text(ValueError("line one %s\nline two" % SECRET), [SECRET]) == "line one ***"
    assert error_text(ValueError()) == "ValueError"
    assert len(error_text(ValueError("x" * 1000))) == 300
    assert now_iso().endswith("Z") and len(now_iso()) == 24


def test_json_lines_to_a_file_never_hold_a_secret(tmp_path):
    secrets = [SECRET]
    log = JsonLines(str(tmp_path / "logs" / "app.log"), secrets=secrets)
    log.write({"message": "connecting with %s" % SECRET, "nested": {"k": SECRET}})
    log.write_line("two\nlines")
    lines = (tmp_path / "logs" / "app.log").read_text().splitlines()
    assert len(lines) == 2 and SECRET not in "".join(lines)
    assert json.loads(lines[0])["nested"]["k"] == "***"


def test_the_real_server_answers_head_and_refuses_big_bodies(app):
    server = Server(("127.0.0.1", 0), app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        conn.request("HEAD", "/health")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b"" and resp.getheader("Server").startswith("echo/")
        conn.request("GET", "/health")
        resp = conn.getresponse()
        assert json.loads(resp.read()) == {"status": "healthy"}
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        conn.putrequest("POST", "/boom")
        conn.putheader("Content-Length", str(2 * 1024 * 1024))
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 413
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
    assert app.metrics.total() == 3


# -- the services' plain rules ------------------------------------------------------------

@pytest.mark.parametrize("method, path, maintenance, read_only, error", [
    ("GET", "/api/v1/loyalty/balance/c1", False, False, None),
    ("GET", "/api/v1/loyalty/balance/c1", True, False, "maintenance"),
    ("POST", "/api/v1/loyalty/earn", True, True, "maintenance"),
    ("GET", "/health", True, True, None),
    ("GET", "/live", True, False, None),
    ("GET", "/ready", True, False, None),
    ("GET", "/metrics", True, False, None),
    ("POST", "/api/v1/loyalty/earn", False, True, "read_only"),
    ("GET", "/api/v1/loyalty/balance/c1", False, True, None),
    ("HEAD", "/api/v1/loyalty/balance/c1", False, True, None),
    ("OPTIONS", "/api/v1/loyalty/earn", False, True, None),
    ("DELETE", "/api/v1/loyalty/balance/c1", False, True, "read_only"),
])
def test_loyalty_modes(method, path, maintenance, read_only, error):
    refusal = mode_refusal(method, path, maintenance, read_only)
    assert (refusal or {}).get("error") == error


def test_loyalty_points_request():
    assert points_request({"customerId": "c-1.x_2", "points": 5}) == ("c-1.x_2", 5)
    for body in ({"customerId": "c 1", "points": 5}, {"customerId": "", "points": 5}, {"points": 5},
                 {"customerId": "c1", "points": 0}, {"customerId": "c1", "points": True},
                 {"customerId": "c1", "points": "5"}, {"customerId": "c1", "points": 10 ** 7}):
        with pytest.raises(HttpError) as info:
            points_request(body)
        assert info.value.status == 400


def test_cctelegram_api_key_check():
    assert check_api_key(SECRET, SECRET) is None
    assert check_api_key(" %s " % SECRET, SECRET) is None
    assert check_api_key(None, SECRET) == "missing_api_key"
    assert check_api_key("", SECRET) == "missing_api_key"
    assert check_api_key(SECRET + "x", SECRET) == "invalid_api_key"
    assert check_api_key("ключ", SECRET) == "invalid_api_key"


def test_cctelegram_rate_limiter_windows():
    now = [120.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.allow("k") for _ in range(3)] == [True, True, False]
    assert limiter.allow("other")
    assert limiter.retry_after() == 60
    now[0] = 179.5
    assert not limiter.allow("k") and limiter.retry_after() == 1
    now[0] = 180.0
    assert limiter.allow("k")


def test_connector_circuits():
    closed = {"slack": {"circuit": "closed"}, "github": {"circuit": "closed"}, "jira": {"circuit": "closed"}}
    assert circuits({}) == closed
    assert circuits({"circuits": "open"}) == closed
    opened = circuits({"circuits": {"slack": "open", "jira": "half_open", "github": "exploded", "x": "open"}})
    assert opened == {"slack": {"circuit": "open"}, "github": {"circuit": "closed"}, "jira": {"circuit": "half_open"}}


def test_parse_mysql_url():
    assert parse_mysql_url("mysql://connectormcp:p%40ss@127.0.0.1:3307/connectorMCP") == {
        "host": "127.0.0.1", "port": 3307, "user": "connectormcp", "password": "p@ss", "database": "connectorMCP"}
    assert parse_mysql_url("mysql+pymysql://u@h/db")["port"] == 3306
    for bad in ("postgresql://u@h/db", "mysql://u@h/", "mysql://u@h:x/db", "mysql://u@h/a/b"):
        with pytest.raises(ValueError):
            parse_mysql_url(bad)


def test_probe():
    assert probe(lambda: None)["status"] == "healthy"

    def fail():
        raise ConnectionRefusedError("refused, password was %s" % SECRET)

    result = probe(fail, [SECRET])
    assert result["status"] == "unhealthy" and result["latency_ms"] >= 0
    assert result["error"] == "ConnectionRefusedError: refused, password was ***"
