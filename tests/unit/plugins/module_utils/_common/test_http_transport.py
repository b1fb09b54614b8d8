"""_common/http_transport.py: what the request core calls an answer and what it calls no answer."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import NoAnswer, UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.keepalive_transport import KeepAliveTransport


class _Redirect(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/target")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"seen": "%s"}' % self.headers.get("X-API-Key", "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def redirecting():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


def test_redirect_followed_by_default_and_an_answer_when_told_not_to(redirecting):
    followed = UrllibTransport(timeout=5).exchange("GET", redirecting + "/moved", None, {"X-API-Key": "k"})
    assert followed.status == 200
    kept = UrllibTransport(timeout=5, follow_redirects=False).exchange("GET", redirecting + "/moved", None, {"X-API-Key": "k"})
    assert kept.status == 302 and kept.headers["Location"] == "/target"


@pytest.fixture
def garbled():
    """A server that answers every connection with a line that is not an HTTP status line."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(4096)
                conn.sendall(b"NOT-HTTP garbage\r\n\r\n")
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


@pytest.mark.parametrize("make", [lambda url: UrllibTransport(timeout=5), lambda url: KeepAliveTransport(url, timeout=5)])
def test_a_garbled_answer_is_no_answer(garbled, make):
    with pytest.raises(NoAnswer):
        make(garbled).exchange("GET", garbled + "/health", None, {})
