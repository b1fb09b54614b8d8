# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The newest lines of a JSON-lines log that match (the seed's `tail | grep -i error`, `tail | grep SECURITY`),
read from the end in bounded memory."""

from __future__ import annotations

import json
import os
import stat

CHUNK = 64 * 1024


def tail_lines(path, want, max_bytes):
    """Up to `want` of the last complete lines of path, reading at most max_bytes back from its end. A link, FIFO or
    anything but a regular file is refused (OSError), and no open ever waits."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError("%s: not a regular file" % path)
        end = info.st_size
        start = max(0, end - max_bytes)
        pos, data = end, b""
        while pos > start and data.count(b"\n") <= want:
            size = min(CHUNK, pos - start)
            pos -= size
            os.lseek(fd, pos, os.SEEK_SET)
            data = os.read(fd, size) + data
    finally:
        os.close(fd)
    lines = data.split(b"\n")
    if pos > 0:
        lines = lines[1:]  # the first one is cut
    return [line.decode("utf-8", "replace") for line in lines if line.strip()][-want:] if want > 0 else []


def record_of(line):
    """The JSON object of a line, or None."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def is_error(line, levels):
    """A line at one of levels (any case); a line that is not JSON counts when it says `error` (grep -i)."""
    record = record_of(line)
    if record is None:
        return "error" in line.lower()
    return str(record.get("level", "")).lower() in levels


def is_security_event(line, events):
    """A line whose event is one of events; a line that is not JSON counts when it holds one (grep)."""
    record = record_of(line)
    if record is None:
        return any(event in line for event in events)
    return str(record.get("event", "")) in events


def matching_tail(path, last, keep, max_bytes):
    """(the lines among the last `last` lines of path for which keep(line) is true, how many lines were read)."""
    lines = tail_lines(path, last, max_bytes)
    return [line for line in lines if keep(line)], len(lines)
