"""_applog/log_file.py: a regular file only, never through a link, a FIFO refused without blocking; batches."""

import os
import threading

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_file import (
    LogFileError,
    check_log,
    line_batches,
    line_blocks,
)


def lines_of(path, **kwargs):
    found = []
    for first, batch in line_batches(str(path), **kwargs):
        found.extend((first + index, line) for index, line in enumerate(batch))
    return found


def test_lines_in_batches(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b'{"a":1}\n\n{"b":2}\r\n' + b"x" * 100 + b"\nlast")
    assert lines_of(log, max_line=10, chunk_size=16) == [(1, b'{"a":1}'), (2, b""), (3, b'{"b":2}'), (4, None),
                                                         (5, b"last")]


def test_blocks_with_their_line_counts(tmp_path):
    """line_blocks gives each block's line count with it (the count _audit/stream.blocks_of makes to number lines),
    0 for an overlong line's None, 1 for a last line without a newline: every count is the block's own."""
    log = tmp_path / "app.log"
    log.write_bytes(b'{"a":1}\n\n{"b":2}\r\n' + b"x" * 100 + b"\nc\nd\ne\nlast")
    for chunk in (1, 5, 16, 64, 1 << 20):
        blocks = list(line_blocks(str(log), 10, chunk_size=chunk))
        for first, block, overlong, lines in blocks:
            assert lines == (block.count(b"\n") + 1 if block is not None else 0)
        numbered = [(first + index, line) for first, block, overlong, lines in blocks if block is not None
                    for index, line in enumerate(block.split(b"\n"))]
        assert numbered[-1] == (8, b"last") and (5, b"c") in numbered, chunk


def test_missing_file(tmp_path):
    with pytest.raises(LogFileError) as caught:
        check_log(str(tmp_path / "nope.log"))
    assert caught.value.missing and caught.value.msg == "log file %s does not exist" % (tmp_path / "nope.log")


def test_link_refused_and_its_target_never_named(tmp_path):
    secret = tmp_path / "shadow-like"
    secret.write_text("root:x:0:0\n")
    link = tmp_path / "app.log"
    os.symlink(str(secret), str(link))
    for attempt in (lambda: check_log(str(link)), lambda: lines_of(link, max_line=100)):
        with pytest.raises(LogFileError) as caught:
            attempt()
        assert "a link, not a regular file (links are never followed)" in caught.value.msg
        assert str(link) in caught.value.msg and "shadow-like" not in caught.value.msg
        assert not caught.value.missing


def test_fifo_refused_without_blocking(tmp_path):
    fifo = tmp_path / "app.log"
    os.mkfifo(str(fifo))
    outcome = []

    def attempt():
        try:
            check_log(str(fifo))
        except LogFileError as exc:
            outcome.append(exc.msg)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "opening a FIFO blocked"
    assert outcome == ["log file %s: not a regular file (a FIFO)" % fifo]


def test_directory_refused(tmp_path):
    with pytest.raises(LogFileError) as caught:
        check_log(str(tmp_path))
    assert caught.value.msg.endswith("not a regular file (a directory)")


def test_unreadable_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    log = tmp_path / "app.log"
    log.write_text("{}\n")
    log.chmod(0)
    with pytest.raises(LogFileError) as caught:
        check_log(str(log))
    assert "cannot be opened: Permission denied" in caught.value.msg


def test_fd_closed_when_done_or_abandoned(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"{}\n" * 10)
    before = len(os.listdir("/proc/self/fd"))
    lines_of(log, max_line=100)
    batches = line_batches(str(log), max_line=100, chunk_size=4)
    next(batches)
    batches.close()
    assert len(os.listdir("/proc/self/fd")) == before
