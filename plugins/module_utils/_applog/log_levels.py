# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A log line's level as one lowercase name: text levels in any case, pino's numeric levels by their names.

pino writes numbers: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal (a number in between takes the name
of the level below it). A number given as text ("50") is read the same way. No Ansible here.
"""

from __future__ import annotations

PINO = ((60, "fatal"), (50, "error"), (40, "warn"), (30, "info"), (20, "debug"))
MAX_CACHED = 1000


def pino_name(number):
    for floor, name in PINO:
        if number >= floor:
            return name
    return "trace"


def level_name(raw):
    """'ERROR' -> 'error', 50 -> 'error', '60' -> 'fatal'; None for no level (missing, empty, a bool, an object)."""
    if isinstance(raw, str):
        text = raw.strip().lower()
        if not text:
            return None
        if text.isdigit():
            return pino_name(int(text))
        return text
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    return pino_name(raw)


class LevelNames:
    """level_name() with a bounded cache of the text levels seen (a log has a handful)."""

    def __init__(self):
        self.cache = {}

    def __call__(self, raw):
        if isinstance(raw, str):
            found = self.cache.get(raw)
            if found is None:
                found = level_name(raw)
                if len(self.cache) < MAX_CACHED:
                    self.cache[raw] = found
            return found
        return level_name(raw)
