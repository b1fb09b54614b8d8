# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's flock on <data_dir>/.gateway.lock, taken by a restore so the gateway cannot start mid-way."""

from __future__ import annotations

import errno
import fcntl
import os
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import (
    Dir,
    open_regular,
)

LOCK_NAME = ".gateway.lock"
# flock is only ever tried with LOCK_NB: a held lock is retried for at most this long, then refused.
LOCK_WAIT_SECONDS = 2.0
LOCK_RETRY_SECONDS = 0.1


class LockHeldError(Exception):
    """Another process (normally the running gateway) holds the data dir lock."""


def lock_path(data_dir):
    return os.path.join(data_dir, LOCK_NAME)


def _busy(exc):
    return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)


def open_lock_file(data_dir, create):
    """fd of <data_dir>/.gateway.lock, a regular file: O_NOFOLLOW | O_NONBLOCK (a FIFO there never blocks
    the open), then fstat; a link, a FIFO, a socket or a device is refused (safe_fs.UnsafeFileError).
    create: O_RDWR | O_CREAT, mode 0600; else O_RDONLY (FileNotFoundError when missing)."""
    flags = (os.O_RDWR | os.O_CREAT) if create else os.O_RDONLY
    with Dir.open(data_dir) as top:
        fd, _st = open_regular(top.fd, LOCK_NAME, top.path(LOCK_NAME), flags=flags, mode=0o600)
    return fd


class DataDirLock:
    """fcntl.flock(LOCK_EX | LOCK_NB) on the gateway's lock file, as a context manager.

    flock belongs to the open file description: a second DataDirLock in the same
    process conflicts with the first, exactly like another process would. Never blocks: the
    lock file is opened O_NONBLOCK and must be a regular file, and a held lock is retried with
    LOCK_NB for at most wait seconds (LOCK_WAIT_SECONDS by default).
    """

    def __init__(self, data_dir, wait=None):
        self.path = lock_path(data_dir)
        self.data_dir = data_dir
        self.wait = LOCK_WAIT_SECONDS if wait is None else wait
        self._fd = None

    def acquire(self):
        fd = open_lock_file(self.data_dir, create=True)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if not _busy(exc):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockHeldError(
                        "the data dir lock %s is held by another process (the gateway is running, or another "
                        "restore is; still held after %.1f s); stop the gateway (mcpops.runbooks gateway_service "
                        "role, or systemctl stop onec-mcp-gateway) and run again" % (self.path, self.wait)
                    )
                time.sleep(LOCK_RETRY_SECONDS)
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
    """True when another process holds the lock now (one LOCK_NB probe). Never creates the data dir or
    the lock file; a lock file that is a link or a special file is refused (safe_fs.UnsafeFileError)."""
    try:
        # read-only and no O_CREAT: probing must not add a file to the data dir
        fd = open_lock_file(data_dir, create=False)
    except FileNotFoundError:
        return False  # no lock file (or no data dir): nobody holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if _busy(exc):
            return True
        raise
    finally:
        os.close(fd)  # closing drops our probe lock too
    return False
