"""The software fallback key (made once, 0600, its public half published for the verifier) and the HSM client's
failures, which name the HSM and never hang."""

import hashlib
import os
import stat

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from mcpops.lab.services.lego_signers import FALLBACK_KEY, FALLBACK_PUBLIC_KEY, HsmClient, HsmUnavailable, SoftwareSigner


def test_the_fallback_key_is_made_once_and_its_signatures_verify_with_the_published_half(tmp_path):
    digest = hashlib.sha256(b"r").digest()
    signature = SoftwareSigner(str(tmp_path)).sign(digest)
    assert stat.S_IMODE(os.stat(tmp_path / FALLBACK_KEY).st_mode) == 0o600
    again = SoftwareSigner(str(tmp_path))  # a restart keeps the key
    public = serialization.load_pem_public_key((tmp_path / FALLBACK_PUBLIC_KEY).read_bytes())
    public.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    public.verify(again.sign(digest), digest, ec.ECDSA(Prehashed(hashes.SHA256())))



def test_replicas_starting_together_on_one_key_dir_share_one_key_and_leave_nothing_aside(tmp_path):
    """HSM_FALLBACK_KEY_DIR: several pods make the signer at once; every one must sign with the same key."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        signers = list(pool.map(lambda _: SoftwareSigner(str(tmp_path)), range(8)))
    publics = {s.key.public_key().public_numbers() for s in signers}
    assert len(publics) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([FALLBACK_KEY, FALLBACK_PUBLIC_KEY])


def test_the_fallback_key_dir_is_read_from_the_environment():
    from mcpops.lab.services.lego_mcp import load_config

    env = {"DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/d", "MCPOPS_SERVICE_LISTEN": "127.0.0.1:8000",
           "MCPOPS_SERVICE_STATE_DIR": "/tmp/lego-state"}
    assert load_config(dict(env, HSM_FALLBACK_KEY_DIR=" /keys ")).fallback_key_dir == "/keys"
    assert load_config(env).fallback_key_dir == ""

def test_an_hsm_that_does_not_answer_is_unavailable(unused_port):
    client = HsmClient("https://127.0.0.1:%d" % unused_port, "", timeout=1)
    with pytest.raises(HsmUnavailable, match="HSM POST /sign"):
        client.sign(b"\0" * 32)
    with pytest.raises(HsmUnavailable, match="HSM GET /health"):
        client.health()


@pytest.fixture
def unused_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
