"""One TLS endpoint probed against a real TLS server on loopback (a thread here): the verified case, a certificate
for another name, a self-signed one, and a port where nothing listens; OpenSSL's codes turned into reasons."""

import socket
import ssl
import threading

import pytest

from mcpops.lab.fixtures.ca import make_cases
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls import cert_status as st
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.probe import TlsContexts, chain_reason, probe
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.target import parse_target


class TlsServer:
    """Serves one certificate on 127.0.0.1 to every connection until stopped (each closed after its handshake)."""

    def __init__(self, cert, key):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            try:
                conn.settimeout(5)
                with self.context.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):  # the verifying client hangs up on a certificate it refuses
                conn.close()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _ca, paths, root = make_cases(tmp_path_factory.mktemp("certs"))
    servers = {case: TlsServer(paths[case]["cert"], paths[case]["key"]) for case in ("valid", "wrong-host", "self-signed")}
    yield servers, paths, TlsContexts(root)
    for server in servers.values():
        server.stop()


def test_a_verified_certificate(lab):
    servers, paths, contexts = lab
    row = st.classify(probe(parse_target("127.0.0.1:%d" % servers["valid"].port), contexts, 5), 30, 7)
    assert row["status"] == "ok" and row["reason"] is None
    assert row["chain_verified"] is True and row["hostname_match"] is True and row["chain_length"] == 2
    assert row["serial"] == "%X" % paths["valid"]["serial"] and row["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert row["target"] == "127.0.0.1:%d" % servers["valid"].port and row["elapsed_ms"] >= 0


def test_another_name_is_a_wrong_host_not_an_untrusted_chain(lab):
    servers, _paths, contexts = lab
    row = probe(parse_target("127.0.0.1:%d" % servers["wrong-host"].port), contexts, 5)
    assert row["chain_verified"] is True and row["hostname_match"] is False and row["reason"] == st.WRONG_HOST
    assert "does not cover 127.0.0.1" in row["message"]
    asked = probe(parse_target({"host": "127.0.0.1", "port": servers["wrong-host"].port,
                                "server_name": "wrong-host.invalid"}), contexts, 5)
    assert asked["reason"] is None and asked["hostname_match"] is True


def test_a_self_signed_certificate_is_still_read(lab):
    servers, _paths, contexts = lab
    row = probe(parse_target("127.0.0.1:%d" % servers["self-signed"].port), contexts, 5)
    assert row["chain_verified"] is False and row["reason"] == st.SELF_SIGNED
    assert row["self_signed"] is True and row["subject"] and "OpenSSL 18" in row["chain_error"]


def test_nothing_listening_is_a_row_not_an_exception(lab):
    _servers, _paths, contexts = lab
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    row = probe(parse_target("127.0.0.1:%d" % port), contexts, 2)
    assert row["reason"] == st.REFUSED and "nothing listens there" in row["message"] and row["subject"] is None


def test_chain_reasons_from_openssl_codes():
    assert chain_reason(10, "certificate has expired", [], None)[0] == st.EXPIRED
    assert chain_reason(9, "not yet valid", [], None)[0] == st.NOT_YET_VALID
    assert chain_reason(19, "self-signed certificate in chain", [], None)[0] == st.UNTRUSTED
    assert chain_reason(99, "something else", [], None) == (st.UNTRUSTED, "certificate verification failed: something else")
