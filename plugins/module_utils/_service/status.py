# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's service state, read from what each service manager prints, in one shape.

Every parser returns a dict with the same keys (see ``new_status``) so that roles and playbooks
never need to know which manager answered: ``state`` is the manager's own word, ``running`` a bool,
``pid``, ``restarts``, ``last_exit_status`` and ``uptime_seconds`` are ints or None when the
manager does not say.
"""

from __future__ import annotations

import datetime
import json
import re
import signal

PLATFORMS = ("systemd", "supervisor", "docker_compose", "kubernetes")


def new_status(platform, name):
    return {
        "platform": platform,
        "name": name,
        "available": True,
        "error": None,
        "state": "unknown",
        "running": False,
        "pid": None,
        "restarts": None,
        "last_exit_status": None,
        "uptime_seconds": None,
        "log_lines": [],
    }


def _int_or_none(text):
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


def signal_exit_status(name):
    """The shell's convention for a process killed by a signal: 128 + its number (SIGKILL -> 137)."""
    number = getattr(signal, str(name).upper(), None)
    return 128 + int(number) if number is not None else None


# -- systemd ----------------------------------------------------------------------------------

SYSTEMD_PROPERTIES = ("LoadState", "ActiveState", "SubState", "MainPID", "NRestarts", "ExecMainCode",
                      "ExecMainStatus", "ExecMainExitTimestampMonotonic", "ActiveEnterTimestamp",
                      "ActiveEnterTimestampMonotonic", "Result")
# ExecMainCode is a siginfo si_code: 1 exited (ExecMainStatus is the exit code), 2 killed, 3 dumped
# (ExecMainStatus is the signal number).
_CLD_KILLED = (2, 3)
# What systemd logs when a unit's main process ends: "Main process exited, code=killed, status=9/KILL".
_SYSTEMD_EXIT_LINE = re.compile(r"Main process exited, code=(exited|killed|dumped), status=(\d+)")


def parse_systemctl_show(text):
    """`systemctl show --property=...` output (KEY=VALUE lines) -> dict of strings."""
    props = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            props[key.strip()] = value.strip()
    return props


def systemd_status(name, show_text, now_monotonic):
    """The status of a unit from `systemctl show`; now_monotonic is the host's CLOCK_MONOTONIC in seconds
    (the clock systemd's *TimestampMonotonic values are taken on)."""
    props = parse_systemctl_show(show_text)
    status = new_status("systemd", name)
    if props.get("LoadState") == "not-found":
        status.update(available=False, state="not-found",
                      error="systemd has no unit %s (LoadState=not-found); check gateway_service_name" % name)
        return status
    active, sub = props.get("ActiveState", "unknown"), props.get("SubState", "")
    status["state"] = active
    status["sub_state"] = sub
    status["running"] = active == "active" and sub == "running"
    pid = _int_or_none(props.get("MainPID"))
    status["pid"] = pid or None
    status["restarts"] = _int_or_none(props.get("NRestarts"))
    code, exit_status = _int_or_none(props.get("ExecMainCode")), _int_or_none(props.get("ExecMainStatus"))
    if code in _CLD_KILLED and exit_status:
        exit_status = 128 + exit_status
    # ExecMain* describe the current main process: while it has not exited (no exit timestamp) its 0 is no
    # exit status; the one before it is in the journal (systemd_exit_from_log).
    if props.get("ExecMainExitTimestampMonotonic", "").strip() == "0" and code in (0, None):
        exit_status = None
    status["last_exit_status"] = exit_status
    entered = _int_or_none(props.get("ActiveEnterTimestampMonotonic"))
    if status["running"] and entered and now_monotonic is not None:
        status["uptime_seconds"] = max(0, int(now_monotonic - entered / 1e6))
    status["since"] = props.get("ActiveEnterTimestamp") or None
    return status


def systemd_exit_from_log(log_lines):
    """The exit status of the newest main process that ended, from systemd's own journal lines ("Main process
    exited, code=killed, status=9/KILL" -> 137); None when no such line is among them."""
    for line in reversed(log_lines or []):
        found = _SYSTEMD_EXIT_LINE.search(line)
        if found:
            code, number = found.group(1), int(found.group(2))
            return number if code == "exited" else 128 + number
    return None


# -- supervisor -------------------------------------------------------------------------------

_UPTIME = re.compile(r"uptime (?:(\d+) days?, )?(\d+):(\d\d):(\d\d)")
_PID = re.compile(r"\bpid (\d+)")


def supervisor_status(name, status_line, maintail_text=""):
    """The status of a program from `supervisorctl status <name>` and the supervisord log tail
    (`supervisorctl maintail`), which is where supervisor records its spawns and exits."""
    status = new_status("supervisor", name)
    line = (status_line or "").strip()
    status["status_line"] = line
    fields = line.split()
    if len(fields) < 2 or "ERROR (no such process)" in line:
        status.update(available=False, state="UNKNOWN",
                      error="supervisorctl status %s answered %r; check gateway_service_name and "
                            "gateway_supervisor_config" % (name, line))
        return status
    state = fields[1]
    status["state"] = state
    status["running"] = state == "RUNNING"
    match = _PID.search(line)
    status["pid"] = int(match.group(1)) if match and status["running"] else None
    match = _UPTIME.search(line)
    if match and status["running"]:
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        status["uptime_seconds"] = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    history = supervisor_history(name, maintail_text)
    status["restarts"] = history["restarts"]
    status["last_exit_status"] = history["last_exit_status"]
    return status


