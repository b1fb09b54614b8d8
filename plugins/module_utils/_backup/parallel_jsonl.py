# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The first parse of a large .jsonl file split across processes, with the serial parse's verdicts and messages.

The file is cut into byte ranges at line boundaries, one a CPU (os.cpu_count()). Each range is parsed
by its own forked process, reading the already opened file descriptor with os.pread (the file is never
opened again by name, so safe_fs's checks still hold), with the serial checker fed in pieces aligned to
the same absolute offsets as the serial read: a line over the length cap is cut at the same bytes either
way. The parent reads the file once meanwhile, for the file's sha256 and each range's; a worker
hashes the bytes it parsed, and the two must agree, so the bytes parsed are the bytes hashed (a file
rewritten during the pass is parsed again, serially). Line numbers come back relative to the range and
are shifted by the lines of the ranges before it.

check() answers None, "do it serially", for a small file, on one CPU, and where a process cannot be
started or a worker does not answer: the serial parse is always the fallback, never an error.
"""

from __future__ import annotations

import hashlib
import os
import sys

PARALLEL_MIN_BYTES = 32 * 1024 * 1024  # below this, starting processes costs more than it saves
MIN_RANGE_BYTES = 1024 * 1024
_PROBE = 64 * 1024


def _next_line_start(fd, pos, limit):
    """The offset of the first line that starts at or after pos (limit when none does)."""
    at = max(pos - 1, 0)
    while at < limit:
        data = os.pread(fd, min(_PROBE, limit - at), at)
        if not data:
            return limit
        cut = data.find(b"\n")
        if cut >= 0:
            return at + cut + 1
        at += len(data)
    return limit


def line_ranges(fd, limit, parts):
    """[(start, end), ...]: limit bytes of fd in at most parts ranges, each starting at a line start."""
    starts = [0]
    for number in range(1, parts):
        start = _next_line_start(fd, limit * number // parts, limit)
        if starts[-1] < start < limit:
            starts.append(start)
    return list(zip(starts, starts[1:] + [limit]))


def _pieces(start, end, chunk):
    """(offset, length) pieces of [start, end) that end where the serial read's chunks end (multiples of chunk)."""
    pos = start
    while pos < end:
        stop = min(end, (pos // chunk + 1) * chunk)
        yield pos, stop - pos
        pos = stop


def check_range(fd, start, end, checker_class, label, chunk):
    """What one range says: {lines, bad, bad_lines: [(line in range, reason)], sha256 of its bytes, size}."""
    checker = checker_class(label)
    digest = hashlib.sha256()
    size = 0
    for offset, length in _pieces(start, end, chunk):
        data = os.pread(fd, length, offset)
        digest.update(data)
        size += len(data)
        checker.feed(data)
        if len(data) < length:
            break
    checker.finish()
    return {"lines": checker.line, "bad": checker.bad, "bad_lines": checker.bad_lines, "limit": checker.limit,
            "sha256": digest.hexdigest(), "size": size}


def _worker(conn, fd, start, end, checker_class, label, chunk):
    try:
        conn.send(check_range(fd, start, end, checker_class, label, chunk))
    except Exception as exc:  # any failure: the parent parses the file serially instead
        conn.send({"error": "%s: %s" % (type(exc).__name__, exc)})
    finally:
        conn.close()


def _fork_context():
    import multiprocessing  # only a large file pays for this import

    return multiprocessing.get_context("fork")


def _spawn(context, ranges, fd, checker_class, label, chunk):
    """One forked process a range: [(process, receiving end)]."""
    for stream in (sys.stdout, sys.stderr):  # a child flushes its copy on exit: no buffered module output twice
        if stream is not None:
            stream.flush()
    started = []
    try:
        for start, end in ranges:
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_worker, args=(send, fd, start, end, checker_class, label, chunk))
            process.daemon = True
            process.start()
            send.close()
            started.append((process, receive))
    except BaseException:
        _stop(started)
        raise
    return started


def _stop(started):
    for process, receive in started:
        receive.close()
        if process.is_alive():
            process.terminate()
        process.join()


def _hash_ranges(fd, limit, ranges, chunk):
    """(size read, sha256 hex of the file, [sha256 hex of each range], every cut after a newline) in one
    sequential read of fd. The cuts are checked on the bytes hashed: a file rewritten after line_ranges()
    could have moved a newline, and a line cut in two would be judged as two."""
    whole = hashlib.sha256()
    parts = [hashlib.sha256() for _range in ranges]
    index, pos, cuts_ok = 0, 0, True
    buf = bytearray(chunk)
    view = memoryview(buf)
    while pos < limit:
        count = os.readv(fd, [view[:min(chunk, limit - pos)]])
        if not count:
            break
        whole.update(view[:count])
        done = 0
        while done < count:
            while ranges[index][1] <= pos + done:
                index += 1
            take = min(count - done, ranges[index][1] - (pos + done))
            parts[index].update(view[done:done + take])
            done += take
            if pos + done == ranges[index][1] and index + 1 < len(ranges) and view[done - 1] != 10:  # b"\n"
                cuts_ok = False
        pos += count
    view.release()
    return pos, whole.hexdigest(), [part.hexdigest() for part in parts], cuts_ok


def merge(label, answers):
    """The serial checker's problems from the ranges' answers, in file order, line numbers made whole."""
    limit = answers[0]["limit"]
    problems, bad, offset = [], 0, 0
    for answer in answers:
        for number, reason in answer["bad_lines"]:
            if len(problems) < limit:
                problems.append("bad_jsonl_line: %s: line %d: %s" % (label, offset + number, reason))
        bad += answer["bad"]
        offset += answer["lines"]
    if bad > limit:
        problems.append("bad_jsonl_line: %s: %d more bad lines not listed" % (label, bad - limit))
    return problems


def check(fd, limit, label, checker_class, chunk, workers=None, min_bytes=None):
    """(size, sha256 hex, problems) of the first limit bytes of fd, a .jsonl file, parsed in parallel;
    None to say "parse it serially" (fd is then back at offset 0).

    checker_class: the serial checker (verify.JsonlChecker); chunk: the serial read's chunk size.
    workers: processes (default os.cpu_count()); min_bytes: the smallest file worth it (PARALLEL_MIN_BYTES).
    """
    workers = workers or os.cpu_count() or 1
    min_bytes = PARALLEL_MIN_BYTES if min_bytes is None else min_bytes
    if workers < 2 or limit < max(min_bytes, 1):
        return None
    ranges = line_ranges(fd, limit, min(workers, max(1, limit // MIN_RANGE_BYTES)))
    if len(ranges) < 2:
        return None
    try:
        started = _spawn(_fork_context(), ranges, fd, checker_class, label, chunk)
    except (OSError, ValueError, AssertionError, ImportError):  # no fork, no /dev/shm, a daemonic parent
        return None
    try:
        size, sha, range_shas, cuts_ok = _hash_ranges(fd, limit, ranges, chunk)
        answers = []
        for _process, receive in started:
            try:
                answers.append(receive.recv())
            except (EOFError, OSError):  # a worker died before answering
                answers.append({"error": "no answer"})
    finally:
        _stop(started)
    agreed = size == limit and cuts_ok and all(
        "error" not in answer and answer["sha256"] == range_sha and answer["size"] == end - start
        for answer, range_sha, (start, end) in zip(answers, range_shas, ranges))
    if not agreed:  # a worker failed, or the file changed under the pass: once more, serially
        os.lseek(fd, 0, os.SEEK_SET)
        return None
    return size, sha, merge(label, answers)
