# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's flock on <data_dir>/.gateway.lock, taken by a restore so the gateway cannot start mid-way."""

from __future__ import annotations

import errno
import fcntl
import os

LOCK_NAME = ".gateway.lock"


class LockHeldError(Exception):
    """Another process (normally the running gateway) holds the data dir lock."""


def lock_path(data_dir):
    return os.path.join(data_dir, LOCK_NAME)


class DataDirLock:
    """fcntl.flock(LOCK_EX | LOCK_NB) on the gateway's lock file, as a context manager.

    flock belongs to the open file description: a second DataDirLock in the same
    process conflicts with the first, exactly like another process would.
    """

    def __init__(self, data_dir):
        self.path = lock_path(data_dir)
        self._fd = None

    def acquire(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockHeldError(
                    "the data dir lock %s is held by another process (the gateway is running, or another "
                    "restore is); stop the gateway (mcpops.runbooks gateway_service role, or "
                    "systemctl stop onec-mcp-gateway) and run again" % self.path
                )
            raise
        self._fd = fd
        return self

    def release(self):
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    @property
    def held(self):
        return self._fd is not None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


def lock_is_held(data_dir):
    """True when another process holds the lock now. Never creates the data dir."""
    path = lock_path(data_dir)
    try:
        # read-only and no O_CREAT: probing must not add a file to the data dir
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False  # no lock file: nobody holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return True
        raise
    finally:
        os.close(fd)  # closing drops our probe lock too
    return False
