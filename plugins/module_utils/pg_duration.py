# -*- coding: utf-8 -*-
# Copyright: mcpops-runbooks engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durations as operators write them: `90s`, `10m`, `1h`, `1h30m`, `2d`, or a bare number of seconds."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?[smhdw])+$")


class DurationError(ValueError):
    pass


def parse_duration(text, name="duration"):
    """Seconds (float) from '10m', '1h30m', '45' (seconds); DurationError naming `name` otherwise."""
    value = str(text).strip().lower().replace(" ", "")
    if re.match(r"^\d+(?:\.\d+)?$", value):
        return float(value)
    if not WHOLE.match(value):
        raise DurationError("%s %r: expected a duration such as 90s, 10m, 1h, 1h30m or 2d" % (name, text))
    return float(sum(float(n) * UNITS[unit] for n, unit in PART.findall(value)))
