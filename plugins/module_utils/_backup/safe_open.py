# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One regular file opened by name from a directory fd, never through a link, never a special file; and the
refusal (UnsafeFileError) that says what the name is instead.

The threat model is safe_fs's (docs/dev/conventions.md, "Hostile data dirs"), whose Dir opens every file this
way. It lives apart so that a module that only opens files this way (app_log_scan's log_file) does not
compile the whole of safe_fs (the AnsiballZ payload keeps no .pyc); safe_fs exports these names too.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat

O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | O_CLOEXEC

_KINDS = (
    (stat.S_ISLNK, "a link"),
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def kind_of(mode):
    """What a st_mode is, in the words the messages use ("a link", "a FIFO", ...)."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "an unknown file type"


class UnsafeFileError(Exception):
    """A name under the data dir that is a link, a special file or not the kind expected: refused.

    label: the name as the messages show it (a path inside the data dir or backup); kind: what it is
    ("a link", "a FIFO", "a regular file", ...); detail: the words after the label. Never anything about
    a link's target.
    """

    def __init__(self, label, kind, want="a regular file", detail=None):
        if detail is None:
            if kind == "a link":
                detail = "a link, not %s (links are never followed)" % want
            else:
                detail = "not %s (%s)" % (want, kind)
        super(UnsafeFileError, self).__init__("%s: %s" % (label, detail))
        self.label = label
        self.kind = kind
        self.want = want
        self.detail = detail

    @property
    def hostile(self):
        """A link, a special file or a tree too deep (not merely a file where a dir belongs, or the reverse)."""
        return self.kind not in ("a regular file", "a directory")


def classify_failed_open(exc, dir_fd, name, label, want):
    """Turn a failed open of name into UnsafeFileError when the name is not what was wanted."""
    if exc.errno == errno.ENOENT:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), label)
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        st = None
    if st is not None:
        kind = kind_of(st.st_mode)
        if kind != want:
            raise UnsafeFileError(label, kind, want)
    exc.filename = label
    raise exc


def _clear_nonblock(fd):
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    if flags & os.O_NONBLOCK:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)


def open_regular(dir_fd, name, label, flags=READ_FLAGS, mode=0o600):
    """(fd, fstat) of name in dir_fd, a regular file: O_NOFOLLOW | O_NONBLOCK, then fstat; anything else
    is closed again and refused. The fd is left blocking (regular files ignore O_NONBLOCK anyway)."""
    flags |= os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | O_CLOEXEC
    try:
        fd = os.open(name, flags, mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR, errno.ENOENT, errno.EOPNOTSUPP, errno.ENODEV):
            classify_failed_open(exc, dir_fd, name, label, "a regular file")
        exc.filename = label
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFileError(label, kind_of(st.st_mode))
        _clear_nonblock(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd, st
