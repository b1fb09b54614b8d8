"""_backup/data_dir_lock.py: the gateway's flock on <data_dir>/.gateway.lock."""

import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.data_dir_lock import (
    DataDirLock,
    LockHeldError,
    lock_is_held,
    lock_path,
)


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
