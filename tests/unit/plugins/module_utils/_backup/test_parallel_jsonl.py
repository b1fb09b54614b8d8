"""The parallel first parse of a .jsonl file: the serial parse's verdicts, messages and line numbers, and its fallbacks."""

import functools
import hashlib
import json
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import parallel_jsonl
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import verify as backup_verify
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.verify import JsonlChecker

CHUNK = 4096  # small pieces, so that ranges start and end inside chunks


@pytest.fixture(autouse=True)
def small_ranges(monkeypatch):
    monkeypatch.setattr(parallel_jsonl, "MIN_RANGE_BYTES", 1024)


def write_lines(path, count=3000):
    with open(path, "wb") as handle:
        for number in range(count):
            handle.write(json.dumps({"n": number, "event": "auth.ok", "pad": "x" * (number % 37)}).encode() + b"\n")
    return str(path)


def serial(path, checker_class=JsonlChecker, chunk=CHUNK):
    """(size, sha256, problems) the way verify.scan_file's serial branch reads a .jsonl file."""
    checker = checker_class("a.jsonl")
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while True:
            data = handle.read(chunk)
            if not data:
                break
            size += len(data)
            digest.update(data)
            checker.feed(data)
    return size, digest.hexdigest(), checker.finish()


def parallel(path, checker_class=JsonlChecker, workers=3, min_bytes=0):
    fd = os.open(path, os.O_RDONLY)
    try:
        found = parallel_jsonl.check(fd, os.fstat(fd).st_size, "a.jsonl", checker_class, CHUNK,
                                     workers=workers, min_bytes=min_bytes)
        return found, os.lseek(fd, 0, os.SEEK_CUR)
    finally:
        os.close(fd)


def ranges_of(path, parts=3):
    fd = os.open(path, os.O_RDONLY)
    try:
        return parallel_jsonl.line_ranges(fd, os.fstat(fd).st_size, parts)
    finally:
        os.close(fd)


def corrupt_line_at(path, offset):
    """Make the line holding byte offset invalid JSON (same length, so the ranges stay); its 1-based number."""
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    start = data.rfind(b"\n", 0, offset) + 1
    data[start:start + 1] = b"x"
    with open(path, "wb") as handle:
        handle.write(data)
    return data.count(b"\n", 0, start) + 1


def test_ranges_start_at_line_starts_and_cover_the_file(tmp_path):
    path = write_lines(tmp_path / "a.jsonl")
    with open(path, "rb") as handle:
        data = handle.read()
    ranges = ranges_of(path)
    assert len(ranges) == 3
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
    for (_start, end), (start, _end) in zip(ranges, ranges[1:]):
        assert end == start and data[start - 1:start] == b"\n"


def test_valid_file_same_verdict_as_serial(tmp_path):
    path = write_lines(tmp_path / "a.jsonl")
    found, _offset = parallel(path)
    assert found == serial(path)
    assert found[2] == []


