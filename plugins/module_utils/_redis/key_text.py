# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis key names (any bytes) as text for results, and back.

A key is returned as its UTF-8 text with every backslash doubled and every byte that is not part of valid UTF-8
written as \\xNN (Python's backslashreplace). The text is plain JSON-safe unicode, and key_bytes(key_text(raw)) ==
raw for every raw key: spaces, quotes, newlines, emoji and invalid UTF-8 all survive the round trip.
"""

from __future__ import annotations

import re

_ESCAPE = re.compile(r"\\(\\|x([0-9a-fA-F]{2}))")


def key_text(raw):
    """bytes -> text: UTF-8, backslashes doubled, undecodable bytes as \\xNN."""
    return bytes(raw).replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")


def key_bytes(text):
    """The inverse of key_text: text -> the key's bytes."""
    out = bytearray()
    last = 0
    for match in _ESCAPE.finditer(text):
        out += text[last:match.start()].encode("utf-8", "surrogateescape")
        out += b"\\" if match.group(2) is None else bytes([int(match.group(2), 16)])
        last = match.end()
    out += text[last:].encode("utf-8", "surrogateescape")
    return bytes(out)
