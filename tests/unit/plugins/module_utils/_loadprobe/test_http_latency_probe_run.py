"""http_latency_probe's run() against a real HTTP server on loopback (stdlib, a thread): the key in its header and
nowhere in the result, both phases counted by the server too, the verdict, the bounds, bad input refused."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._loadprobe.http_latency_probe_run import run

KEY = "cct-unit-key-5b0c1f7e9d"


class Server:
    """GET /health 200, /broken 500, /slow 200 after 0.2 s; records every request's path and key header."""

    def __init__(self):
        self.seen = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with server.lock:
                    server.seen.append((self.path, self.headers.get("X-API-Key")))
                if self.path == "/slow":
                    time.sleep(0.2)
                status = 500 if self.path == "/broken" else 200
                body = json.dumps({"status": "healthy" if status == 200 else "broken"}).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.close()


def params(**changes):
    base = dict(urls=[], api_key=KEY, api_key_header="X-API-Key", timed_requests=20, load_requests=30,
                concurrency=5, time_limit=60, pause_before_load=0, max_failures=0, max_p99_ms=None, timeout=5,
                validate_certs=True)
    base.update(changes)
    return base


def test_both_phases_pass_on_a_healthy_server_and_the_server_saw_exactly_them(server):
    result = run(params(urls=[server.url + "/health"]))
    assert result["passed"] and result["problems"] == [] and not result["changed"]
    perf, load = result["phases"]["performance"], result["phases"]["load"]
    assert (perf["sent"], perf["ok"], perf["concurrency"]) == (20, 20, 1)
    assert (load["sent"], load["ok"], load["concurrency"]) == (30, 30, 5)
    lat = load["latency_ms"]
    assert lat["count"] == 30 and 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert len(server.seen) == 50 and set(server.seen) == {("/health", KEY)}
    assert result["lines"][-1] == "Verdict: PASS"
    assert KEY not in json.dumps(result)


def test_a_failing_url_fails_the_verdict_naming_it(server):
    result = run(params(urls=[server.url + "/health", server.url + "/broken"], timed_requests=10, load_requests=10))
    assert not result["passed"]
    load = result["phases"]["load"]
    assert load["status_counts"] == {"200": 5, "500": 5}
    assert load["by_url"][server.url + "/broken"] == {"sent": 5, "ok": 0, "failures": 5}
    assert result["problems"][0] == ("performance: 5 failed requests of 10 (HTTP 500 x5 on %s/broken x5), at most 0 "
                                     "allowed" % server.url)
    assert run(params(urls=[server.url + "/broken"], timed_requests=4, load_requests=0, max_failures=4))["passed"]


def test_the_time_limit_bounds_the_load_test_and_the_server_saw_only_what_was_sent(server):
    began = time.monotonic()
    result = run(params(urls=[server.url + "/slow"], timed_requests=0, load_requests=5000, concurrency=2,
                        time_limit=1, timeout=5))
    elapsed = time.monotonic() - began
    load = result["phases"]["load"]
    assert load["stopped_by_time_limit"] and 0 < load["sent"] < 5000
    assert load["sent"] + load["not_started"] == 5000
    assert len(server.seen) == load["sent"] == load["answered"]
    assert elapsed < 1 + 5 + 1  # the limit, one request's timeout, and slack for the threads to end
    assert not result["passed"] and "requests not sent" in result["problems"][0]


def test_no_answer_is_counted_with_its_reason_and_fails(server):
    url = server.url + "/health"
    server.close()
    result = run(params(urls=[url], timed_requests=3, load_requests=0, timeout=2))
    perf = result["phases"]["performance"]
    assert perf["no_answer"] == 3 and perf["errors"] and not result["passed"]


def test_the_pause_comes_between_the_phases_only(server):
    pauses = []
    run(params(urls=[server.url + "/health"], timed_requests=2, load_requests=2, pause_before_load=4),
        sleep=pauses.append)
    assert pauses == [4]
    run(params(urls=[server.url + "/health"], timed_requests=0, load_requests=2, pause_before_load=4),
        sleep=pauses.append)
    assert pauses == [4]


@pytest.mark.parametrize("changes, message", [
    (dict(urls=[]), "give 1 to 10 URLs"),
    (dict(urls=["ftp://x/health"]), "not an http(s)"),
    (dict(urls=["http://user:" + KEY + "@lb/health"]), "no credentials in a URL"),
    (dict(load_requests=10001), "load_requests must be a whole number from 0 to 10000"),
    (dict(concurrency=0), "concurrency must be"),
    (dict(time_limit=0), "time_limit must be"),
    (dict(timed_requests=0, load_requests=0), "nothing to probe"),
    (dict(max_p99_ms=0.0), "max_p99_ms must be above 0"),
    (dict(api_key_header="X-API-Key: x"), "api_key_header must be a header name"),
])
def test_bad_input_is_refused_before_any_request(server, changes, message):
    given = params(urls=[server.url + "/health"])
    given.update(changes)
    with pytest.raises(TaskError) as err:
        run(given)
    assert message in err.value.msg and KEY not in err.value.msg
    assert server.seen == []
