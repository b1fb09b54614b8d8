"""replace_file and fsync_path: a reader or a crash sees the old content or the new one, never half."""

import os
import stat

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common import atomic_file


def test_replace_writes_the_bytes_with_the_mode_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "metrics.prom"
    target.write_text("old\n")
    atomic_file.replace_file(str(target), b"new\n", 0o640)
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["metrics.prom"]


def test_the_mode_is_set_before_any_byte_is_written(tmp_path, monkeypatch):
    """A secret must never sit in a file readable wider than its mode, even for a moment."""
    modes_at_write = []
    real_fdopen = os.fdopen

    def spying_fdopen(fd, *args, **kwargs):
        modes_at_write.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(atomic_file.os, "fdopen", spying_fdopen)
    atomic_file.replace_file(str(tmp_path / "secret"), b"s3cr3t", 0o600)
    assert modes_at_write == [0o600]


def test_a_failed_write_keeps_the_old_content_and_removes_the_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    target.write_text('{"old": true}')

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        atomic_file.replace_file(str(target), b'{"new": true}', 0o644)
    assert target.read_text() == '{"old": true}'
    assert sorted(os.listdir(tmp_path)) == ["state.json"]


def test_fsync_path_takes_files_and_directories_and_says_when_one_is_missing(tmp_path):
    (tmp_path / "f").write_text("x")
    atomic_file.fsync_path(str(tmp_path / "f"))
    atomic_file.fsync_path(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        atomic_file.fsync_path(str(tmp_path / "missing"))
