"""Talking to the lab's supervisord: XML-RPC over its unix socket, and PID helpers.

Every process the lab stops is stopped by the PID it recorded, after checking that the PID still
belongs to the process we started (its command line names our config or our data dir), so a PID
that the kernel has handed to something else is never signalled.
"""

import os
import signal
import time
import xmlrpc.client

from supervisor.xmlrpc import SupervisorTransport

# Supervisor's process states (supervisor.states.ProcessStates), by name.
RUNNING = "RUNNING"
STARTING = "STARTING"
BACKOFF = "BACKOFF"
FATAL = "FATAL"
STOPPED = "STOPPED"
EXITED = "EXITED"
# Our own pseudo-state: supervisord itself is not running.
NOT_RUNNING = "SUPERVISORD_NOT_RUNNING"


class SupervisorError(Exception):
    pass


class SupervisorClient:
    """A thin XML-RPC client of one supervisord, over its unix socket."""

    def __init__(self, socket_path, timeout=10.0):
        self.socket_path = str(socket_path)
        self.timeout = timeout

    def _proxy(self):
        transport = SupervisorTransport(None, None, "unix://" + self.socket_path)
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def call(self, method, *args):
        if not os.path.exists(self.socket_path):
            raise SupervisorError(f"supervisord socket {self.socket_path} does not exist")
        proxy = self._proxy()
        target = proxy
        for part in method.split("."):
            target = getattr(target, part)
        try:
            return target(*args)
        except xmlrpc.client.Fault as exc:
            raise SupervisorError(f"supervisord {method}: {exc.faultString}") from exc
        except OSError as exc:
            raise SupervisorError(f"supervisord socket {self.socket_path}: {exc}") from exc

    def alive(self):
        try:
            return self.call("supervisor.getState").get("statename") == "RUNNING"
        except (SupervisorError, xmlrpc.client.ProtocolError, OSError):
            return False

    def pid(self):
        return self.call("supervisor.getPID")

    def process_info(self, name):
        return self.call("supervisor.getProcessInfo", name)

    def start(self, name, wait=False):
        return self.call("supervisor.startProcess", name, wait)

    def stop(self, name, wait=True):
        return self.call("supervisor.stopProcess", name, wait)

    def shutdown(self):
        return self.call("supervisor.shutdown")


# ---------------------------------------------------------------------------- PIDs


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


def is_our_supervisord(pid, config_path):
    if not pid_alive(pid):
        return False
    args = cmdline(pid)
    if not args:  # no /proc: trust the record
        return not os.path.isdir(f"/proc/{pid}")
    joined = " ".join(args)
    return "supervisor" in joined and str(config_path) in args


def is_our_gateway(pid, data_dir):
    if not pid_alive(pid):
        return False
    args = cmdline(pid)
    if not args:
        return not os.path.isdir(f"/proc/{pid}")
    if "mcpops.lab.gateway" not in " ".join(args):
        return False
    env = environ(pid)
    # environ may be unreadable (another user): the command line check stands alone then.
    return not env or env.get("ONEC_MCP_DATA_DIR") == str(data_dir)


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
