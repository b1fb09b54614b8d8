"""The memory-leak fault and the warning it should raise. `Ballast.grow(mb)` allocates mb MiB and touches every page
(so the RSS really grows, not just the address space) and keeps it until the process ends; `HighMemory` says when
to log "memory usage high": when the RSS first passes the threshold, and again at most once per `every` seconds while
it stays above."""

import threading
import time

from .http_app import rss_bytes

MIB = 1024 * 1024
PAGE = 4096


def rss_mb():
    return round(rss_bytes() / MIB, 1)


class Ballast:
    def __init__(self):
        self._chunks = []
        self._lock = threading.Lock()

    def grow(self, mb):
        size = int(mb * MIB)
        if size <= 0:
            return
        chunk = bytearray(size)
        chunk[::PAGE] = b"\x01" * len(range(0, size, PAGE))  # touch every page
        with self._lock:
            self._chunks.append(chunk)

    @property
    def held_mb(self):
        with self._lock:
            return sum(len(c) for c in self._chunks) / MIB


class HighMemory:
    def __init__(self, threshold_mb, every=60.0, clock=time.monotonic):
        self.threshold_mb = threshold_mb
        self.every = every
        self._clock = clock
        self._lock = threading.Lock()
        self._last = None  # when it last said so; None while below

    def check(self, rss):
        """True when a warning is due for this RSS (MB)."""
        with self._lock:
            if rss <= self.threshold_mb:
                self._last = None
                return False
            now = self._clock()
            if self._last is None or now - self._last >= self.every:
                self._last = now
                return True
            return False
