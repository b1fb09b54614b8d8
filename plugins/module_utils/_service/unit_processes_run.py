# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""unit_processes' work: the processes a stopped unit left in its own control group - listed, and with
state=absent sent SIGTERM (and SIGCONT, so that a stopped one can act on it), then SIGKILL after a grace period,
until the group is empty. Only PIDs read from the unit's cgroup.procs are ever signalled, each checked to be in the
group again, through a pidfd, right before its signal (a PID that exited and was reused is not hit).

run(params, check_mode, run_command=..., cgroup_root=, proc_root=, send_signal=, sleep=, now=) returns the
module's result or raises TaskError. run_command(argv) -> (rc, stdout, stderr). No Ansible here.
"""

from __future__ import annotations

import os
import signal
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.unit_cgroup import (
    RUNNING_STATES,
    group_dirs,
    group_pids,
    in_group,
    process_name,
    unit_name,
    unit_state,
)

POLL = 0.1


def signal_member(pid, sig, control_group, proc_root="/proc"):
    """Send sig to pid only if it is in control_group now; True when sent. The pidfd pins the process, so the
    membership checked is the membership of the process signalled."""
    if pid in (0, 1, os.getpid()):
        return False
    fd = None
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    except (AttributeError, OSError):  # no pidfd (kernel before 5.3): the check and the kill are two steps
        fd = None
    try:
        if not in_group(pid, control_group, proc_root):
            return False
        if fd is None:
            os.kill(pid, sig)
        else:
            signal.pidfd_send_signal(fd, sig)
        return True
    except ProcessLookupError:
        return False
    finally:
        if fd is not None:
            os.close(fd)


def _check(params):
    unit = unit_name(params.get("unit"))
    state = params.get("state") or "absent"
    if state != "absent":
        raise TaskError("state must be absent, got %r" % state)
    for key in ("grace", "wait_timeout"):
        value = params.get(key)
        if value is None or float(value) < 0 or float(value) > 3600:
            raise TaskError("%s must be 0 to 3600 seconds, got %r" % (key, value))
    return unit


def run(params, check_mode=False, *, run_command, cgroup_root="/sys/fs/cgroup", proc_root="/proc",
        send_signal=None, sleep=time.sleep, now=time.monotonic):
    unit = _check(params)
    status = unit_state(unit, run_command)
    if status["active_state"] in RUNNING_STATES:
        raise TaskError("unit %s is %s: stop it first (while it runs its processes are systemd's to manage); nothing "
                        "was signalled" % (unit, status["active_state"]), dict(unit=unit, active_state=status["active_state"]))
    group = status["control_group"]
    directories = group_dirs(cgroup_root, group)
    send = send_signal or (lambda pid, sig: signal_member(pid, sig, group, proc_root))

    def members():
        # 0: a process of another PID namespace (cgroup.procs cannot name it here), 1: never the init of this host.
        return [pid for pid in group_pids(directories) if pid > 1 and pid != os.getpid()]

    found = [dict(pid=pid, name=process_name(pid, proc_root)) for pid in members()]
    result = dict(changed=bool(found), unit=unit, active_state=status["active_state"], control_group=group,
                  found=found, terminated=[], killed=[], left=[])
    if check_mode or not found:
        return result

    # SIGTERM to each, again to any that appears meanwhile (a straggler may fork); SIGCONT so a stopped one runs.
    termed = set()
    deadline = now() + float(params["grace"])
    while True:
        pids = members()
        for pid in pids:
            if pid not in termed and send(pid, signal.SIGTERM):
                send(pid, signal.SIGCONT)
                termed.add(pid)
        if not pids or now() >= deadline:
            break
        sleep(POLL)

    killed = set()
    deadline = now() + float(params["wait_timeout"])
    while True:
        pids = members()
        for pid in pids:
            if pid not in killed and send(pid, signal.SIGKILL):
                killed.add(pid)
        if not pids or now() >= deadline:
            break
        sleep(POLL)

    result["killed"] = sorted(killed)
    result["terminated"] = sorted(termed - killed)
    result["left"] = members()
    if result["left"]:
        raise TaskError("unit %s: %d process(es) still in %s after SIGKILL and %s s: %s (uninterruptible sleep? see "
                        "/proc/<pid>/stack)" % (unit, len(result["left"]), group, params["wait_timeout"],
                                                ", ".join(str(p) for p in result["left"])), result)
    return result
