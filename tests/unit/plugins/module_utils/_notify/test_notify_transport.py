"""_notify/notify_transport.py: redirects are answers, never followed (the Authorization header stays home), no
answer is NoAnswer, and TLS verification is on unless turned off, with a CA file when one is given."""

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import NoAnswer
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import make_ssl_context as tls_context
from ansible_collections.mcpops.runbooks.plugins.module_utils._notify.notify_transport import NotifyTransport


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/moved":
            self.send_response(307)
            self.send_header("Location", "/elsewhere")
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.seen = []
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_a_redirect_is_the_answer_and_is_not_followed(server):
    url = "http://127.0.0.1:%d/moved" % server.server_address[1]
    answer = NotifyTransport(timeout=5).exchange("POST", url, b"{}", {"Authorization": "Bearer s"})
    assert answer.status == 307
    assert server.seen == [("/moved", "Bearer s")]


def test_nothing_listening_is_no_answer():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(NoAnswer):
        NotifyTransport(timeout=5).exchange("POST", "http://127.0.0.1:%d/x" % port, b"{}", {})


def test_tls_is_verified_by_default_and_a_ca_file_that_is_not_pem_is_refused(tmp_path):
    assert tls_context().verify_mode == ssl.CERT_REQUIRED and tls_context().check_hostname
    off = tls_context(validate_certs=False)
    assert off.verify_mode == ssl.CERT_NONE and not off.check_hostname
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ssl.SSLError):
        tls_context(ca_path=str(bad))
