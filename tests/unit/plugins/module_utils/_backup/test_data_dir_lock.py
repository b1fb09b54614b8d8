"""_backup/data_dir_lock.py: the gateway's flock on <data_dir>/.gateway.lock."""

import os
import threading

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import data_dir_lock
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.data_dir_lock import (
    DataDirLock,
    LockHeldError,
    lock_is_held,
    lock_path,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import UnsafeFileError

from backup_hostile import Canary, bounded, fifo_unblocker


def test_a_second_lock_conflicts_like_another_process(tmp_path):
    data_dir = str(tmp_path)
    with DataDirLock(data_dir) as first:
        assert first.held and lock_is_held(data_dir)
        with pytest.raises(LockHeldError) as caught:
            DataDirLock(data_dir).acquire()
        assert lock_path(data_dir) in str(caught.value) and "stop the gateway" in str(caught.value)
    assert not first.held and not lock_is_held(data_dir)


def test_release_lets_the_next_taker_in(tmp_path):
    lock = DataDirLock(str(tmp_path)).acquire()
    lock.release()
    lock.release()  # a second release is harmless
    with DataDirLock(str(tmp_path)) as again:
        assert again.held


def test_the_lock_file_is_private_and_the_probe_adds_none(tmp_path):
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    assert lock_is_held(str(probe_dir)) is False and os.listdir(str(probe_dir)) == []
    with DataDirLock(str(tmp_path)):
        assert oct(os.stat(lock_path(str(tmp_path))).st_mode & 0o777) == oct(0o600)


def test_a_missing_data_dir_is_an_os_error_not_a_held_lock(tmp_path):
    with pytest.raises(FileNotFoundError):
        DataDirLock(str(tmp_path / "missing")).acquire()


# -- the lock file in a hostile data dir (issue 23) -------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "link", "dangling-link", "dir"])
def test_a_lock_file_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    canary = Canary(tmp_path / "outside")
    lock = lock_path(str(data_dir))
    if kind == "fifo":
        os.mkfifo(lock)
    elif kind == "link":
        os.symlink(canary.path, lock)
    elif kind == "dangling-link":
        os.symlink(str(tmp_path / "outside" / "would-be-created"), lock)
    else:
        os.mkdir(lock)
    unblock = fifo_unblocker(lock) if kind == "fifo" else None
    for work in (lambda: DataDirLock(str(data_dir)).acquire(), lambda: lock_is_held(str(data_dir))):
        with pytest.raises(UnsafeFileError) as caught:
            bounded(work, unblock=unblock)
        assert caught.value.label == lock
        assert caught.value.detail == {
            "fifo": "not a regular file (a FIFO)",
            "link": "a link, not a regular file (links are never followed)",
            "dangling-link": "a link, not a regular file (links are never followed)",
            "dir": "not a regular file (a directory)",
        }[kind]
        canary.assert_not_in(str(caught.value))
    canary.assert_untouched()
    assert sorted(os.listdir(str(tmp_path / "outside"))) == ["root-only-secret.json"]  # nothing created through it


def test_a_held_lock_is_retried_up_to_the_bound_then_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(data_dir_lock, "LOCK_WAIT_SECONDS", 0.3)
    tries = []
    real_flock = data_dir_lock.fcntl.flock

    def counting(fd, op):
        tries.append(op)
        return real_flock(fd, op)

    with DataDirLock(str(tmp_path)):
        monkeypatch.setattr(data_dir_lock.fcntl, "flock", counting)
        with pytest.raises(LockHeldError, match="still held after 0.3 s"):
            bounded(lambda: DataDirLock(str(tmp_path)).acquire())
        monkeypatch.setattr(data_dir_lock.fcntl, "flock", real_flock)
    assert len(tries) > 1 and all(op & data_dir_lock.fcntl.LOCK_NB for op in tries)


def test_a_lock_released_while_waiting_is_taken(tmp_path):
    first = DataDirLock(str(tmp_path)).acquire()
    releaser = threading.Timer(0.2, first.release)
    releaser.start()
    try:
        second = bounded(lambda: DataDirLock(str(tmp_path), wait=30).acquire())
        assert second.held
        second.release()
    finally:
        releaser.cancel()
        first.release()
