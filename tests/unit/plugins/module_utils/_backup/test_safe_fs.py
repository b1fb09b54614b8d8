"""_backup/safe_fs.py: every name below the top reached without following a link or opening a special file."""

import fcntl
import os
import socket
import stat

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import safe_fs
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import (
    Dir,
    FileTooLargeError,
    TreeTooDeepError,
    UnsafeFileError,
    kind_of,
    open_regular,
    split_rel,
)

from backup_hostile import Canary, bounded, fifo_unblocker, safe_snapshot


@pytest.fixture
def tree(tmp_path):
    """top/ (what the tests open) with a file and a subdir, and outside/ with the canary next to it."""
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    (top / "plain.json").write_text("{}")
    (top / "sub" / "inner.json").write_text("[]")
    return top, Canary(tmp_path / "outside")


def test_a_regular_file_opens_and_a_dir_walks(tree):
    top, _canary = tree
    with Dir.open(str(top)) as d:
        fd, st = d.open_file("sub/inner.json")
        try:
            assert os.read(fd, 10) == b"[]" and st.st_size == 2
            assert not os.O_NONBLOCK & fcntl.fcntl(fd, fcntl.F_GETFL)  # cleared after the safe open
        finally:
            os.close(fd)
        assert [rel for rel, _st in d.regular_files()] == ["plain.json", "sub/inner.json"]
        assert d.kind("sub") == "a directory" and d.kind("missing") is None


@pytest.mark.parametrize("where", ["plain.json", "sub/inner.json"])
def test_a_link_to_a_file_outside_is_refused_and_says_nothing_of_its_target(tree, where):
    top, canary = tree
    os.unlink(str(top / where))
    os.symlink(canary.path, str(top / where))
    with Dir.open(str(top)) as d:
        with pytest.raises(UnsafeFileError) as caught:
            d.open_file(where)
        assert caught.value.kind == "a link" and caught.value.hostile
        assert str(caught.value) == "%s: a link, not a regular file (links are never followed)" % os.path.join(str(top), where)
        with pytest.raises(UnsafeFileError):
            d.read_bytes(where, 1 << 20)
        with pytest.raises(UnsafeFileError, match="a link"):
            d.regular_files()
    canary.assert_not_in(str(caught.value))
    canary.assert_untouched()


def test_a_link_on_the_way_is_refused_where_it_sits(tree):
    top, canary = tree
    os.symlink(os.path.dirname(canary.path), str(top / "linked"))
    with Dir.open(str(top)) as d:
        with pytest.raises(UnsafeFileError) as caught:
            d.open_file("linked/" + os.path.basename(canary.path))
        assert caught.value.label == os.path.join(str(top), "linked")
        assert caught.value.detail == "a link, not a directory (links are never followed)"
        with pytest.raises(UnsafeFileError):
            d.subdir("linked")
        with pytest.raises(UnsafeFileError):
            d.lstat("linked/" + os.path.basename(canary.path))
    canary.assert_not_in(str(caught.value))


def test_a_fifo_is_refused_at_once_never_waited_on(tree):
    top, _canary = tree
    fifo = str(top / "sub" / "inner.json")
    os.unlink(fifo)
    os.mkfifo(fifo)
    with Dir.open(str(top)) as d:
        caught = bounded(lambda: pytest.raises(UnsafeFileError, d.open_file, "sub/inner.json"), unblock=fifo_unblocker(fifo))
        assert caught.value.detail == "not a regular file (a FIFO)"
        caught = bounded(lambda: pytest.raises(UnsafeFileError, d.regular_files), unblock=fifo_unblocker(fifo))
        assert "a FIFO" in str(caught.value)


def test_a_socket_and_a_device_are_refused(tree):
    top, _canary = tree
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(top / "gateway.sock"))
        with Dir.open(str(top)) as d:
            with pytest.raises(UnsafeFileError, match=r"not a regular file \(a socket\)"):
                d.open_file("gateway.sock")
    finally:
        sock.close()
    with Dir.open("/dev") as dev:
        with pytest.raises(UnsafeFileError, match=r"not a regular file \(a character device\)"):
            open_regular(dev.fd, "null", "/dev/null")
    assert kind_of(os.lstat("/dev/null").st_mode) == "a character device"


def test_a_dir_is_not_a_file_and_a_file_not_a_dir(tree):
    top, _canary = tree
    with Dir.open(str(top)) as d:
        with pytest.raises(UnsafeFileError) as caught:
            d.open_file("sub")
        assert caught.value.kind == "a directory" and not caught.value.hostile
        with pytest.raises(UnsafeFileError) as caught:
            d.subdir("plain.json/x")
        assert caught.value.detail == "not a directory (a regular file)"
        with pytest.raises(FileNotFoundError):
            d.open_file("sub/missing.json")