def _log_patterns(name):
    quoted = re.escape(name)
    return {
        "spawned": re.compile(r"\bspawned: '%s' with pid (\d+)" % quoted),
        "exited": re.compile(r"\bexited: %s \((?:exit status (\d+)|terminated by (SIG\w+))(; (not )?expected)?\)" % quoted),
        "stopped": re.compile(r"\bstopped: %s \(" % quoted),
        "gave_up": re.compile(r"\bgave up: %s entered FATAL" % quoted),
        "supervisord_started": re.compile(r"\bsupervisord started with pid"),
    }


def supervisor_history(name, maintail_text):
    """Restarts and last exit status from supervisord's log.

    restarts: the spawns supervisor made by itself (a spawn that follows an unexpected exit) since the
    last time an operator stopped or started the program or supervisord started. A spawn after `gave up`
    (FATAL) is an operator's start: it begins a new count (in FATAL the count of the loop that ended there
    stays). A restart from BACKOFF leaves no trace in the log and is counted as one more restart. last_exit_status: the last exit's code (128 + signal
    number for a signal), None when the tail has no exit."""
    pats = _log_patterns(name)
    restarts, pending, after_fatal, last_exit = 0, False, False, None
    for line in (maintail_text or "").splitlines():
        if pats["stopped"].search(line) or pats["supervisord_started"].search(line):
            restarts, pending = 0, False
            continue
        if pats["gave_up"].search(line):
            pending, after_fatal = False, True
            continue
        match = pats["exited"].search(line)
        if match:
            code, sig, _expected, not_expected = match.groups()
            last_exit = int(code) if code is not None else signal_exit_status(sig)
            pending = bool(not_expected)
            continue
        if pats["spawned"].search(line):
            if after_fatal:
                restarts = 0
            elif pending:
                restarts += 1
            pending, after_fatal = False, False
    return {"restarts": restarts, "last_exit_status": last_exit}


# -- docker compose ---------------------------------------------------------------------------

def parse_rfc3339(text):
    """Docker's and Kubernetes' timestamps (nanoseconds, Z or an offset) -> aware datetime, or None."""
    if not text or text.startswith("0001-01-01"):
        return None
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?$", text.strip())
    if not match:
        return None
    base = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    zone = match.group(2) or "Z"
    offset = datetime.timedelta(0)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return (base - offset).replace(tzinfo=datetime.timezone.utc)


def _seconds_since(text, now):
    started = parse_rfc3339(text)
    return max(0, int((now - started).total_seconds())) if started else None


def _aggregate(status, replicas):
    """One status over several replicas: running only when all run, restarts summed, the worst state."""
    status["replicas"] = replicas
    if not replicas:
        status.update(state="absent", running=False)
        return status
    broken = [r for r in replicas if not r["running"]]
    status["state"] = broken[0]["state"] if broken else replicas[0]["state"]
    status["running"] = not broken
    status["pid"] = replicas[0].get("pid")
    status["restarts"] = sum(r["restarts"] or 0 for r in replicas)
    exits = [r["last_exit_status"] for r in replicas if r["last_exit_status"] is not None]
    status["last_exit_status"] = exits[0] if exits else None
    uptimes = [r["uptime_seconds"] for r in replicas if r["uptime_seconds"] is not None]
    status["uptime_seconds"] = min(uptimes) if uptimes and not broken else None
    return status


def docker_status(name, inspect_text, now):
    """The status of a compose service from `docker inspect <its containers>` (a JSON list)."""
    status = new_status("docker_compose", name)
    containers = json.loads(inspect_text or "[]")
    replicas = []
    for container in containers:
        state = container.get("State") or {}
        word = state.get("Status", "unknown")
        running = word == "running" and not state.get("Restarting")
        replicas.append({
            "id": (container.get("Id") or "")[:12],
            "image": (container.get("Config") or {}).get("Image"),
            "state": word,
            "running": running,
            "pid": state.get("Pid") or None,
            "restarts": container.get("RestartCount"),
            "last_exit_status": state.get("ExitCode"),
            "uptime_seconds": _seconds_since(state.get("StartedAt"), now) if running else None,
        })
    return _aggregate(status, replicas)


# -- kubernetes -------------------------------------------------------------------------------

def _pod_replica(pod, now):
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    container = statuses[0]
    current = container.get("state") or {}
    last = (container.get("lastState") or {}).get("terminated") or {}
    if "running" in current:
        word, running = "Running", bool(container.get("ready", True))
    elif "waiting" in current:
        word, running = current["waiting"].get("reason") or "Waiting", False
    elif "terminated" in current:
        word, running = current["terminated"].get("reason") or "Terminated", False
        last = current["terminated"]
    else:
        word, running = (pod.get("status") or {}).get("phase", "Unknown"), False
    metadata = pod.get("metadata") or {}
    return {
        "id": metadata.get("name"),
        "image": container.get("image"),
        "state": word,
        "running": running,
        "pid": None,  # the API does not expose the container's host PID
        "restarts": container.get("restartCount", 0),
        "last_exit_status": last.get("exitCode"),
        "uptime_seconds": _seconds_since((current.get("running") or {}).get("startedAt"), now) if running else None,
        # which ReplicaSet (so which revision) the pod belongs to, and why it last stopped: the rollout wait reads them
        "owner": ((metadata.get("ownerReferences") or [{}])[0]).get("name"),
        "terminating": bool(metadata.get("deletionTimestamp")),
        "last_reason": last.get("reason"),
    }


def kubernetes_status(name, pods_text, now):
    """The status of a deployment from `kubectl get pods -l <its selector> -o json`."""
    status = new_status("kubernetes", name)
    pods = (json.loads(pods_text or "{}") or {}).get("items") or []
    return _aggregate(status, [_pod_replica(pod, now) for pod in pods])
