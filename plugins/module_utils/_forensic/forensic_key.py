# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator's forensic key: a 0600 file holding 32 random bytes (64 hex digits, base64, or raw), read safely."""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import hmac
import os
import stat

from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.errors import ForensicError

KEY_BYTES = 32
MAX_KEY_FILE_BYTES = 4096
KEY_ID_LABEL = b"mcpops forensic key id v1"
HOW_TO_MAKE = "make one with: umask 077; openssl rand -hex 32 > <file>"


class ForensicKey(object):
    """A 256-bit key and its id (an HMAC of a fixed label: it names the key, it reveals nothing of it)."""

    def __init__(self, secret):
        if len(secret) != KEY_BYTES:
            raise ForensicError("a forensic key is %d bytes" % KEY_BYTES)
        self._secret = bytes(secret)
        self.key_id = hmac.new(self._secret, KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]

    @property
    def secret(self):
        return self._secret

    def __repr__(self):
        return "ForensicKey(id=%s)" % self.key_id


def decode_key(raw):
    """The 32 key bytes of a key file's content: 64 hex digits, base64 of 32 bytes, or 32 raw bytes."""
    text = raw.strip()
    if len(text) == 2 * KEY_BYTES:
        try:
            return binascii.unhexlify(text)
        except (binascii.Error, ValueError):
            pass
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) == KEY_BYTES:
        return decoded
    if len(raw) == KEY_BYTES:
        return bytes(raw)
    return None


def read_key_file(path):
    """The ForensicKey in path. Refused (ForensicError, naming the path only) when it is missing, a link, not a
    regular file, readable or writable by group or others, or not 32 bytes in one of the forms above."""
    if not path:
        raise ForensicError("no forensic key file given; " + HOW_TO_MAKE)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ForensicError("forensic key file %s is a link; give the real file (links are not followed)" % path)
        if exc.errno == errno.ENOENT:
            raise ForensicError("forensic key file %s does not exist; %s" % (path, HOW_TO_MAKE))
        raise ForensicError("forensic key file %s cannot be opened: %s" % (path, exc.strerror or exc))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ForensicError("forensic key file %s is not a regular file" % path)
        if st.st_mode & 0o077:
            raise ForensicError("forensic key file %s has mode %04o: group or others may read it; chmod 600 it"
                                % (path, stat.S_IMODE(st.st_mode)))
        raw = os.read(fd, MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    secret = decode_key(raw) if len(raw) <= MAX_KEY_FILE_BYTES else None
    if secret is None:
        raise ForensicError("forensic key file %s does not hold a 256-bit key (64 hex digits, base64 of 32 bytes, or 32 "
                            "raw bytes); %s" % (path, HOW_TO_MAKE))
    return ForensicKey(secret)
