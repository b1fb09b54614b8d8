# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""audit_scan's time window: since/until (ISO-8601) or last (1h, 30m, 2d) -> UTC bounds.

Bounds are strings in the audit's own timestamp form, `2026-11-23T10:00:00.123Z` (UTC, milliseconds, Z),
so that a line's `ts` can be compared with them as a plain string: no datetime parsing per line.
`ts_key(raw)` turns any other ISO form a line may carry (no fraction, offsets, microseconds) into that form.
The window is [since, until): since included, until excluded. No Ansible here.
"""

from __future__ import annotations

import datetime
import re

UTC = datetime.timezone.utc
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)


class AuditWindowError(ValueError):
    """A bad since/until/last/baseline value: msg names the option, the value and the accepted forms."""

    def __init__(self, msg):
        super(AuditWindowError, self).__init__(msg)
        self.msg = msg


def parse_duration(value, option="last"):
    """'90s', '30m', '1h', '2d', '1w' -> datetime.timedelta (> 0)."""
    match = _DURATION.match(str(value)) if value is not None else None
    if not match or int(match.group(1)) <= 0:
        raise AuditWindowError(
            "%s: %r is not a duration; use a positive number and one unit of s, m, h, d or w, "
            "for example 30m, 1h, 2d" % (option, value)
        )
    return datetime.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def parse_time(value, option="since"):
    """ISO-8601 text ('2026-11-23T10:00:00Z', '...+03:00', '2026-11-23') -> aware UTC datetime.
    A time without an offset is taken as UTC."""
    match = _ISO.match(str(value).strip()) if value is not None else None
    if not match:
        raise AuditWindowError(
            "%s: %r is not an ISO-8601 time; use for example 2026-11-23T10:00:00Z, "
            "2026-11-23T13:00:00+03:00 or 2026-11-23" % (option, value)
        )
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        when = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                                 int(second or 0), micro, tzinfo=UTC)
    except ValueError as exc:
        raise AuditWindowError("%s: %r is not a valid time: %s" % (option, value, exc))
    if offset and offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        when -= sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return when


def format_ts(when):
    """Aware datetime -> '2026-11-23T10:00:00.123Z' (the audit's form; sorts as text)."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (when.microsecond // 1000)


def ts_key(raw):
    """A line's ts as a comparable string, or None when it is not a time. The audit's own form is
    returned as is (the fast path); anything else goes through parse_time."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(raw, str):
        return None
    if len(raw) == 24 and raw[19] == "." and raw[23] == "Z" and raw[10] == "T":
        return raw
    try:
        return format_ts(parse_time(raw, "ts"))
    except AuditWindowError:
        return None


class Window:
    """since/until (strings, None = open) of the scanned window and of the baseline period before it."""

    def __init__(self, since, until, baseline_since=None, seconds=None, baseline_seconds=None):
        self.since = since
        self.until = until
        self.baseline_since = baseline_since
        self.seconds = seconds
        self.baseline_seconds = baseline_seconds

    @property
    def has_baseline(self):
        return self.baseline_since is not None

    def as_dict(self):
        return {"since": self.since, "until": self.until}

    def baseline_dict(self):
        if not self.has_baseline:
            return None
        return {"since": self.baseline_since, "until": self.since}


def resolve_window(since=None, until=None, last=None, baseline="7d", now=None):
    """The Window for the module's options. since and last exclude each other; last counts back from
    until (or now). Without since or last the window is open at the start (the whole file up to until)
    and there is no baseline period. baseline: a duration, or None/'' for none."""
    if since and last:
        raise AuditWindowError("since and last exclude each other: give a start time or a duration, not both")
    now = (now or datetime.datetime.now(UTC)).astimezone(UTC)
    until_dt = parse_time(until, "until") if until else None
    start = None
    if last:
        start = (until_dt or now) - parse_duration(last, "last")
    elif since:
        start = parse_time(since, "since")
    if start is not None and until_dt is None:
        until_dt = now
    if start is not None and until_dt is not None and start >= until_dt:
        raise AuditWindowError(
            "the window is empty: since %s is not before until %s" % (format_ts(start), format_ts(until_dt))
        )
    window = Window(format_ts(start) if start else None, format_ts(until_dt) if until_dt else None)
    if start is not None:
        window.seconds = (until_dt - start).total_seconds()
        if baseline:
            span = parse_duration(baseline, "baseline")
            window.baseline_since = format_ts(start - span)
            window.baseline_seconds = span.total_seconds()
    return window
