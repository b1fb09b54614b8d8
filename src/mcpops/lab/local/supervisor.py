"""Talking to the lab's supervisord: XML-RPC over its unix socket, and telling its PIDs from others.

A PID the lab recorded is ours only while its command line names our config (supervisord) or the
gateway module with our data dir (the gateway), so a PID the kernel has handed to something else is
never signalled (mcpops.lab.pids does the signalling).
"""

import os
import xmlrpc.client

from supervisor.xmlrpc import SupervisorTransport

from mcpops.lab.pids import cmdline, environ, pid_alive

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
