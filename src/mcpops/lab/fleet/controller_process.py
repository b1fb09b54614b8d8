"""A daemon the fleet runs on the controller side (the Telegram stand-in, the nginx exporter, Prometheus): started
detached (a session of its own, so it outlives `mcpops fleet up`), recorded in fleet.json by PID with a marker (a
path of this fleet's state dir, in its command line or as MCPOPS_FLEET_MARKER in its environment), and stopped by
that PID after checking the marker, never by name.

A record is {"pid", "port", "marker", "log"}: no secret (a daemon that needs one is given a file's path).
"""

import os
import subprocess
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from mcpops.lab import pids
from mcpops.lab.fleet.errors import FleetError

START_TIMEOUT = 60.0  # a loaded 2-core machine starts Prometheus slowly
STOP_TIMEOUT = 15.0
MARKER_VAR = "MCPOPS_FLEET_MARKER"  # set in every daemon's environment: how a PID is recognised as ours


def http_status(url, timeout=2.0):
    """The status of GET url, or None when nothing answers (never through a proxy: loopback only)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def is_ours(record):
    """record's PID is alive and carries record's marker in its command line or its environment."""
    pid = (record or {}).get("pid")
    marker = (record or {}).get("marker")
    if not pid or not marker or not pids.pid_alive(int(pid)):
        return False
    if any(marker in arg for arg in pids.cmdline(int(pid))):
        return True
    return pids.environ(int(pid)).get(MARKER_VAR) == marker


def running_pid(record):
    return int(record["pid"]) if is_ours(record) else None


def start(name, argv, log_path, ready_url, marker, env=None, cwd=None, timeout=START_TIMEOUT):
    """Start argv detached, wait until ready_url answers 200 while it lives; its record. FleetError with the log's
    tail when it exits or is not ready in time (then it is stopped)."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    env = dict(os.environ if env is None else env, **{MARKER_VAR: marker})
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=cwd, start_new_session=True, close_fds=True)
    record = {"pid": proc.pid, "port": urlsplit(ready_url).port, "marker": marker,
              "log": str(log_path)}
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise FleetError(f"{name} exited {proc.returncode} at start; {log_path} ends with:\n{_tail(log_path)}")
        if http_status(ready_url) == 200 and proc.poll() is None:
            return record
        if time.monotonic() >= deadline:
            pids.stop_child(proc, STOP_TIMEOUT)
            raise FleetError(f"{name} (pid {proc.pid}) was not ready at {ready_url} within {timeout:.0f}s; "
                             f"{log_path} ends with:\n{_tail(log_path)}")
        time.sleep(0.1)


def stop(record):
    """SIGTERM (then SIGKILL) the recorded PID when it is ours; that PID, or None when none of ours ran."""
    pid = running_pid(record)
    if not pid:
        return None
    left = pids.terminate([pid], timeout=STOP_TIMEOUT)
    if left:
        raise FleetError(f"pid {pid} survived SIGTERM and SIGKILL")
    return pid


def _tail(path, lines=15):
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""
