"""Key names as text and back: any bytes survive; valid UTF-8 reads as itself."""

import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.key_text import key_bytes, key_text

RAW = [b"ratelimit:10.0.0.1", b"with space", b"quo\"te'", b"new\nline\r\t", b"\xff\xfe\x00bin", b"back\\slash",
       b"\\x41 is not A", b"\\\\xff", "ünï🚀".encode(), b"", b"\xc3", b"tail\\"]


@pytest.mark.parametrize("raw", RAW)
def test_round_trip(raw):
    text = key_text(raw)
    assert isinstance(text, str) and key_bytes(text) == raw
    text.encode("utf-8")  # JSON-safe: no lone surrogates


def test_readable_forms():
    assert key_text(b"ratelimit:1") == "ratelimit:1"
    assert key_text("ünï".encode()) == "ünï"
    assert key_text(b"a\xffb") == "a\\xffb"
    assert key_text(b"a\\b") == "a\\\\b"
    assert key_text(b"\\x41") == "\\\\x41" and key_bytes("\\x41") == b"A"


def test_random_bytes_round_trip():
    for _ in range(300):
        raw = os.urandom(ord(os.urandom(1)) % 40)
        assert key_bytes(key_text(raw)) == raw
