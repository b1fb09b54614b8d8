"""mcpops.lab.http_client.http_json against a real HTTP server on loopback: JSON bodies for every status,
the bearer token, no proxy, and (None, error) when nothing answers."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mcpops.lab.http_client import http_json


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/raw":
            return self.answer(200, b"not json at all", "text/plain")
        if self.path == "/empty":
            return self.answer(204, b"", "application/json")
        if self.path == "/missing":
            return self.answer(404, b'{"error": "not_found"}', "application/json")
        seen = {"auth": self.headers.get("Authorization"), "path": self.path}
        return self.answer(200, json.dumps(seen).encode(), "application/json")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        seen = {"body": body, "type": self.headers.get("Content-Type")}
        return self.answer(201, json.dumps(seen).encode(), "application/json")

    def answer(self, status, data, kind):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_json_answers_with_their_status_and_the_bearer_token(server, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # never used: a lab gateway is asked directly
    assert http_json(server + "/who", token="t0k") == (200, {"auth": "Bearer t0k", "path": "/who"})
    assert http_json(server + "/missing") == (404, {"error": "not_found"})
    assert http_json(server + "/empty") == (204, None)
    assert http_json(server + "/raw") == (200, {"raw": "not json at all"})


def test_a_body_is_sent_as_json(server):
    status, answer = http_json(server + "/api/system/backups", method="POST", body={"note": "x"})
    assert status == 201 and answer == {"body": {"note": "x"}, "type": "application/json"}


def test_nothing_listening_gives_no_status_and_the_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: the connection is refused
        status, answer = http_json("http://127.0.0.1:%d/healthz" % port, timeout=2)
    assert status is None and "refused" in answer["error"].lower()
