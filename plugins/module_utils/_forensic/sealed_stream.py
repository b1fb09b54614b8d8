# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sealed-file format: AES-256-GCM in authenticated chunks under a versioned header (bounded memory).

Layout (format version 1)::

    magic     16 bytes  b"MCPOPS-FORENSIC\\n"
    version    1 byte   1
    key id     8 bytes  HMAC-SHA256(key, "mcpops forensic key id v1")[:8] (says "another key" before any decryption)
    salt      16 bytes  fresh random bytes per file
    chunk      4 bytes  plaintext bytes per chunk, big-endian
    chunks              AES-256-GCM(file key, nonce, plaintext chunk, aad=header) each: ciphertext + 16-byte tag

The file key is HKDF-SHA256(key, salt, info "mcpops forensic file v1"), so no two files share a key; the nonce of
chunk i is i (11 bytes, big-endian) followed by 1 for the last chunk and 0 for every other. Reordered, dropped,
truncated or appended chunks and a changed header all fail authentication (an empty plaintext is one last chunk).
"""

from __future__ import annotations

import binascii
import os
import struct

from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.errors import ForensicError

MAGIC = b"MCPOPS-FORENSIC\n"
FORMAT_VERSION = 1
HEADER = struct.Struct(">16sB8s16sI")
HEADER_BYTES = HEADER.size
TAG_BYTES = 16
DEFAULT_CHUNK = 1024 * 1024
MAX_CHUNK = 16 * 1024 * 1024
FILE_KEY_INFO = b"mcpops forensic file v1"
FORMAT_NAME = "mcpops-forensic/1 (AES-256-GCM, chunked)"
LIBRARY = "cryptography"

_CRYPTO = {}  # cryptography's pieces, imported on first use


def _cryptography():
    """cryptography's pieces, or None when the library cannot be imported. Imported only when a file is sealed or
    opened: gateway_backup loads this module for every task, and most never seal (its import costs tens of ms)."""
    if not _CRYPTO:
        try:
            from cryptography.exceptions import InvalidTag
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        except ImportError:  # the module says so with missing_required_lib
            _CRYPTO["loaded"] = None
        else:
            _CRYPTO["loaded"] = {"InvalidTag": InvalidTag, "hashes": hashes, "AESGCM": AESGCM, "HKDF": HKDF}
    return _CRYPTO["loaded"]


def has_cryptography():
    """Whether the library can be imported here (imports it)."""
    return _cryptography() is not None


def require_library():
    if not has_cryptography():
        raise ForensicError("the python library 'cryptography' is missing on this host (Debian/Ubuntu: apt-get install "
                            "python3-cryptography; pip: cryptography); forensic copies are sealed with it")


def _file_cipher(key, salt):
    crypto = _cryptography()
    secret = crypto["HKDF"](algorithm=crypto["hashes"].SHA256(), length=32, salt=salt,
                            info=FILE_KEY_INFO).derive(key.secret)
    return crypto["AESGCM"](secret)


def _nonce(index, last):
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def read_exact(read, count):
    """Up to count bytes from read(n), fewer only at the end."""
    parts = []
    left = count
    while left > 0:
        data = read(left)
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


def is_sealed_header(prefix):
    return bytes(prefix[:len(MAGIC)]) == MAGIC


def seal(key, read, write, chunk=DEFAULT_CHUNK):
    """Read plaintext with read(n) until it returns b"", write the sealed file with write(bytes). Returns the
    plaintext byte count. At most two chunks are held in memory."""
    require_library()
    header = HEADER.pack(MAGIC, FORMAT_VERSION, binascii.unhexlify(key.key_id), os.urandom(16), chunk)
    cipher = _file_cipher(key, header[25:41])
    write(header)
    total = 0
    index = 0
    current = read_exact(read, chunk)
    while True:
        following = read_exact(read, chunk) if len(current) == chunk else b""
        last = not following
        write(cipher.encrypt(_nonce(index, last), current, header))
        total += len(current)
        if last:
            return total
        index += 1
        current = following


def read_header(read, key, label):
    """Check the header against key: (header bytes, chunk size), or ForensicError naming label."""
    header = read_exact(read, HEADER_BYTES)
    if len(header) < HEADER_BYTES or not is_sealed_header(header):
        raise ForensicError("%s is not a sealed forensic copy (no %s header)" % (label, FORMAT_NAME.split(" ", maxsplit=1)[0]))
    _magic, version, key_id, _salt, chunk = HEADER.unpack(header)
    if version != FORMAT_VERSION:
        raise ForensicError("%s is sealed in format version %d; this collection opens version %d" % (label, version, FORMAT_VERSION))
    if binascii.hexlify(key_id).decode("ascii") != key.key_id:
        raise ForensicError("%s was sealed with another key than the one given (its key id differs): give the key "
                            "it was sealed with" % label)
    if not 0 < chunk <= MAX_CHUNK:
        raise ForensicError("%s has a chunk size of %d bytes, over the %d this collection reads" % (label, chunk, MAX_CHUNK))
    return header, chunk


def unseal(key, read, write, label="the sealed file"):
    """Read a sealed file with read(n), write its plaintext with write(bytes) chunk by chunk, each only after it
    authenticated. A wrong key, a changed or truncated file: ForensicError (some plaintext chunks may have been
    written already: write to a scratch place and keep it only when this returns). Returns the plaintext size."""
    require_library()
    header, chunk = read_header(read, key, label)
    cipher = _file_cipher(key, header[25:41])
    total = 0
    index = 0
    block = read_exact(read, chunk + TAG_BYTES)
    while True:
        following = read_exact(read, chunk + TAG_BYTES) if len(block) == chunk + TAG_BYTES else b""
        last = not following
        try:
            plain = cipher.decrypt(_nonce(index, last), block, header)
        except _cryptography()["InvalidTag"]:
            raise ForensicError("%s does not authenticate (chunk %d): it was changed, truncated, or sealed with another "
                                "key" % (label, index))
        write(plain)
        total += len(plain)
        if last:
            return total
        index += 1
        block = following
