# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stop, start and restart one supervisord program over its XML-RPC socket, as supervisorctl does, in this process.

supervisorctl stop / start / restart are each one XML-RPC call (stopProcess, startProcess) after a Python start-up of
about half a second; community.general.supervisorctl runs two or three of them per action. The calls are the same
ones, with the same waits: stopProcess(name, wait) returns once the program has stopped, startProcess(name, wait)
once it is RUNNING (startsecs) or has failed to start. Only a socket supervisor_rpc.reader() accepts is used; any
answer this does not understand raises Unusable *before* anything was sent, so the caller can ask supervisorctl."""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._service.supervisor_rpc import Unusable, unix_proxy

# supervisor.xmlrpc.Faults
BAD_NAME = 10
ABNORMAL_TERMINATION = 40
SPAWN_ERROR = 50
ALREADY_STARTED = 60
NOT_RUNNING = 70
# The states supervisorctl stop acts on (supervisor.states.RUNNING_STATES); BACKOFF is a crash loop between attempts.
STOPPABLE = ("RUNNING", "STARTING", "BACKOFF")


class NoSuchProgram(Exception):
    """supervisord has no program by that name."""


class ActionFailed(Exception):
    """supervisord refused or failed the call: its fault in supervisorctl's words (spawn error, abnormal termination)."""


class SupervisorControl:
    """One program's state and actions over the unix socket sock; timeout bounds each call's wait."""

    def __init__(self, sock, timeout):
        self.sock = sock
        self.timeout = timeout

    def _call(self, method, *args):
        import xmlrpc.client  # pylint: disable=import-outside-toplevel  # module import cost: only when used

        with unix_proxy(self.sock, self.timeout) as proxy:
            try:
                return getattr(proxy.supervisor, method)(*args)
            except xmlrpc.client.Fault as exc:
                return exc

    def state(self, name):
        """name's statename (RUNNING, STOPPED, BACKOFF, ...). Unusable when the socket or the answer is not understood."""
        try:
            info = self._call("getProcessInfo", name)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # socket, HTTP, XML: supervisorctl decides
            raise Unusable("supervisor.getProcessInfo over %s: %s" % (self.sock, exc)) from exc
        if getattr(info, "faultCode", None) == BAD_NAME:
            raise NoSuchProgram(name)
        if not isinstance(info, dict) or not isinstance(info.get("statename"), str):
            raise Unusable("supervisor.getProcessInfo answered %r" % (info,))
        return info["statename"]

    def stop(self, name):
        """Stop name and wait until it has stopped; False when it was not running by then (nothing to do)."""
        answer = self._call("stopProcess", name, True)
        if getattr(answer, "faultCode", None) == NOT_RUNNING:
            return False
        if answer is not True:
            raise ActionFailed("stopProcess answered %s" % _fault_text(answer))
        return True

    def start(self, name):
        """Start name and wait until RUNNING; False when it was already started. ActionFailed when it did not start."""
        answer = self._call("startProcess", name, True)
        if getattr(answer, "faultCode", None) == ALREADY_STARTED:
            return False
        if answer is not True:
            raise ActionFailed(_fault_text(answer))
        return True


def _fault_text(answer):
    """supervisorctl's words for a fault: "spawn error", "abnormal termination", else the fault's own text."""
    code = getattr(answer, "faultCode", None)
    if code == SPAWN_ERROR:
        return "spawn error"
    if code == ABNORMAL_TERMINATION:
        return "abnormal termination"
    if code is not None:
        return "%s (fault %s)" % (answer.faultString, code)
    return repr(answer)
