"""secret_file: atomic 0600 write, refusals before anything is written, no secret in errors or temp files left."""

import os
import stat

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common import secret_file
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.secret_file import (
    SecretFileError,
    check_secret_dest,
    write_secret_file,
)

SECRET = "mcp_ab12" + "S" * 40


def test_writes_0600_even_under_a_wide_umask(tmp_path):
    old = os.umask(0)
    try:
        path = write_secret_file(str(tmp_path / "t.token"), SECRET)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert open(path).read() == SECRET + "\n"
    assert os.listdir(str(tmp_path)) == ["t.token"]


def test_replaces_an_existing_file_atomically_and_tightens_mode(tmp_path):
    dest = tmp_path / "t.token"
    dest.write_text("old")
    os.chmod(str(dest), 0o644)
    inode = os.stat(str(dest)).st_ino
    write_secret_file(str(dest), SECRET)
    assert dest.read_text() == SECRET + "\n" and stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600
    assert os.stat(str(dest)).st_ino != inode  # renamed over, not rewritten in place


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(SecretFileError) as exc:
        check_secret_dest(str(tmp_path / "nope" / "t.token"))
    assert "does not exist" in str(exc.value)
    assert not (tmp_path / "nope").exists()


def test_directory_as_destination_is_refused(tmp_path):
    with pytest.raises(SecretFileError):
        write_secret_file(str(tmp_path), SECRET)


def test_failure_leaves_no_temp_file_and_no_secret_in_message(tmp_path, monkeypatch):
    def broken_rename(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(secret_file.os, "rename", broken_rename)
    with pytest.raises(SecretFileError) as exc:
        write_secret_file(str(tmp_path / "t.token"), SECRET)
    assert SECRET not in str(exc.value) and "No space left" in str(exc.value)
    assert os.listdir(str(tmp_path)) == []


def test_unwritable_directory_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(str(locked), 0o500)
    try:
        if os.access(str(locked), os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(SecretFileError) as exc:
            check_secret_dest(str(locked / "t.token"))
        assert "not writable" in str(exc.value)
    finally:
        os.chmod(str(locked), 0o700)