@pytest.mark.parametrize("rel", ["", "..", "../x", "a/../b", "/abs", "a//b", "./a", "a\x00b"])
def test_names_that_could_leave_the_tree_are_refused(rel):
    with pytest.raises(ValueError):
        split_rel(rel)


def test_create_file_never_writes_through_an_existing_link(tree):
    top, canary = tree
    os.symlink(canary.path, str(top / "cache.tmp"))
    with Dir.open(str(top)) as d:
        with pytest.raises(FileExistsError):
            d.create_file("cache.tmp")
        fd = d.create_file("cache.tmp", 0o644, replace=True)  # the link itself goes, then a new file
        try:
            os.write(fd, b"new")
        finally:
            os.close(fd)
    canary.assert_untouched()
    assert not os.path.islink(str(top / "cache.tmp")) and (top / "cache.tmp").read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(str(top / "cache.tmp")).st_mode) == 0o644


def test_replace_file_swaps_the_name_never_writes_through_links_and_leaves_no_tmp(tree, monkeypatch):
    top, canary = tree
    os.symlink(canary.path, str(top / "state.json"))
    os.symlink(canary.path, str(top / "state.json.tmp"))
    with Dir.open(str(top)) as d:
        d.replace_file("state.json", b'{"new": true}', 0o600)
    canary.assert_untouched()
    assert not os.path.islink(str(top / "state.json")) and (top / "state.json").read_bytes() == b'{"new": true}'
    assert stat.S_IMODE(os.stat(str(top / "state.json")).st_mode) == 0o600
    assert not os.path.lexists(str(top / "state.json.tmp"))

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safe_fs.os, "fsync", disk_full)
    with Dir.open(str(top)) as d:
        with pytest.raises(OSError):
            d.replace_file("state.json", b'{"newer": true}')
    assert (top / "state.json").read_bytes() == b'{"new": true}'
    assert not os.path.lexists(str(top / "state.json.tmp"))


def test_read_bytes_refuses_a_sparse_giant_before_reading(tree, monkeypatch):
    top, _canary = tree
    giant = str(top / "giant.json")
    with open(giant, "wb"):
        pass
    os.truncate(giant, 4 << 30)  # 4 GiB, sparse
    read = []
    real_readv = os.readv
    monkeypatch.setattr(safe_fs.os, "readv", lambda fd, bufs: read.append(1) or real_readv(fd, bufs))
    with Dir.open(str(top)) as d:
        caught = bounded(lambda: pytest.raises(FileTooLargeError, d.read_bytes, "giant.json", 1 << 20))
    assert caught.value.size == 4 << 30 and "1 MiB" in str(caught.value) and read == []


def test_remove_never_follows_a_link_inside_or_at_the_top(tree):
    top, canary = tree
    outside = os.path.dirname(canary.path)
    before = safe_snapshot(outside)
    os.symlink(outside, str(top / "sub" / "to-outside"))
    os.symlink(canary.path, str(top / "sub" / "to-canary"))
    os.mkfifo(str(top / "sub" / "fifo"))
    os.symlink(outside, str(top / "top-link"))
    with Dir.open(str(top)) as d:
        assert bounded(lambda: d.remove("sub")) is True
        assert d.remove("top-link") is True and d.remove("missing") is False
    assert sorted(os.listdir(str(top))) == ["plain.json"]
    assert safe_snapshot(outside) == before
    canary.assert_untouched()


def test_trees_deeper_than_the_bound_are_refused_not_recursed(tmp_path, monkeypatch):
    monkeypatch.setattr(safe_fs, "MAX_TREE_DEPTH", 8)
    top = tmp_path / "top"
    deep = top.joinpath(*["d"] * 12)
    deep.mkdir(parents=True)
    (deep / "f").write_text("x")
    with Dir.open(str(top)) as d:
        with pytest.raises(TreeTooDeepError, match="nested deeper than 8 directories"):
            d.regular_files(max_depth=8)
        with pytest.raises(TreeTooDeepError):
            d.remove("d", max_depth=8)
        assert [rel for rel, _ in d.regular_files(max_depth=16)] == ["/".join(["d"] * 12) + "/f"]
        assert d.remove("d", max_depth=16) is True
    assert os.listdir(str(top)) == []


def test_rename_moves_a_link_itself(tree):
    top, canary = tree
    os.symlink(canary.path, str(top / "a-link"))
    with Dir.open(str(top)) as d, d.subdir("sub") as sub:
        d.rename("a-link", sub, "moved")
    assert os.readlink(str(top / "sub" / "moved")) == canary.path
    canary.assert_untouched()
