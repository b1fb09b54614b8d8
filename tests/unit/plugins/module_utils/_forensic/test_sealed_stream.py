import io
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.errors import ForensicError
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.forensic_key import ForensicKey
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.sealed_stream import HEADER_BYTES, seal, unseal

KEY = ForensicKey(bytes(range(32)))
OTHER = ForensicKey(bytes(range(1, 33)))


def sealed(data, chunk=16):
    out = io.BytesIO()
    assert seal(KEY, io.BytesIO(data).read, out.write, chunk=chunk) == len(data)
    return out.getvalue()


def opened(blob, key=KEY):
    out = io.BytesIO()
    unseal(key, io.BytesIO(blob).read, out.write)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 32, 100])
def test_round_trip_over_chunk_boundaries(size):
    data = os.urandom(size)
    blob = sealed(data)
    assert opened(blob) == data
    assert len(blob) == HEADER_BYTES + size + 16 * (size // 16 + 1 if size % 16 or size == 0 else size // 16)


def test_no_plaintext_on_disk_and_fresh_salt_each_time():
    data = b"CANARY-forensic-0001 " * 10
    one, two = sealed(data), sealed(data)
    assert b"CANARY" not in one and one != two


def test_another_key_is_refused_before_decryption():
    with pytest.raises(ForensicError, match="another key"):
        opened(sealed(b"x" * 40), OTHER)


@pytest.mark.parametrize("damage", ["truncate_chunk", "drop_last_chunk", "flip", "append", "header"])
def test_a_changed_file_does_not_authenticate(damage):
    blob = bytearray(sealed(b"y" * 40))  # 3 chunks: 16, 16, 8
    if damage == "truncate_chunk":
        blob = blob[:-3]
    elif damage == "drop_last_chunk":
        blob = blob[:-(8 + 16)]
    elif damage == "flip":
        blob[HEADER_BYTES + 3] ^= 1
    elif damage == "append":
        blob += b"\0" * 40
    else:
        blob[40] ^= 1  # the salt: another file key
    with pytest.raises(ForensicError, match="does not authenticate"):
        opened(bytes(blob))


def test_not_a_sealed_file():
    with pytest.raises(ForensicError, match="not a sealed forensic copy"):
        opened(b'{"tokens": []}' * 5)
