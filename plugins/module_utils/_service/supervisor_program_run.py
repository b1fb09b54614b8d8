# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""supervisor_program's work: stop, start or restart one supervisord program, over supervisord's XML-RPC socket when
supervisorctl -c <config> would use a plain unix socket (supervisor_control), else through supervisorctl itself.

run(params, check_mode, run_command=...) returns the result or raises TaskError. run_command(argv) -> (rc, stdout,
stderr) runs supervisorctl (AnsibleModule.run_command in the module). No Ansible here.
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import supervisor_control as sc
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import supervisor_rpc

VERBS = {"stopped": "stop", "started": "start", "restarted": "restart"}


def plan(state, before):
    """The calls that bring a program in state `before` to `state`, in order: [], ["stop"], ["start"] or both.

    started on BACKOFF (a crash loop between attempts) is a stop and a fresh start: supervisorctl start would answer
    "already started" and leave it looping."""
    running = before in ("RUNNING", "STARTING")
    if state == "stopped":
        return ["stop"] if before in sc.STOPPABLE else []
    if state == "started":
        return [] if running else (["stop", "start"] if before == "BACKOFF" else ["start"])
    return (["stop"] if before in sc.STOPPABLE else []) + ["start"]


def check_name(name):
    if not name or name.startswith("-") or any(c.isspace() for c in name):
        raise TaskError("supervisor_program: name must be a program name (group:name for a group member), got %r. "
                        "Nothing was changed." % (name,), dict(changed=False))


def run(params, check_mode=False, *, run_command):
    name, state = params["name"], params["state"]
    check_name(name)
    if params["timeout"] < 1:
        raise TaskError("supervisor_program: timeout must be 1 s or more, got %d. Nothing was changed."
                        % params["timeout"], dict(changed=False))
    result = dict(changed=False, name=name, state=state)
    sock = supervisor_rpc.socket_path(params.get("config"))
    if sock:
        control = sc.SupervisorControl(sock, params["timeout"])
        try:
            before = control.state(name)
        except sc.NoSuchProgram:
            raise TaskError("supervisord (%s) has no program %r; `supervisorctl status` lists them. Nothing was "
                            "changed." % (sock, name), result)
        except supervisor_rpc.Unusable as exc:
            result["rpc_unusable"] = str(exc)  # nothing was sent: supervisorctl gets the whole action
        else:
            return _by_rpc(control, name, state, before, check_mode, result)
    return _by_supervisorctl(params, check_mode, run_command, result)


def _by_rpc(control, name, state, before, check_mode, result):
    calls = plan(state, before)
    result.update(via="xmlrpc", state_before=before, calls=calls, changed=bool(calls))
    if check_mode or not calls:
        return result
    done, current = [], calls[0]
    try:
        for current in calls:
            if getattr(control, current)(name):
                done.append(current)
    except sc.ActionFailed as exc:
        result["state_after"] = _state_or_none(control, name)
        raise TaskError("supervisor_program: %s %s: ERROR (%s); the program is %s. Its log says why "
                        "(`supervisorctl tail %s stderr`)." % (current, name, exc, result["state_after"], name),
                        result)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # the socket after a call was sent
        result["state_after"] = _state_or_none(control, name)
        raise TaskError("supervisor_program: %s %s was sent to supervisord but gave no answer within %d s (%s); the "
                        "program is %s." % (" and ".join(calls), name, control.timeout, exc, result["state_after"],),
                        result)
    # a stop that found it already stopped, a start that found it already started: raced by someone else
    result["changed"] = bool(done)
    result["state_after"] = _state_or_none(control, name)
    return result


def _state_or_none(control, name):
    try:
        return control.state(name)
    except Exception:  # pylint: disable=broad-exception-caught  # only for the result and the message
        return None


def _by_supervisorctl(params, check_mode, run_command, result):
    argv = [params["supervisorctl_path"]] + (["-c", params["config"]] if params.get("config") else [])
    name, verb = params["name"], VERBS[params["state"]]
    result["via"] = "supervisorctl"
    if check_mode:
        rc, out, err = run_command(argv + ["status", name])
        words = (out or "").split()
        if "no such process" in (out or "") + (err or "") or len(words) < 2:
            raise TaskError("supervisorctl status %s: %s. Nothing was changed." % (name, (out or err or "").strip()),
                            result)
        result["state_before"] = words[1]
        result["calls"] = plan(params["state"], words[1])
        result["changed"] = bool(result["calls"])
        return result
    rc, out, err = run_command(argv + [verb, name])
    text = ((out or "") + (err or "")).strip()
    result["supervisorctl"] = text
    if "no such process" in text:
        raise TaskError("supervisorctl %s %s: no such program. Nothing was changed." % (verb, name), result)
    unchanged = (verb == "stop" and "ERROR (not running)" in text) or (
        verb == "start" and "ERROR (already started)" in text)
    if rc != 0 and not unchanged:
        raise TaskError("supervisorctl %s %s failed (rc %d): %s" % (verb, name, rc, text), result)
    result["changed"] = not unchanged
    return result
