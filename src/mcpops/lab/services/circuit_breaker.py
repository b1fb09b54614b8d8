"""A circuit breaker per datasource, as the seed backend keeps one for each MCP connector (Slack, GitHub, Jira):

- closed: calls go through; consecutive failures are counted, and the `threshold`-th opens the circuit;
- open: calls are refused at once, until `reset_seconds` have passed since it opened; then
- half_open: calls go through again as trials; a success closes it (failures back to 0), a failure opens it again.

State lives in memory (a restart resets every breaker: the runbook's manual reset). The clock is injectable (the
backend gives its instance clock, whose now() is seconds since the epoch; a test gives a fake one)."""

import threading
import time
from datetime import datetime, timezone

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATES = (CLOSED, OPEN, HALF_OPEN)


class CircuitBreaker:
    def __init__(self, name, threshold=5, reset_seconds=60.0, clock=time.time):
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.name = name
        self.threshold = int(threshold)
        self.reset_seconds = float(reset_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = None

    def _current(self):  # under the lock: an open circuit whose reset time has passed is half open
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_seconds:
            self._state = HALF_OPEN
        return self._state

    @property
    def state(self):
        with self._lock:
            return self._current()

    def allow(self):
        """True when a call may go through now (closed or half open)."""
        with self._lock:
            return self._current() != OPEN

    def record_success(self):
        with self._lock:
            self._state, self._failures, self._opened_at = CLOSED, 0, None

    def record_failure(self):
        """Count a failure; True when this failure opened the circuit (from closed or half open)."""
        with self._lock:
            state = self._current()
            self._failures += 1
            if state == HALF_OPEN or (state == CLOSED and self._failures >= self.threshold):
                self._state, self._opened_at = OPEN, self._clock()
                return True
            return False

    def snapshot(self):
        """{"circuit", "failures", "opened_at" (ISO UTC, or None)}."""
        with self._lock:
            state = self._current()
            opened = self._opened_at
            failures = self._failures
        return {"circuit": state, "failures": failures,
                "opened_at": None if opened is None else
                datetime.fromtimestamp(opened, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
