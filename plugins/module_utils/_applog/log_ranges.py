# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One log scanned over every CPU: the file cut into byte ranges at line starts, one forked process a range (the
first range in this process), the counts merged back in file order.

Why: the scan is CPU-bound in Python (byte searches, then json and judging the few lines that may matter), so one
process reads about 50 MB/s; a range a CPU multiplies that by the CPUs the process may run on.

scan_in_ranges(findings, path, max_line) counts the log at path into findings (log_findings.AppLogFindings) as
feed_blocks() would, over at most MAX_RANGES processes (memory stays bounded whatever the CPUs), and returns True;
where splitting does not pay (one CPU, a file under two ranges of MIN_RANGE bytes, no os.fork) the whole file is one
range scanned in this process when the host's grep names its lines (log_grep: a file of log_grep.MIN_BYTES or
more). It returns False, having counted nothing, when neither pays, or when a range's counter went over its cap
(which keys fall under "(other)" depends on the order the whole file is read in): the caller then reads the file in
one pass. Each range is read as log_file.line_blocks
reads a whole file (RangeBlocks below: the same reads, the same overlong-line rule), its line numbers counted
from the range's start and moved by the lines before it when merged. The ranges are fixed at the size the file had
when the scan began: lines appended during the scan are not read (one pass reads up to where the end is when it
gets there). No Ansible here.
"""

from __future__ import annotations

import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_file import BLOCK_SIZE, LogFileError, open_log
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.stream import blocks_of

MIN_RANGE = 32 * 1024 * 1024  # a range smaller than this costs about as much to fork and merge as it saves
MAX_RANGES = 4  # a range process holds a few MiB of its own (1 MiB reads, their copies) and its counters: 4 stay under 200 MiB
_SEEK_STEP = 64 * 1024


def processes():
    """The CPUs this process may run on (its affinity where the OS tells it, else os.cpu_count())."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def line_start_at_or_after(fd, offset, size):
    """The offset of the first line start at or after offset (0, or just after a newline); size when there is none."""
    if offset <= 0:
        return 0
    pos = offset - 1  # a newline just before offset makes offset itself a line start
    while pos < size:
        piece = os.pread(fd, min(_SEEK_STEP, size - pos), pos)
        if not piece:
            break
        cut = piece.find(b"\n")
        if cut >= 0:
            return pos + cut + 1
        pos += len(piece)
    return size


