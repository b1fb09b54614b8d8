# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replace a file so that a reader, or a crash, sees the old content or the new one, never half."""

from __future__ import annotations

import os
import tempfile


def fsync_path(path):
    """fsync a file or a directory (a directory's entries: the renames and creations in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path, data, mode, owner=None):
    """Write data (bytes) to a temp file next to path, with mode (and owner, as root) set before any byte is
    written so a secret is never readable wider, fsync it and rename it over path. Raises OSError, leaving no
    temp file. The caller fsyncs the directory when the rename itself must survive a crash."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        if owner is not None and os.geteuid() == 0:
            os.fchown(fd, owner[0], owner[1])
        with os.fdopen(fd, "wb") as handle:
            fd = None
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
        tmp = None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
