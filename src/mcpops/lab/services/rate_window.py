"""Per-client fixed-window rate limits, as the seed backend counts them: key `ratelimit:<client_ip>`, a counter that
starts at the client's first request and expires WINDOW_SECONDS later. Two stores with one interface, hit(ip) -> the
count in the current window: RedisWindow (shared by every instance on one Redis; `redis-cli keys "ratelimit:*"` shows
them) and MemoryWindow (per instance)."""

import threading
import time

WINDOW_SECONDS = 60
PREFIX = "ratelimit:"


def window_key(client_ip):
    return PREFIX + client_ip


class RedisWindow:
    backend = "redis"

    def __init__(self, client, window_seconds=WINDOW_SECONDS):
        self.client = client  # redis_client.RedisClient
        self.window_seconds = window_seconds

    def hit(self, client_ip):
        return self.client.incr_window(window_key(client_ip), self.window_seconds)


class MemoryWindow:
    backend = "memory"

    def __init__(self, window_seconds=WINDOW_SECONDS, clock=time.monotonic):
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._counts = {}  # key -> [count, expires]

    def hit(self, client_ip):
        now = self._clock()
        key = window_key(client_ip)
        with self._lock:
            if len(self._counts) > 10000:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            entry = self._counts.get(key)
            if entry is None or entry[1] <= now:
                entry = self._counts[key] = [0, now + self.window_seconds]
            entry[0] += 1
            return entry[0]
