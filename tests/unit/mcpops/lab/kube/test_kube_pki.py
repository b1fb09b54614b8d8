"""The control plane's credentials (mcpops.lab.kube.pki): token file, kubeconfig, certificates."""

import base64
import json
import stat

from cryptography import x509

from mcpops.lab.kube.pki import ControlPlanePki, Identity


def test_an_identity_keeps_its_token_out_of_its_repr_and_in_the_token_file_format():
    admin = Identity("lab-admin", groups=("system:masters", "ops"))
    assert admin.token not in repr(admin) and len(admin.token) >= 40
    assert admin.token_file_line() == f'{admin.token},lab-admin,lab-admin,"system:masters,ops"'
    assert Identity("cm").token_file_line().count(",") == 2
    assert Identity("a").token != Identity("a").token


def test_the_credentials_and_kubeconfig_are_written_private(tmp_path):
    pki = ControlPlanePki(tmp_path / "pki")
    admin = Identity("lab-admin", groups=("system:masters",))
    pki.write([admin])
    for secret in (pki.serving_key, pki.sa_key, pki.token_file):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    serving = x509.load_pem_x509_certificate(pki.serving_cert.read_bytes())
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert b"PUBLIC KEY" in pki.sa_pub.read_bytes()

    path = pki.write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:6443", admin, namespace="lego-mcp")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = json.loads(path.read_text())
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == pki.ca_cert.read_bytes()
    assert config["users"][0]["user"]["token"] == admin.token
    assert config["contexts"][0]["context"]["namespace"] == "lego-mcp"
