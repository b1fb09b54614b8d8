# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sealed files on disk: seal a file or bytes into a new 0600 file, open one into a 0600 file, atomically."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tempfile

from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.errors import ForensicError
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.sealed_stream import seal, unseal

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_private_dir(path):
    """path as a directory; made 0700 (with its missing parents 0700) when missing. A link is refused."""
    if os.path.islink(path):
        raise ForensicError("%s is a link; give the real directory (links are not followed)" % path)
    if not os.path.isdir(path):
        parent = os.path.dirname(path)
        if parent and parent != path and not os.path.isdir(parent):
            make_private_dir(parent)
        os.mkdir(path, DIR_MODE)
        os.chmod(path, DIR_MODE)


def open_source(path):
    """A binary file object of the regular file path, opened without following a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ForensicError("%s cannot be opened: %s" % (path, "a link (links are not followed)"
                                                         if exc.errno == 40 else exc.strerror or exc))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ForensicError("%s is not a regular file" % path)
    return os.fdopen(fd, "rb")


def write_private(dest, produce):
    """Call produce(write) to fill a new temp file beside dest (0600 before a byte is written), fsync it and
    rename it over dest. On any error the temp file is removed and dest is as it was."""
    directory = os.path.dirname(os.path.abspath(dest))
    make_private_dir(directory)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(dest), suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            fd = None
            result = produce(handle.write)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, dest)
        tmp = None
        return result
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)


def seal_into(key, dest, source):
    """Seal source (a binary file object) into dest; the plaintext size."""
    return write_private(dest, lambda write: seal(key, source.read, write))


def seal_bytes(key, dest, data):
    return seal_into(key, dest, io.BytesIO(data))


def open_into(key, src, dest):
    """Open the sealed file src into dest (0600); the plaintext size. A wrong key or a changed file: ForensicError,
    dest untouched."""
    with open_source(src) as source:
        return write_private(dest, lambda write: unseal(key, source.read, write, label=src))


def plaintext_sha256(key, src, quiet=True):
    """The sha256 hex of what the sealed file src holds (nothing written); when it does not open with key, None
    (quiet) or the ForensicError."""
    digest = hashlib.sha256()
    try:
        with open_source(src) as source:
            unseal(key, source.read, digest.update, label=src)
    except ForensicError:
        if quiet:
            return None
        raise
    return digest.hexdigest()


def file_sha256(path):
    digest = hashlib.sha256()
    with open_source(path) as source:
        for block in iter(lambda: source.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
