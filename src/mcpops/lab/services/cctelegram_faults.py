"""cctelegram-mcp's own keys in faults.json (faults.py keeps them in `extra`), read on every request as the others:

    {"error_rate": 0.5, "error_type": "TelegramAPIError"}        the error storm
    {"leak_mb_per_second": 4, "leak_max_mb": 192}                the memory leak

- error storm: that share of the /tools/* requests answers 500 and logs an ERROR line with the error_type (a
  counter decides which, not chance: 0.5 fails every second request, so a test knows what it will see);
- memory leak: a background thread grows the process's RSS by leak_mb_per_second every second until the ballast
  holds leak_max_mb (a bound, so a forgotten fault cannot take the machine); what it took is kept until the process
  ends, as a real leak's is: removing the key stops the growth, only a restart gives the memory back.
A value of the wrong type or out of range is ignored (no fault), as faults.py does for its own keys.
"""

import re
import threading

DEFAULT_ERROR_TYPE = "TelegramAPIError"
DEFAULT_LEAK_MAX_MB = 192
MAX_LEAK_MB = 1024
MAX_LEAK_MB_PER_SECOND = 64
_ERROR_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def error_storm(extra):
    """(rate, error_type) of faults.json's error storm, or None when there is none."""
    if not isinstance(extra, dict):
        return None
    rate = _number(extra.get("error_rate"))
    if rate is None or not 0 < rate <= 1:
        return None
    error_type = extra.get("error_type")
    if not isinstance(error_type, str) or not _ERROR_TYPE.match(error_type):
        error_type = DEFAULT_ERROR_TYPE
    return float(rate), error_type


def memory_leak(extra):
    """(mb_per_second, max_mb) of faults.json's memory leak, or None when there is none."""
    if not isinstance(extra, dict):
        return None
    rate = _number(extra.get("leak_mb_per_second"))
    if rate is None or not 0 < rate <= MAX_LEAK_MB_PER_SECOND:
        return None
    cap = _number(extra.get("leak_max_mb"))
    cap = DEFAULT_LEAK_MAX_MB if cap is None or not 0 < cap <= MAX_LEAK_MB else cap
    return float(rate), float(cap)


class ShareCounter:
    """fail(rate) is True for `rate` of the calls, spread evenly: the n-th call fails when floor(n * rate) steps
    up (0.5: the 2nd, 4th, ...; 1: every call)."""

    def __init__(self):
        self._calls = 0
        self._lock = threading.Lock()

    def fail(self, rate):
        with self._lock:
            before = int(self._calls * rate)
            self._calls += 1
            return int(self._calls * rate) > before


def leak_step(rate, cap, held_mb):
    """MiB to add now: rate, but never past cap."""
    return max(0.0, min(rate, cap - held_mb))
