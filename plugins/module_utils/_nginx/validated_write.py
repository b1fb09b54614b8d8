# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A conf file replaced only when nginx takes it: the new text goes in atomically, `nginx -t` judges the whole conf,
and a rejected text is replaced by the old bytes, atomically too, so the file is never half written nor left
invalid. One writer at a time per directory (a lock on the directory itself)."""

from __future__ import annotations

import errno
import fcntl
import os
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.atomic_file import fsync_path, replace_file
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError

LOCK_WAIT_SECONDS = 10.0


class Rejected(Exception):
    """nginx -t refused the new text (the old one is back): what nginx said."""

    def __init__(self, said):
        super().__init__(said)
        self.said = said


def conf_file(path):
    """The real file path names (a link, like sites-enabled/x -> ../sites-available/x, is followed: the file it
    names is edited and the link stays). ConfError unless it is a regular file."""
    real = os.path.realpath(path)
    if not os.path.isfile(real):
        raise ConfError("%s is not a regular file%s" % (path, "" if real == path else " (it names %s)" % real))
    return real


class DirectoryLock:
    """flock on the file's directory, tried without blocking until a deadline."""

    def __init__(self, path, wait=LOCK_WAIT_SECONDS):
        self.directory = os.path.dirname(path)
        self.wait = wait
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= deadline:
                    os.close(self.fd)
                    raise ConfError("another run is editing %s (its lock was not free within %.0fs)"
                                    % (self.directory, self.wait)) from None
                time.sleep(0.05)

    def __exit__(self, *exc):
        os.close(self.fd)  # closing the fd drops the flock


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


def write_checked(path, old, new, nginx):
    """Replace path's bytes old with new (its mode and owner kept), then nginx.test(); on a refusal (or a test
    that could not run) put old back and raise Rejected with what nginx said."""
    st = os.stat(path)
    mode, owner = st.st_mode & 0o7777, (st.st_uid, st.st_gid)
    replace_file(path, new, mode, owner)
    try:
        ok, said = nginx.test()
    except BaseException:
        replace_file(path, old, mode, owner)
        raise
    if not ok:
        replace_file(path, old, mode, owner)
        fsync_path(os.path.dirname(path))
        raise Rejected(said)
    fsync_path(os.path.dirname(path))
    return said