def byte_ranges(fd, size, parts):
    """[(start, end), ...]: size bytes cut into at most `parts` ranges of whole lines, in order; a cut that falls in
    a line moves to the next line start, so a range may come out empty and is dropped."""
    cuts = [0] + [line_start_at_or_after(fd, size * part // parts, size) for part in range(1, parts)] + [size]
    return [(start, end) for start, end in zip(cuts, cuts[1:]) if end > start]


class RangeBlocks:
    """(first_line_number, block, overlong, lines) of bytes [start, end) of fd, as log_file.line_blocks gives them
    for a whole file (line numbers from 1 at start); .newlines is the count of newlines read, once iterated (exact
    for a range that ends with a newline, as every range but a file's last does: the last one's is never used)."""

    def __init__(self, fd, start, end, max_line, chunk_size=BLOCK_SIZE):
        self.fd, self.start, self.end = fd, start, end
        self.max_line, self.chunk_size = max_line, chunk_size
        self.newlines = 0

    def __iter__(self):
        # the newlines from the line numbers blocks_of counts anyway (a count of each read would be one more pass):
        # after the last block, the next line's number is its first + its lines, + 1 past a skipped overlong line
        for first, block, overlong, lines in blocks_of(self._chunks(), self.max_line, counted=True):
            self.newlines = first + lines + (1 if overlong else 0) - 1
            yield first, block, overlong, lines

    def _chunks(self):
        pos, end = self.start, self.end
        while pos < end:
            chunk = os.pread(self.fd, min(self.chunk_size, end - pos), pos)
            if not chunk:
                break
            pos += len(chunk)
            yield chunk


def _scan_range(findings, path, fd, start, end, max_line):
    """A fresh findings' tally of one range, and the newlines in it (what moves the next range's line numbers). The
    range's candidate lines are named by the host's grep when it can (log_grep), else by log_prefilter."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_grep import start_grep

    part = findings.fresh()
    blocks = RangeBlocks(fd, start, end, max_line, BLOCK_SIZE)  # BLOCK_SIZE looked up here: tests make it small
    grep = start_grep(part.prefilter, part.heads, fd, start, end, max_line)
    try:
        part.feed_blocks(path, blocks, grep)
    finally:
        if grep is not None:
            grep.close()
    return part.tally(), blocks.newlines


def _child(findings, path, fd, start, end, max_line, write):
    """In a forked process: scan one range, send ("ok", tally, newlines) or ("error", message) down the pipe, and
    leave without running anything of the parent's (os._exit)."""
    import pickle

    status = 0
    try:
        try:
            payload = ("ok",) + _scan_range(findings, path, fd, start, end, max_line)
        except LogFileError as exc:
            payload = ("error", exc.msg)
        except OSError as exc:
            payload = ("error", "reading log file %s failed: %s" % (path, exc.strerror or exc))
        except Exception as exc:  # anything else still reaches the parent as a message, never as a hang
            payload = ("error", "scanning a range of log file %s failed: %s" % (path, exc))
        with os.fdopen(write, "wb") as out:
            out.write(pickle.dumps(payload, pickle.HIGHEST_PROTOCOL))
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _grep_may_pay(findings):
    """Whether the host's grep may name a file's lines for findings' searches (log_grep)."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_grep import grep_program

    return findings.prefilter.grep_pattern() is not None and grep_program() is not None


def scan_in_ranges(findings, path, max_line, min_range=None, cpus=None):
    """Count the log at path into findings over its byte ranges, one process a range; True when done, False (nothing
    counted) when the caller must read it in one pass. min_range, cpus: MIN_RANGE and processes() (tests)."""
    cpus = processes() if cpus is None else cpus
    min_range = MIN_RANGE if min_range is None else min_range
    forks = cpus >= 2 and hasattr(os, "fork")
    if not forks and not _grep_may_pay(findings):
        return False
    fd = open_log(path)
    children = []
    try:
        size = os.fstat(fd).st_size
        parts = min(cpus, MAX_RANGES, size // min_range) if forks else 1
        ranges = byte_ranges(fd, size, parts) if parts >= 2 else []
        if len(ranges) < 2:
            from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_grep import MIN_BYTES

            if size < MIN_BYTES or not _grep_may_pay(findings):
                return False
            ranges = [(0, size)]  # one range, here: grep names its lines
        import pickle  # here: a small log (most runs) never pays its import

        for start, end in ranges[1:]:
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read)
                _child(findings, path, fd, start, end, max_line, write)
            os.close(write)
            children.append([pid, read])
        tallies = [_scan_range(findings, path, fd, ranges[0][0], ranges[0][1], max_line)]
        for child in children:
            with os.fdopen(child[1], "rb") as handle:
                child[1] = None
                data = handle.read()
            if not data:
                raise LogFileError("scanning a range of log file %s failed: its process ended without a result" % path)
            payload = pickle.loads(data)
            if payload[0] != "ok":
                raise LogFileError(payload[1])
            tallies.append(payload[1:])
    finally:
        for child in children:
            if child[1] is not None:
                os.close(child[1])
            try:
                os.waitpid(child[0], 0)
            except ChildProcessError:
                pass
        os.close(fd)
    if any(findings.over_cap(tally) for tally, dummy in tallies):
        return False
    counts = findings.start_file(path)
    lines_before = 0
    for tally, newlines in tallies:
        findings.absorb(counts, tally, lines_before)
        lines_before += newlines
    return True
