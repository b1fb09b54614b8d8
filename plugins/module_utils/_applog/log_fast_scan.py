# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a block of JSON lines without parsing each one: which blocks can be read that way, their times, and
cutting the others down to the lines that must be parsed.

A segment (whole lines joined by newlines) is read by bytes when all of this holds: it is ASCII, it has no \\u
escape, no line is over max_line bytes, and every line starts with {"<time key>": "<UTC time in the form
2026-11-23T10:00:00.123Z>" (one space after the colon or none), the time key being the first of the time field's
names the segment holds, none of the names before it appearing in it at all, and its last line ends with } (a
partial last line, a write under way, is parsed). Then every line is dated, its time
is those 24 bytes (as json.loads would read them: no escape in them), and lines are placed against the window by
comparing bytes, min and max first (logs are nearly in time order, so a segment is mostly all in or all out).

Any other segment is split in two at a newline near its middle and each half tried again, down to SMALLEST bytes;
then its lines are parsed one by one (the reference path). So a few odd lines cost a few small parsed pieces, a log
of another form is parsed whole (correct, slower).

What the bytes path takes on trust (the exact path, parse_every_line, parses each line): a line it does not parse,
because no search named it (log_prefilter), is taken as a JSON object. A line that starts as above but is not JSON
after all (two writes run together, a raw control character in a string) is then counted by its time instead of
under skipped_bad_json, and a line that repeats its time key later (JSON where the last of two equal names wins) is
placed by the first. No finding differs: every line a search names is parsed as the reference path parses it.

