# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a log line's time falls against the scanned window: before it, in it, after it, or undated.

A time is ISO-8601 text (``2026-11-23T10:00:00.123Z``, ``...+03:00``, ``2026-11-23 10:00:00,123``; no offset means
UTC) compared as text in the audit's form (``_audit/window.py``: ts_key, format_ts), or an epoch number (or digits
as text) in seconds, milliseconds (pino), microseconds or nanoseconds, told apart by size and compared as seconds.
The window is [since, until], both included (until is now: a line stamped later, from a host whose clock runs
ahead, is after the window). No Ansible here.
"""

from __future__ import annotations

import datetime
import math
import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.window import (
    UTC,
    format_ts,
    parse_duration,
    ts_key,
)

BEFORE, INSIDE, AFTER = -1, 0, 1
_EPOCH_TEXT = re.compile(r"^\s*\d{9,19}(?:\.\d+)?\s*$")


def epoch_seconds(raw):
    """An epoch time (number, or digits as text) -> seconds (float), or None. Sizes: from 1e17 nanoseconds, from
    1e14 microseconds, from 1e11 milliseconds (1973 on), else seconds."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        if not _EPOCH_TEXT.match(raw):
            return None
        raw = float(raw)
    elif not isinstance(raw, (int, float)):
        return None
    value = float(raw)
    if not math.isfinite(value) or value <= 0:
        return None
    if value >= 1e17:
        return value / 1e9
    if value >= 1e14:
        return value / 1e6
    if value >= 1e11:
        return value / 1e3
    return value


class LineWindow:
    """since/until (aware datetimes, None for an open window) and place(raw time) -> BEFORE, INSIDE, AFTER or None
    (undated: no time, or not one that can be read)."""

    def __init__(self, since=None, until=None):
        self.since = since
        self.until = until
        self.since_text = format_ts(since) if since is not None else None
        self.until_text = format_ts(until) if until is not None else None
        self.since_epoch = since.timestamp() if since is not None else None
        self.until_epoch = until.timestamp() if until is not None else None

    @property
    def open(self):
        return self.since is None and self.until is None

    def as_dict(self):
        return {"from": self.since_text, "to": self.until_text}

    def place(self, raw):
        if isinstance(raw, str):
            key = ts_key(raw)
            if key is not None and len(key) == 24:
                if self.since_text is not None and key < self.since_text:
                    return BEFORE
                if self.until_text is not None and key > self.until_text:
                    return AFTER
                return INSIDE
        seconds = epoch_seconds(raw)
        if seconds is None:
            return None
        if self.since_epoch is not None and seconds < self.since_epoch:
            return BEFORE
        if self.until_epoch is not None and seconds > self.until_epoch:
            return AFTER
        return INSIDE


def last_window(last=None, now=None):
    """The LineWindow of the option last ('12h', '30m', '1d': the span back from now), or an open one without it.
    A bad duration raises _audit.window.AuditWindowError (its msg names the option)."""
    if not last:
        return LineWindow()
    now = (now or datetime.datetime.now(UTC)).astimezone(UTC)
    return LineWindow(now - parse_duration(last, "last"), now)
