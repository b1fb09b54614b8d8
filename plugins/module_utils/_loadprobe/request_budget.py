# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bound of a probe phase: at most `count` requests, none started after `time_limit` seconds. Every worker asks
the one budget before each request, so no number of threads can send more than the count or start one late."""

from __future__ import annotations

import threading


class RequestBudget:
    """take() -> the request's index (0-based) when one more may start now, else None (count spent or time up)."""

    def __init__(self, count, time_limit, clock):
        self.count = count
        self.time_limit = time_limit
        self._clock = clock
        self._lock = threading.Lock()
        self._started = 0
        self._deadline = None
        self.timed_out = False

    def start(self):
        """Start the clock: the time limit counts from here."""
        self._deadline = self._clock() + self.time_limit

    def take(self):
        with self._lock:
            if self._deadline is None:
                raise RuntimeError("RequestBudget.take() before start()")
            if self._started >= self.count:
                return None
            if self._clock() >= self._deadline:
                self.timed_out = True
                return None
            index = self._started
            self._started += 1
            return index

    @property
    def started(self):
        with self._lock:
            return self._started

    @property
    def not_started(self):
        return self.count - self.started
