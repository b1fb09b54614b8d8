"""cert-renewal.yml against a real TLS server (mcpops.lab.fixtures.tls_server) whose certificate files are replaced and
which is reloaded by its PID (SIGHUP, as nginx): the new certificate is served and verified; a pair that does
not match is refused with the old one still served; a reload that does not take is rolled back. certbot and
kubernetes run in check mode only (no ACME server, no cluster here)."""

import json
import ssl
import socket
from pathlib import Path

import pytest

from mcpops.lab.fixtures.ca import TestCA
from mcpops.lab.fixtures.tls_server import TlsServerProcess
from tls_lab import run_playbook

PLAYBOOK = "playbooks/cert-renewal.yml"


class Service:
    """A TLS service whose cert/key live in tls/, serving a certificate that expires in 5 days."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.ca = TestCA()
        self.ca_file = self.ca.write_root(self.dir / "ca.crt")
        self.cert, self.key = self.ca.issue(["127.0.0.1"], days=5).write(self.dir / "tls/server.crt",
                                                                          self.dir / "tls/server.key")
        self.server = TlsServerProcess(self.dir / "srv", [{"name": "svc", "host": "127.0.0.1", "port": 0,
                                                          "cert": self.cert, "key": self.key}])
        self.port = self.server.start()["svc"]

    def served_serial(self):
        ctx = ssl.create_default_context(cafile=self.ca_file)
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                from cryptography import x509

                return "%X" % x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number

    def new_pair(self, name, names=("127.0.0.1",), days=90, mismatched=False):
        issued = self.ca.issue(list(names), days=days)
        cert, key = issued.write(self.dir / name / "fullchain.pem", self.dir / name / "privkey.pem")
        if mismatched:
            Path(key).write_bytes(self.ca.issue(["127.0.0.1"]).key_pem())
        return cert, key, "%X" % issued.serial

    def vars(self, cert, key, **extra):
        data = {"cert_endpoint": "127.0.0.1:%d" % self.port, "cert_ca_path": self.ca_file, "cert_path": self.cert,
                "key_path": self.key, "new_cert": cert, "new_key": key, "tls_service_reload_method": "command",
                "tls_service_reload_command": ["kill", "-HUP", str(self.server.pid)], "cert_verify_retries": 3}
        data.update(extra)
        path = self.dir / ("vars-%d.json" % len(list(self.dir.glob("vars-*.json"))))
        path.write_text(json.dumps(data))
        return "@%s" % path

    def files(self):
        return Path(self.cert).read_bytes(), Path(self.key).read_bytes()


@pytest.fixture
def service(tmp_path):
    svc = Service(tmp_path)
    yield svc
    svc.server.stop()


def run(service, vars_file, *flags):
    proc = run_playbook(PLAYBOOK, "-e", vars_file, *flags, ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    out = proc.stdout + proc.stderr
    for key in service.dir.rglob("*.pem"):
        if key.name == "privkey.pem":  # canary: no private key material in any output
            body = key.read_text().splitlines()[1]
            assert body not in out
    return proc.returncode, out


def test_renewal_replaces_the_served_certificate(service):
    old_serial, old_files = service.served_serial(), service.files()
    cert, key, new_serial = service.new_pair("new")
    rc, out = run(service, service.vars(cert, key), "--check")
    assert rc == 0, out[-3000:]
    assert "Check mode: would renew" in out and service.files() == old_files and service.served_serial() == old_serial

    rc, out = run(service, service.vars(cert, key))
    assert rc == 0, out[-3000:]
    assert service.served_serial() == new_serial != old_serial
    assert "Renewed 127.0.0.1:%d by provided: serial %s" % (service.port, old_serial) in out and "-> %s" % new_serial in out
    backups = list((Path(service.cert).parent / ".cert-backups").iterdir())
    assert len(backups) == 1 and (backups[0] / "cert.pem").read_bytes() == old_files[0]
    assert oct((backups[0] / "key.pem").stat().st_mode & 0o777) == "0o600"

    rc, out = run(service, service.vars(cert, key))  # 90 days left: nothing due, nothing touched
    assert rc == 0 and "nothing to renew" in out and len(list(backups[0].parent.iterdir())) == 1


def test_a_pair_that_does_not_match_is_refused_and_the_old_one_still_served(service):
    old_serial, old_files = service.served_serial(), service.files()
    cert, key, _ = service.new_pair("bad", mismatched=True)
    rc, out = run(service, service.vars(cert, key))
    assert rc != 0 and "does not match the key" in out and "Refused before anything was touched" in out
    assert service.files() == old_files and service.served_serial() == old_serial


def test_a_certificate_missing_a_name_is_refused(service):
    old_files = service.files()
    cert, key, _ = service.new_pair("other", names=("other.example",))
    rc, out = run(service, service.vars(cert, key, cert_names=["127.0.0.1", "gw.example"]))
    assert rc != 0 and "does not cover 127.0.0.1, gw.example" in out and service.files() == old_files


def test_a_reload_that_does_not_take_is_rolled_back(service):
    old_serial, old_files = service.served_serial(), service.files()
    cert, key, new_serial = service.new_pair("new")
    rc, out = run(service, service.vars(cert, key, tls_service_reload_command=["true"]))
    assert rc != 0
    assert "Roll back: put the old pair back" in out and "was put back from" in out
    assert service.files() == old_files and service.served_serial() == old_serial != new_serial


@pytest.mark.parametrize("method", ["certbot", "kubernetes"])
def test_certbot_and_kubernetes_in_check_mode(service, method):
    old_files = service.files()
    cert, key, _ = service.new_pair("new")
    extra = {"cert_renewal_method": method, "certbot_cert_name": "gw.example", "k8s_namespace": "mcp",
             "k8s_tls_secret": "gw-tls", "tls_service_reload_method": "none" if method == "kubernetes" else "command"}
    rc, out = run(service, service.vars(cert, key, **extra), "--check")
    assert rc == 0, out[-3000:]
    assert "Check mode: would renew" in out and service.files() == old_files
    if method == "kubernetes":
        assert "Step 3: Check that the new certificate matches its key" in out


# -- issue 23: the extra vars checked whole before step 4 replaces anything; a failed rollback reload said loudly --

@pytest.mark.parametrize("make_extra, words", [
    (lambda svc: {"cert_endpoint": "127.0.0.1:%d\n" % svc.port}, "Certificate renewal refused: give cert_endpoint"),
    (lambda svc: {"cert_path": svc.cert + "\n"}, "Certificate renewal refused: cert_path, key_path"),
    (lambda svc: {"key_path": svc.key + " "}, "Certificate renewal refused: cert_path, key_path"),
    (lambda svc: {"key_path": "relative/server.key"}, "Certificate renewal refused: cert_path, key_path"),
    (lambda svc: {"cert_names": ["127.0.0.1\n"]}, "Certificate renewal refused: cert_path, key_path"),
    (lambda svc: {"cert_names": "127.0.0.1"}, "Certificate renewal refused: cert_path, key_path"),
    (lambda svc: {"force_renewal": "yes\n"}, "Certificate renewal refused: cert_path, key_path"),
    (lambda svc: {"tls_service_reload_method": "command\n"}, "Certificate renewal refused: cert_path, key_path"),
    (lambda svc: {"tls_service_reload_command": "kill -HUP 1"}, "Certificate renewal refused: cert_path, key_path"),
], ids=["endpoint-newline", "cert-path-newline", "key-path-space", "key-path-relative", "names-newline",
        "names-not-a-list", "force-newline", "reload-method-newline", "reload-command-not-a-list"])
def test_near_misses_are_refused_before_anything_is_replaced(service, make_extra, words):
    old_serial, old_files = service.served_serial(), service.files()
    cert, key, _ = service.new_pair("new")
    rc, out = run(service, service.vars(cert, key, **make_extra(service)))
    assert rc == 2, out[-3000:]
    assert words in " ".join(out.split()) and "Nothing was changed" in out
    assert "Step 4: Put the new pair in place" not in out
    assert service.files() == old_files and service.served_serial() == old_serial


def test_a_rollback_whose_reload_fails_too_says_so_loudly(service):
    """The reload fails (step 5), the old pair is put back, and the reload with the old pair fails too: the
    message says the service is left as that reload left it and what to do, never only "put back"."""
    old_serial, old_files = service.served_serial(), service.files()
    cert, key, _ = service.new_pair("new")
    rc, out = run(service, service.vars(cert, key, tls_service_reload_command=["false"]))
    assert rc == 2, out[-3000:]
    said = " ".join(out.split())
    assert 'failed at "Reload: false"' in said
    assert "was put back from" in said and "and the service reloaded" not in said
    assert "BUT THE RELOAD WITH THE OLD PAIR FAILED TOO" in said and "run INC-001" in said
    assert service.files() == old_files and service.served_serial() == old_serial
