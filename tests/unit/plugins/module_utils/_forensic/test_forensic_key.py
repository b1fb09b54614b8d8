import base64
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.errors import ForensicError
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.forensic_key import read_key_file

SECRET = bytes(range(100, 132))


def key_file(tmp_path, content, mode=0o600, name="k"):
    path = tmp_path / name
    path.write_bytes(content)
    os.chmod(path, mode)
    return str(path)


@pytest.mark.parametrize("content", [SECRET.hex().encode() + b"\n", base64.b64encode(SECRET), SECRET])
def test_hex_base64_or_raw(tmp_path, content):
    assert read_key_file(key_file(tmp_path, content)).secret == SECRET


def test_same_key_same_id_and_repr_hides_it(tmp_path):
    one = read_key_file(key_file(tmp_path, SECRET.hex().encode(), name="a"))
    two = read_key_file(key_file(tmp_path, SECRET, name="b"))
    assert one.key_id == two.key_id and SECRET.hex() not in repr(one)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_readable_by_others_is_refused(tmp_path, mode):
    with pytest.raises(ForensicError, match="chmod 600"):
        read_key_file(key_file(tmp_path, SECRET.hex().encode(), mode))


def test_a_link_is_refused(tmp_path):
    real = key_file(tmp_path, SECRET.hex().encode())
    os.symlink(real, str(tmp_path / "link"))
    with pytest.raises(ForensicError, match="link"):
        read_key_file(str(tmp_path / "link"))


@pytest.mark.parametrize("content", [b"short", b"z" * 64, SECRET.hex().encode()[:-2]])
def test_not_a_key_is_refused_without_showing_it(tmp_path, content):
    with pytest.raises(ForensicError) as caught:
        read_key_file(key_file(tmp_path, content))
    assert "256-bit" in str(caught.value) and content.decode() not in str(caught.value)


def test_missing(tmp_path):
    with pytest.raises(ForensicError, match="does not exist"):
        read_key_file(str(tmp_path / "nope"))
