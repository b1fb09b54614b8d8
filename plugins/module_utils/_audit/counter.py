# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Counter: key -> count with at most cap distinct keys (the rest under OTHER), so memory stays bounded on
hostile input. audit_scan's findings and app_log_scan's (_applog/log_findings) count with it; it lives apart
from findings.py so that app_log_scan does not compile audit_scan's findings (the AnsiballZ payload keeps no .pyc).
"""

from __future__ import annotations

import json

MAX_KEYS = 100000
OTHER = "(other)"


def key_text(value):
    """A key as the result shows it: str, or None."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else json.dumps(value)


class Counter:
    """key -> count with at most cap distinct keys (the rest under OTHER)."""

    def __init__(self, cap=MAX_KEYS):
        self.counts = {}
        self.cap = cap
        self.truncated = False

    def add(self, key, amount=1):
        counts = self.counts
        if key in counts:
            counts[key] += amount
        elif len(counts) < self.cap:
            counts[key] = amount
        else:
            self.truncated = True
            counts[OTHER] = counts.get(OTHER, 0) + amount

    def total(self):
        return sum(self.counts.values())

    def top(self, limit):
        items = sorted(self.counts.items(), key=lambda item: (-item[1], repr(item[0])))
        return [{"key": key if isinstance(key, tuple) else key_text(key), "count": count} for key, count in items[:limit]]
