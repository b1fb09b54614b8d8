"""Public keys from files or the HSM service, and signature verification (ECDSA P-256 and RSA over a SHA-256 digest)."""

import base64
import hashlib
from urllib.error import HTTPError, URLError

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from ansible_collections.mcpops.runbooks.plugins.module_utils._auditchain.signatures import (
    Verifier,
    fetch_public_key,
    read_public_key,
    verify_signature,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

DIGEST = hashlib.sha256(b"record").digest()


def pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_ecdsa_and_rsa_signatures_verify_and_wrong_ones_say_why():
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    good = base64.b64encode(key.sign(DIGEST, ec.ECDSA(Prehashed(hashes.SHA256())))).decode()
    assert verify_signature(key.public_key(), DIGEST, good) is None
    assert "does not verify" in verify_signature(other.public_key(), DIGEST, good)
    assert "does not verify" in verify_signature(key.public_key(), hashlib.sha256(b"other").digest(), good)
    assert verify_signature(key.public_key(), DIGEST, "not base64!") == "the signature is not base64"
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signed = base64.b64encode(rsa_key.sign(DIGEST, padding.PKCS1v15(), Prehashed(hashes.SHA256()))).decode()
    assert verify_signature(rsa_key.public_key(), DIGEST, signed) is None


def test_keys_from_files(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "k.pem").write_bytes(pem(key))
    assert read_public_key(str(tmp_path / "k.pem")).public_numbers() == key.public_key().public_numbers()
    (tmp_path / "bad.pem").write_text("hello")
    with pytest.raises(TaskError, match="bad.pem is not a PEM public key"):
        read_public_key(str(tmp_path / "bad.pem"))
    with pytest.raises(TaskError, match="cannot read the public key .*missing.pem"):
        read_public_key(str(tmp_path / "missing.pem"))


class Answer:
    def __init__(self, body):
        self.body = body

    def read(self, _limit):
        return self.body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_fetched_keys_and_failures_that_name_the_way_out():
    key = ec.generate_private_key(ec.SECP256R1())
    fetched = fetch_public_key("https://hsm:1/public-key", opener=lambda *a, **kw: Answer(pem(key)))
    assert fetched.public_numbers() == key.public_key().public_numbers()

    def refused(*_a, **_kw):
        raise URLError("Connection refused")

    with pytest.raises(TaskError, match="Connection refused.*give hsm_public_key"):
        fetch_public_key("https://hsm:1/public-key", opener=refused)

    def gone(*_a, **_kw):
        raise HTTPError("https://hsm:1/public-key", 503, "Service Unavailable", {}, None)

    with pytest.raises(TaskError, match="answered 503"):
        fetch_public_key("https://hsm:1/public-key", opener=gone)


def test_the_verifier_picks_the_signers_key():
    hsm, fallback = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    by_fallback = base64.b64encode(fallback.sign(DIGEST, ec.ECDSA(Prehashed(hashes.SHA256())))).decode()
    verifier = Verifier(hsm.public_key(), fallback.public_key())
    assert verifier("software-fallback", DIGEST, by_fallback) is None
    assert "does not verify" in verifier("hsm", DIGEST, by_fallback)
    assert "fallback_public_key" in Verifier(hsm.public_key(), None)("software-fallback", DIGEST, by_fallback)
