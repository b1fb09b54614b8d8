# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The window a query_range covers: its start and end (RFC 3339, C(now) or relative like C(-2h)), its step, and how
many points a series that makes, refused over a bound before Prometheus is asked."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION = re.compile(r"([0-9]+)([smhdw])")
RELATIVE = re.compile(r"-([0-9]+)([smhdw])")
RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})")


def parse_duration(text, what):
    """Seconds of `90s`, `5m`, `1h`, `7d`, `1w` or a whole number of seconds; ValueError naming `what`."""
    text = str(text)
    if text.isdigit() and int(text) > 0:
        return int(text)
    match = DURATION.fullmatch(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError("%s must be a duration like 60s, 5m, 1h or 1d (a whole number and one unit of s, m, h, d, "
                         "w), got %r" % (what, text))
    return int(match.group(1)) * UNITS[match.group(2)]


def parse_instant(text, now, what):
    """Epoch seconds of an RFC 3339 time (`2025-01-15T10:00:00Z`), `now`, or `-2h` (before now); ValueError naming
    `what`. A time without a zone is refused: a window must not depend on the controller's clock zone."""
    text = str(text)
    if text == "now":
        return float(math.floor(now))
    match = RELATIVE.fullmatch(text)
    if match:
        return float(math.floor(now) - int(match.group(1)) * UNITS[match.group(2)])
    if RFC3339.fullmatch(text):
        stamp = text.upper().replace(" ", "T").replace("Z", "+00:00")
        fraction = re.search(r"\.[0-9]+", stamp)
        if fraction:  # fromisoformat of Python 3.10 takes 3 or 6 digits only
            stamp = stamp.replace(fraction.group(0), (fraction.group(0) + "000000")[:7])
        return datetime.fromisoformat(stamp).timestamp()
    raise ValueError("%s must be an RFC 3339 time with its zone (2025-01-15T10:00:00Z), now, or a time before now "
                     "like -2h or -7d, got %r" % (what, text))


def rfc3339(epoch):
    """`2025-01-15T10:00:00Z` (fractions of a second kept only when there are some)."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += (".%06d" % moment.microsecond).rstrip("0")
    return text + "Z"


def step_text(seconds):
    for unit in ("w", "d", "h", "m"):
        if seconds % UNITS[unit] == 0:
            return "%d%s" % (seconds // UNITS[unit], unit)
    return "%ds" % seconds


class Window:
    """start and end (epoch seconds) and step (seconds): the points start, start+step, ... up to end."""

    def __init__(self, start, end, step):
        self.start, self.end, self.step = start, end, step

    @property
    def points(self):
        return int((self.end - self.start) // self.step) + 1

    def as_dict(self):
        return dict(start=rfc3339(self.start), end=rfc3339(self.end), step=step_text(self.step),
                    step_seconds=self.step, points=self.points)


def build_window(start, end, step, max_points, now):
    """A Window from the options' texts; ValueError when a text is bad, the end is before the start, or a series
    would have more than max_points points (saying the step that would fit)."""
    window = Window(parse_instant(start, now, "start"), parse_instant(end, now, "end"), parse_duration(step, "step"))
    if window.end < window.start:
        raise ValueError("the window ends (%s) before it starts (%s)" % (rfc3339(window.end), rfc3339(window.start)))
    if window.points > max_points:
        fits = int(math.ceil((window.end - window.start) / max(max_points - 1, 1)))
        raise ValueError("the window %s to %s at a step of %s would be %d points a series, over max_points %d: give a "
                         "step of %ds or more, or a shorter window"
                         % (rfc3339(window.start), rfc3339(window.end), step_text(window.step), window.points,
                            max_points, fits))
    return window