The lines a search names are parsed by scan_once, the scanner json.loads itself ends in, at their start in the
segment decoded once (log_findings checks that the value ends where the line ends, and hands any other line to
json.loads): json.loads' values and errors at half its cost a line. No Ansible here.
"""

from __future__ import annotations

import json
import re
import sys

SMALLEST = 64 * 1024
MANY_BACKSLASHES = 4096
_TS = rb'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"'


class SegmentHeads:
    """timestamps(segment, lines) -> the time (24 bytes) of every line when the segment can be read by bytes, else
    None: the lines after the first in order, then the first's. time_paths: the time field's names, in the order
    the getter tries them."""

    def __init__(self, time_paths, max_line):
        self.max_line = max_line
        self.names = list(time_paths)
        self.compiled = {}

    def _heads(self, name):
        found = self.compiled.get(name)
        if found is None:
            key = re.escape(b'"' + name.encode("ascii") + b'":')
            space = rb" ?+" if sys.version_info >= (3, 11) else rb" ?"  # possessive: a tenth sooner, same matches
            found = (re.compile(rb"\{" + key + space + rb'"' + _TS), re.compile(rb"\n\{" + key + space + rb'"' + _TS))
            self.compiled[name] = found
        return found

    def time_key(self, segment):
        """The time key segment's lines start with (the first of names it holds), or None: a name with a character
        JSON may escape or a dot, or none the segment starts with."""
        for index, name in enumerate(self.names):
            if not name.isascii() or "." in name or '"' in name or "\\" in name:
                return None
            if segment.startswith(b'{"' + name.encode("ascii") + b'"'):
                for earlier in self.names[:index]:
                    for part in (earlier, earlier.split(".")[0]):
                        if b'"' + part.encode("utf-8") + b'"' in segment:
                            return None
                return name
        return None

    def long_line(self, segment):
        """Whether a line of segment is over max_line bytes (a jump of max_line bytes at a time)."""
        max_line = self.max_line
        size = len(segment)
        start = 0
        while size - start > max_line:
            cut = segment.rfind(b"\n", start, start + max_line + 1)
            if cut < 0:
                return True
            start = cut + 1
        return False

    def timestamps(self, segment, lines):
        if not segment.isascii() or not segment.rstrip(b" \t\r").endswith(b"}"):
            return None
        if has_unicode_escape(segment):
            return None
        if len(segment) > self.max_line and self.long_line(segment):
            return None
        name = self.time_key(segment)
        if name is None:
            return None
        first, rest = self._heads(name)
        head = first.match(segment)
        if head is None:
            return None
        stamps = rest.findall(segment)
        if len(stamps) + 1 != lines:
            return None
        stamps.append(head.group(1))
        return stamps

    def inside_by_prefix(self, segment, lines, name, since, until):
        """How many of segment's lines are in [since, until] (bytes; None for an open end) when grep checked every
        line's head (log_grep: a line whose head is not {"<name>": "<time>" was named, and is parsed), told without
        reading each time: all of them, none, or None when a count cannot tell. The lines' times share the prefix
        of the first and the last line's (a count says so: logs are nearly in time order); every time with that
        prefix is inside the window, or none is."""
        if since is None and until is None:
            return lines
        for key in (b'{"' + name + b'": "', b'{"' + name + b'":"'):
            if segment.startswith(key):
                break
        else:
            return None
        last = segment.rfind(b"\n") + 1
        if not segment.startswith(key, last):
            return None
        size = len(key)
        low, high = segment[size:size + 24], segment[last + size:last + size + 24]
        common = 0
        while common < 24 and low[common:common + 1] == high[common:common + 1]:
            common += 1
        prefix = low[:common]
        if segment.count(b"\n" + key + prefix) != lines - 1:
            return None
        if (since is None or since <= prefix) and (until is None or until[:common] > prefix):
            return lines
        if (until is not None and until < prefix) or (since is not None and since[:common] > prefix):
            return 0
        return None


def has_unicode_escape(segment):
    """Whether segment holds a backslash followed by u (a \\u escape, or a literal backslash before a u: either way
    the bytes path is not taken). Found backslash by backslash (memchr; a log has few: the bench's errors, two a
    line), past MANY_BACKSLASHES by one search for the pair: that search alone reads an 8 MiB block in 8 ms, a
    two-byte needle barely skips ahead."""
    find = segment.find
    at = find(b"\\")
    left = MANY_BACKSLASHES
    while at >= 0:
        if segment[at + 1:at + 2] == b"u":
            return True
        left -= 1
        if not left:
            return find(b"\\u", at) >= 0
        at = find(b"\\", at + 1)
    return False


# json.loads(line) ends in this scanner (the default decoder's, with the same settings); the lines of a segment read
# by bytes are parsed by it directly, at their start in the segment decoded once: no slice, no guess of the
# encoding, no wrappers (half the cost of json.loads a line). log_findings checks that the value ends where the line
# does, and gives any other line (an error, trailing bytes, a CR) to json.loads itself.
scan_once = json.JSONDecoder().scan_once


def line_starts(segment):
    """The start offset of every line of segment."""
    starts = [0]
    find = segment.find
    at = find(b"\n")
    while at >= 0:
        starts.append(at + 1)
        at = find(b"\n", at + 1)
    return starts


def split_segment(segment):
    """segment cut in two at the newline nearest its middle (left, right, lines in left), or None when it is one
    line."""
    middle = len(segment) // 2
    cut = segment.find(b"\n", middle)
    if cut < 0:
        cut = segment.rfind(b"\n", 0, middle)
        if cut < 0:
            return None
    left = segment[:cut]
    return left, segment[cut + 1:], left.count(b"\n") + 1


def count_inside(stamps, since, until):
    """How many of stamps (24-byte times) are in [since, until] (bytes; None for an open end)."""
    if since is None and until is None:
        return len(stamps)
    low, high = min(stamps), max(stamps)
    if (since is None or low >= since) and (until is None or high <= until):
        return len(stamps)
    if (since is not None and high < since) or (until is not None and low > until):
        return 0
    if since is None:
        return sum(1 for stamp in stamps if stamp <= until)
    if until is None:
        return sum(1 for stamp in stamps if stamp >= since)
    return sum(1 for stamp in stamps if since <= stamp <= until)
