"""Processes by PID: alive or not, what they are, and stopping them (TERM, then KILL).

Every lab stops what it started by the PID it recorded, after checking that the PID still belongs to the
process it started (its command line), so a PID the kernel has handed to something else is never signalled.
"""

import os
import signal
import subprocess
import time


def _proc_state(pid):
    """The one-letter state of /proc/<pid>/stat, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    # comm may hold spaces and parentheses: the state follows the last ")".
    rest = data.rsplit(")", 1)[-1].split()
    return rest[0] if rest else None


def reap(pid):
    """Collect the exit status of pid when it is our own child (a no-op otherwise)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


def pid_alive(pid):
    """True when pid is a live process (a zombie counts as gone)."""
    if not pid or pid <= 0:
        return False
    reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = _proc_state(pid)
    if state is None:
        return os.path.exists(f"/proc/{pid}") or not os.path.isdir("/proc")
    return state not in ("Z", "X")


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [p.decode("utf-8", "replace") for p in fh.read().split(b"\0") if p]
    except OSError:
        return []


def environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            raw = fh.read().split(b"\0")
    except OSError:
        return {}
    env = {}
    for item in raw:
        if b"=" in item:
            k, v = item.split(b"=", 1)
            env[k.decode("utf-8", "replace")] = v.decode("utf-8", "replace")
    return env


def signal_pid(pid, sig):
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def wait_gone(pids, timeout):
    """Wait until none of pids is alive; returns the ones still alive at the deadline."""
    deadline = time.monotonic() + timeout
    left = [p for p in pids if p]
    while True:
        left = [p for p in left if pid_alive(p)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def terminate(pids, timeout=15.0, kill_timeout=5.0):
    """SIGTERM the given (already verified) pids, wait, then SIGKILL what is left.

    Returns the pids still alive after the SIGKILL wait (normally none)."""
    for pid in pids:
        signal_pid(pid, signal.SIGTERM)
    left = wait_gone(pids, timeout)
    for pid in left:
        signal_pid(pid, signal.SIGKILL)
    return wait_gone(left, kill_timeout)


def stop_child(proc, timeout):
    """Stop a child this process started (a Popen, so its PID is ours and it is reaped): SIGTERM, and SIGKILL
    after timeout seconds. Nothing to do when it is None or has exited."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