def test_bad_line_in_the_middle_of_the_second_range_is_named_by_its_line(tmp_path):
    path = write_lines(tmp_path / "a.jsonl")
    start, end = ranges_of(path)[1]
    number = corrupt_line_at(path, (start + end) // 2)
    assert ranges_of(path)[1] == (start, end)
    found, _offset = parallel(path)
    assert found == serial(path)
    assert found[2] == ["bad_jsonl_line: a.jsonl: line %d: Expecting value" % number]
    assert number > 1000  # a line number of the whole file, not of the range


def test_many_bad_lines_across_ranges_listed_and_counted_as_serial(tmp_path):
    path = write_lines(tmp_path / "a.jsonl")
    size = os.path.getsize(path)
    numbers = [corrupt_line_at(path, size * k // 9) for k in range(1, 9)]
    found, _offset = parallel(path)
    assert found == serial(path)
    assert found[2][:5] == ["bad_jsonl_line: a.jsonl: line %d: Expecting value" % n for n in sorted(numbers)[:5]]
    assert found[2][5] == "bad_jsonl_line: a.jsonl: 3 more bad lines not listed"


def test_overlong_lines_blank_lines_and_bad_utf8_as_serial(tmp_path):
    path = str(tmp_path / "a.jsonl")
    with open(path, "wb") as handle:
        for number in range(600):
            if number % 10 == 5:  # over max_line, a cut in the middle of some: found too long or not as the chunks fall
                handle.write(b'{"long": "' + b"y" * (2600 + number * 53 % 3500) + b'"}\n')
            elif number % 89 == 7:
                handle.write(b"   \n")
            elif number % 131 == 9:
                handle.write(b'{"bad": "\xff"}\n')
            else:
                handle.write(json.dumps({"n": number, "pad": "z" * 200}).encode() + b"\n")
        handle.write(b'{"last": "no newline"}')
    checker_class = functools.partial(JsonlChecker, max_line=2500)
    found, _offset = parallel(path, checker_class)
    assert found == serial(path, checker_class)
    assert any("longer than" in p for p in found[2]) and any("not UTF-8" in p for p in found[2])


def test_small_file_stays_serial(tmp_path, monkeypatch):
    spawned = []
    monkeypatch.setattr(parallel_jsonl, "_spawn", lambda *args: spawned.append(args))
    path = write_lines(tmp_path / "a.jsonl")
    found, offset = parallel(path, min_bytes=None)  # the default: PARALLEL_MIN_BYTES
    assert os.path.getsize(path) < parallel_jsonl.PARALLEL_MIN_BYTES
    assert found is None and offset == 0 and spawned == []
    assert backup_verify.scan_file(str(tmp_path), "a.jsonl") == serial(path)
    assert spawned == []


def test_one_cpu_stays_serial(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel_jsonl.os, "cpu_count", lambda: 1)
    path = write_lines(tmp_path / "a.jsonl")
    assert parallel(path, workers=None) == (None, 0)


def test_scan_file_uses_the_processes_for_a_large_file(tmp_path, monkeypatch):
    path = write_lines(tmp_path / "a.jsonl")
    number = corrupt_line_at(path, os.path.getsize(path) * 2 // 3)
    spawned = []
    real_spawn = parallel_jsonl._spawn

    def spying(*args):
        started = real_spawn(*args)
        spawned.append(len(started))
        return started

    monkeypatch.setattr(parallel_jsonl, "_spawn", spying)
    monkeypatch.setattr(parallel_jsonl, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel_jsonl.os, "cpu_count", lambda: 4)
    found = backup_verify.scan_file(str(tmp_path), "a.jsonl", expect_size=os.path.getsize(path))
    assert spawned == [4]
    assert found == serial(path, chunk=backup_verify.READ_CHUNK)
    assert found[2] == ["bad_jsonl_line: a.jsonl: line %d: Expecting value" % number]


def test_no_processes_means_serial(tmp_path, monkeypatch):
    def no_fork():
        raise OSError("fork not allowed here")

    monkeypatch.setattr(parallel_jsonl, "_fork_context", no_fork)
    path = write_lines(tmp_path / "a.jsonl")
    assert parallel(path) == (None, 0)
    monkeypatch.setattr(parallel_jsonl, "PARALLEL_MIN_BYTES", 0)
    assert backup_verify.scan_file(str(tmp_path), "a.jsonl") == serial(path, chunk=backup_verify.READ_CHUNK)


def test_worker_that_dies_or_disagrees_means_serial(tmp_path, monkeypatch):
    path = write_lines(tmp_path / "a.jsonl")
    monkeypatch.setattr(parallel_jsonl, "_worker", lambda *args: os._exit(3))
    assert parallel(path) == (None, 0)
    monkeypatch.undo()
    monkeypatch.setattr(parallel_jsonl, "MIN_RANGE_BYTES", 1024)
    real = parallel_jsonl.check_range

    def other_bytes(*args):  # as if the file changed between the worker's read and the parent's
        answer = real(*args)
        answer["sha256"] = "0" * 64
        return answer

    monkeypatch.setattr(parallel_jsonl, "check_range", other_bytes)
    assert parallel(path) == (None, 0)


def test_cut_that_is_no_longer_after_a_newline_means_serial(tmp_path, monkeypatch):
    """As if a newline moved between the cut and the read: the bytes agree, the cut does not, so no verdict."""
    path = write_lines(tmp_path / "a.jsonl")
    real = parallel_jsonl.line_ranges

    def shifted(fd, limit, parts):
        ranges = real(fd, limit, parts)
        (start, _end), (_start, end) = ranges[0], ranges[1]
        middle = ranges[0][1] + 5
        return [(start, middle), (middle, end)] + ranges[2:]

    monkeypatch.setattr(parallel_jsonl, "line_ranges", shifted)
    assert parallel(path) == (None, 0)
