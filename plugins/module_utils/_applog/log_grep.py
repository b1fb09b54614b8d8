# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The candidate lines of a byte range of a log named by the host's grep: log_prefilter's searches, and the check of
every line's head that log_fast_scan makes, in one pass in C in a process beside the Python one.

Why: in Python each of log_prefilter's searches is a pass over the block (a dozen at 1.5 to 3 GB/s, with the heads'
regex about 60 % of a range's CPU in the bench's log); GNU grep -E runs them all as one automaton (about 0.4 GB/s of
CPU for the bench's searches, a third of what the Python passes cost). grep is an Essential package on Debian; a
host without it, or a grep that fails, leaves the Python searches in charge, with the same result.

start_grep() starts GrepLines(program, fd, start, end, pattern, max_line) for a range of MIN_BYTES or more: grep -a
-n -b -E -e <pattern> reads bytes [start, end) of fd from a pipe a thread fills with os.sendfile (grep never opens
the log by name; an argument list, no shell, the pattern after -e: a module that runs as root hands no text of the
log's or the options' to a shell), LC_ALL=C (bytes, not characters), its address space capped (a huge line fails
grep, not the host's memory). When the range's first line says which time key the log uses, the pattern also names
every line that does not start as the bytes path needs ({"<key>": "<time>", odd_head_ere) and every line holding a
time key read before it: then .checked is True and log_findings need not read each line's head (its window test is
a count: log_fast_scan.SegmentHeads.inside_by_prefix).

grep's output is read as the Python side asks, segment by segment in file order: numbered(offset, segment, first,
lines) gives the (line number, start, end, EVERY_CHECK) of the lines of segment (the bytes at offset from the range's
start, its first line numbered first) that grep named (each is judged for every check: grep does not say which
search named it), or None when grep cannot tell: it failed or was cut short, or it said something that does not
line up with the segment (an offset that is not a line start, a length that does not end at a newline, a line
number outside the segment; a number inside the segment is trusted where the offsets line up). From a None on, the
caller reads heads and searches by Python. No Ansible here.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_prefilter import EVERY_CHECK, ere_literal

GREP_PROGRAMS = ("/usr/bin/grep", "/bin/grep")  # never a grep found on PATH: the module may run as root
MIN_BYTES = 8 * 1024 * 1024  # below this a grep process (about 2 ms to start) does not pay
READ = 256 * 1024
LONG_OUTPUT = 64 * 1024  # an output line longer than this is not held: its number and offset, then its length
SEND = 1024 * 1024
PIPE_SIZE = 1024 * 1024  # grep's pipes: its output waits in fewer, larger reads while Python parses lines
_SET_PIPE_SIZE = 1031  # fcntl.F_SETPIPE_SZ (Linux), not named by fcntl before Python 3.10


def grep_program():
    """The host's grep (an absolute path), or None."""
    for path in GREP_PROGRAMS:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


_TIME = b"dddd-dd-ddTdd:dd:dd.dddZ"  # log_fast_scan's time form, d a digit


def odd_head_ere(name):
    """A POSIX extended regex (grep's) for a line that does not start as log_fast_scan's bytes path needs every
    line to: {"<name>": "<time>" (one space after the colon or none; the time in _TIME's form). Built from the end:
    a line is odd at the first byte that is not the head's (or where the line ends before the head does)."""
    head = [(ere_literal(bytes((c,))), b"[^" + bytes((c,)) + b"]") for c in b'{"' + name + b'":']
    head.append((None, None))  # the optional space
    head.append((b'"', b'[^"]'))
    head += [(b"[0-9]", b"[^0-9]") if c == ord("d") else (ere_literal(bytes((c,))), b"[^" + bytes((c,)) + b"]")
             for c in _TIME]
    head.append((b'"', b'[^"]'))

    def rest_not(index):
        """The rest of a line from head[index] on that does not start with head[index:]; None past the end."""
        if index == len(head):
            return None
        literal, other = head[index]
        if literal is None:  # ' ?"...': a space and then no '"...', or no space and no '"...'
            return b" (" + rest_not(index + 1) + b')|$|[^ "]|"(' + rest_not(index + 2) + b")"
        after = rest_not(index + 1)
        return b"$|" + other + (b"|" + literal + b"(" + after + b")" if after is not None else b"")

    return b"^(" + rest_not(0) + b")"


def start_grep(prefilter, heads, fd, start, end, max_line):
    """A GrepLines for bytes [start, end) of fd with prefilter's searches, or None when it does not pay or cannot
    run (a small range, every line a candidate, no grep, no process). heads: the findings' SegmentHeads; when the
    range's first line says which time key the log uses, grep also names every line the bytes path could not read
    by its head (odd_head_ere, and a line holding a time key heads would look at first), and .checked is True."""
    if end - start < MIN_BYTES:
        return None
    pattern = prefilter.grep_pattern()
    program = grep_program()
    if pattern is None or program is None:
        return None
    name = heads.time_key(os.pread(fd, 4096, start).split(b"\n", 1)[0])
    if name is not None and not all(item.isprintable() for item in heads.names[:heads.names.index(name) + 1]):
        name = None  # a control character (a newline) in a key: not in a pattern grep reads line by line
    if name is not None:
        earlier = heads.names[:heads.names.index(name)]
        pattern = b"|".join([pattern, odd_head_ere(name.encode("ascii"))] + [
            ere_literal(b'"' + part.encode("utf-8") + b'"') for item in earlier for part in (item, item.split(".")[0])])
    try:
        grep = GrepLines(program, fd, start, end, pattern, max_line, checked=name is not None)
    except OSError:
        return None
    grep.time_key = name.encode("ascii") if name is not None else None
    return grep


def _grow(pipe):
    """Make a pipe hold PIPE_SIZE bytes where the system lets it (else it stays as it is)."""
    try:
        import fcntl  # Linux: the host this grep path is for; elsewhere the pipe keeps its size

        fcntl.fcntl(pipe, _SET_PIPE_SIZE, PIPE_SIZE)
    except (ImportError, OSError):
        pass


def _copy(write, fd, pos, count):
    """Bytes [pos, pos + count) of fd into write: sendfile (no copy through Python), else pread and write.
    Returns the bytes sent (0 at the file's end)."""
    try:
        return os.sendfile(write, fd, pos, count)
    except OSError as exc:
        if exc.errno not in (22, 38):  # EINVAL, ENOSYS: this kernel cannot send a file to a pipe
            raise
    data = os.pread(fd, count, pos)
    view = memoryview(data)
    while view:
        view = view[os.write(write, view):]
    return len(data)


class GrepLines:
    """grep's candidate lines of one byte range, read as numbered() asks (see the module docstring); close() when
    done (also on error: it ends grep and the thread that feeds it)."""

    def __init__(self, program, fd, start, end, pattern, max_line, checked=False):
        limit = 48 * 1024 * 1024 + 3 * max_line
        setrlimit, address_space = resource.setrlimit, resource.RLIMIT_AS

        def capped():  # in the child before grep starts: no import there
            setrlimit(address_space, (limit, limit))

        read, write = os.pipe()
        _grow(write)
        try:
            self.proc = subprocess.Popen(
                [program, "-a", "-n", "-b", "-E", "-e", pattern], stdin=read, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, env={"LC_ALL": "C"}, close_fds=True, preexec_fn=capped)
        except BaseException:
            os.close(write)
            raise
        finally:
            os.close(read)
        self.out = self.proc.stdout.fileno()
        _grow(self.out)
        self.checked = checked  # every line whose head the bytes path could not read is named too
        self.short = False  # the feed ended before the range's end (the file shrank, grep went away)
        self.failed = False
        self.ended = False  # grep's output all read, and grep ended well
        self.entries = []   # (line number, start, length) read, not yet given
        self.index = 0
        self.rest = b""
        self.long = None    # inside an output line over LONG_OUTPUT: [number, start, length so far]
        self.feeder = threading.Thread(target=self._feed, args=(fd, start, end, write), daemon=True)
        self.feeder.start()

    def _feed(self, fd, start, end, write):
        pos = start
        try:
            while pos < end:
                sent = _copy(write, fd, pos, min(SEND, end - pos))
                if not sent:
                    self.short = True
                    break
                pos += sent
        except OSError:
            self.short = True
        finally:
            os.close(write)

    @staticmethod
    def _parse(line):
        first = line.find(b":")
        second = line.find(b":", first + 1)
        if first <= 0 or second < 0:
            raise ValueError("not grep -n -b output")
        return int(line[:first]), int(line[first + 1:second]), len(line) - second - 1

    def _more(self):
        """Read one more piece of grep's output into entries; False at its end (ended or failed then set)."""
        data = os.read(self.out, READ)
        if not data:
            code = self.proc.wait()
            self.feeder.join()
            if code in (0, 1) and not self.short and not self.rest and self.long is None:
                self.ended = True
            else:
                self.failed = True
            return False
        if self.long is not None:
            cut = data.find(b"\n")
            if cut < 0:
                self.long[2] += len(data)
                return True
            number, start, length = self.long
            self.entries.append((number, start, length + cut))
            self.long = None
            data = data[cut + 1:]
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()
        parse = self._parse
        self.entries += [parse(line) for line in lines]
        if len(self.rest) > LONG_OUTPUT:
            second = self.rest.find(b":", self.rest.find(b":") + 1)
            self.long = list(parse(self.rest[:second + 1]))
            self.long[2] = len(self.rest) - second - 1
            self.rest = b""
        return True

    def numbered(self, offset, segment, first, lines):
        if self.failed:
            return None
        size = len(segment)
        stop = offset + size
        out = []
        try:
            while True:
                entries = self.entries
                index = self.index
                count = len(entries)
                while index < count:
                    number, start, length = entries[index]
                    if start >= stop:
                        break
                    index += 1
                    if start < offset:
                        continue  # a line of a part the caller parsed whole
                    at = start - offset
                    end = at + length
                    if not (first <= number < first + lines and (at == 0 or segment[at - 1] == 10)
                            and (end == size or (end < size and segment[end] == 10))):
                        self.failed = True
                        return None
                    out.append((number, at, end, EVERY_CHECK))
                if index < count:
                    self.index = index
                    return out
                del entries[:]
                self.index = 0
                if self.ended:
                    return out
                if not self._more():
                    return out if self.ended else None
        except ValueError:
            self.failed = True
            return None

    def close(self):
        """End grep (when it is still reading: the caller is done) and its feeder; wait for both."""
        proc = self.proc
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.wait()
        self.feeder.join()
