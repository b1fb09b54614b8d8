"""Faults on demand: `<state_dir>/faults.json`, read on every request, is how the lab makes a reference service
unhealthy or slow without restarting it, under supervisord or systemd alike (whoever may write the state dir
breaks the service; removing the file or writing {} heals it).

    {"unhealthy": true, "reason": "disk full", "slow_ms": 1500, "circuits": {"slack": "open"}}

- `unhealthy` (bool): the service's health endpoints answer 503 (each service says which in its docstring);
- `reason` (str): said in the unhealthy answer (default "fault injected");
- `slow_ms` (int >= 0): every request waits that long before it is handled (a latency threshold to cross);
- any other key is kept in `extra` for the service that knows it (connector-mcp: `circuits`).

A file that is not valid (not JSON, wrong types) injects nothing; `error` says why and the service logs it.
"""

import json
import os
from dataclasses import dataclass, field

FAULTS_FILE = "faults.json"
MAX_BYTES = 64 * 1024
MAX_SLOW_MS = 600_000
DEFAULT_REASON = "fault injected"


@dataclass(frozen=True)
class Faults:
    unhealthy: bool = False
    slow_ms: int = 0
    reason: str = DEFAULT_REASON
    extra: dict = field(default_factory=dict)
    error: str = ""  # why the file was not used, "" when it was (or when there is none)

    @property
    def active(self):
        return self.unhealthy or self.slow_ms > 0 or bool(self.extra)


NONE = Faults()


def parse_faults(data):
    """Faults from the parsed JSON; ValueError naming the bad key."""
    if not isinstance(data, dict):
        raise ValueError("faults.json must hold a JSON object")
    unhealthy = data.get("unhealthy", False)
    if not isinstance(unhealthy, bool):
        raise ValueError("unhealthy must be true or false")
    slow_ms = data.get("slow_ms", 0)
    if isinstance(slow_ms, bool) or not isinstance(slow_ms, int) or not 0 <= slow_ms <= MAX_SLOW_MS:
        raise ValueError("slow_ms must be an integer 0..%d" % MAX_SLOW_MS)
    reason = data.get("reason", DEFAULT_REASON)
    if not isinstance(reason, str):
        raise ValueError("reason must be a string")
    extra = {k: v for k, v in data.items() if k not in ("unhealthy", "slow_ms", "reason")}
    return Faults(unhealthy=unhealthy, slow_ms=slow_ms, reason=reason[:200] or DEFAULT_REASON, extra=extra)


def read_faults(state_dir):
    """The faults in <state_dir>/faults.json now; NONE when there is no such file."""
    path = os.path.join(state_dir, FAULTS_FILE)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return NONE
    except OSError as exc:
        return Faults(error="%s: cannot read: %s" % (FAULTS_FILE, exc.strerror or exc))
    if len(raw) > MAX_BYTES:
        return Faults(error="%s: over %d bytes" % (FAULTS_FILE, MAX_BYTES))
    if not raw.strip():
        return NONE
    try:
        return parse_faults(json.loads(raw.decode("utf-8")))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return Faults(error="%s: %s" % (FAULTS_FILE, exc))


def write_faults(state_dir, **faults):
    """Write faults.json atomically (tmp + rename), as the lab and the tests do; no keywords heals."""
    os.makedirs(state_dir, exist_ok=True)
    path = os.path.join(state_dir, FAULTS_FILE)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(faults, handle)
    os.replace(tmp, path)
    return path


def clear_faults(state_dir):
    try:
        os.unlink(os.path.join(state_dir, FAULTS_FILE))
    except FileNotFoundError:
        pass
