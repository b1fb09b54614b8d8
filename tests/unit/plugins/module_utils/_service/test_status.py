"""Parsing what systemctl, supervisorctl, docker and kubectl print into the one status shape."""

import datetime
import json

from ansible_collections.mcpops.runbooks.plugins.module_utils._service.status import (
    docker_status,
    kubernetes_status,
    parse_rfc3339,
    parse_systemctl_show,
    signal_exit_status,
    supervisor_history,
    supervisor_status,
    systemd_exit_from_log,
    systemd_status,
)

NAME = "onec-mcp-gateway"
UTC = datetime.timezone.utc

SHOW_ACTIVE = """LoadState=loaded
ActiveState=active
SubState=running
MainPID=4242
NRestarts=0
ExecMainCode=0
ExecMainStatus=0
ActiveEnterTimestamp=Tue 2026-11-24 16:00:00 UTC
ActiveEnterTimestampMonotonic=1000000000
Result=success
"""

# Restart=always between two attempts after StoreMigrationRunner exited 1.
SHOW_AUTO_RESTART = """LoadState=loaded
ActiveState=activating
SubState=auto-restart
MainPID=0
NRestarts=7
ExecMainCode=1
ExecMainStatus=1
ActiveEnterTimestamp=
ActiveEnterTimestampMonotonic=0
Result=exit-code
"""


def test_systemctl_show_keeps_equals_signs_in_values():
    props = parse_systemctl_show("Environment=A=1 B=2\nMainPID=3\n\nnoise\n")
    assert props == {"Environment": "A=1 B=2", "MainPID": "3"}


def test_systemd_active_unit():
    status = systemd_status(NAME, SHOW_ACTIVE, now_monotonic=1125.5)
    assert status["state"] == "active" and status["running"] is True
    assert status["pid"] == 4242 and status["restarts"] == 0 and status["last_exit_status"] == 0
    assert status["uptime_seconds"] == 125  # monotonic 1125.5 s - 1000 s
    assert status["since"] == "Tue 2026-11-24 16:00:00 UTC"


def test_systemd_crash_loop_between_attempts():
    status = systemd_status(NAME, SHOW_AUTO_RESTART, now_monotonic=5000)
    assert status["state"] == "activating" and status["sub_state"] == "auto-restart"
    assert status["running"] is False and status["pid"] is None
    assert status["restarts"] == 7 and status["last_exit_status"] == 1 and status["uptime_seconds"] is None


def test_systemd_killed_by_signal_is_128_plus_signal():
    show = SHOW_AUTO_RESTART.replace("ExecMainCode=1", "ExecMainCode=2").replace("ExecMainStatus=1", "ExecMainStatus=9")
    assert systemd_status(NAME, show, 0)["last_exit_status"] == 137


def test_systemd_running_process_has_no_exit_status_of_its_own():
    # What systemctl show says after Restart=on-failure brought a killed gateway back (seen on the fleet lab).
    show = SHOW_ACTIVE.replace("NRestarts=0", "NRestarts=1") + "ExecMainExitTimestampMonotonic=0\n"
    status = systemd_status(NAME, show, now_monotonic=1125.5)
    assert status["running"] is True and status["restarts"] == 1 and status["last_exit_status"] is None


def test_systemd_exit_from_the_journal_is_the_newest_one():
    lines = [
        "2026-11-24T19:18:20+0000 fleet1 systemd[1]: onec-mcp-gateway.service: Main process exited, code=exited, status=1/FAILURE",
        "2026-11-24T19:18:29+0000 fleet1 systemd[1]: onec-mcp-gateway.service: Main process exited, code=killed, status=9/KILL",
        "2026-11-24T19:18:30+0000 fleet1 python3[51]: onec-mcp-gateway 0.1.0 listening on http://127.0.1.11:3000",
    ]
    assert systemd_exit_from_log(lines) == 137
    assert systemd_exit_from_log(lines[:1]) == 1
    assert systemd_exit_from_log(["...: Main process exited, code=dumped, status=6/ABRT"]) == 134
    assert systemd_exit_from_log(lines[2:]) is None and systemd_exit_from_log([]) is None


def test_systemd_unknown_unit_is_unavailable_and_says_why():
    status = systemd_status("typo", "LoadState=not-found\nActiveState=inactive\n", 0)
    assert status["available"] is False and "typo" in status["error"] and "not-found" in status["error"]


def test_supervisor_running_line_with_days_of_uptime():
    line = NAME + "                 RUNNING   pid 31337, uptime 2 days, 3:04:05"
    status = supervisor_status(NAME, line)
    assert status["running"] and status["pid"] == 31337
    assert status["uptime_seconds"] == ((2 * 24 + 3) * 60 + 4) * 60 + 5


def test_supervisor_backoff_has_no_pid_and_no_uptime():
    status = supervisor_status(NAME, NAME + "  BACKOFF   Exited too quickly (process log may have details)")
    assert status["state"] == "BACKOFF" and not status["running"]
    assert status["pid"] is None and status["uptime_seconds"] is None


def test_supervisor_unknown_program():
    status = supervisor_status("nope", "nope: ERROR (no such process)")
    assert status["available"] is False and "gateway_service_name" in status["error"]


MAINTAIL = """2026-11-24 16:00:00,001 INFO supervisord started with pid 100
2026-11-24 16:00:00,100 INFO spawned: 'onec-mcp-gateway' with pid 101
2026-11-24 16:00:01,200 INFO success: onec-mcp-gateway entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)
2026-11-24 16:00:05,000 INFO exited: onec-mcp-gateway (terminated by SIGKILL; not expected)
2026-11-24 16:00:05,100 INFO spawned: 'onec-mcp-gateway' with pid 102
2026-11-24 16:00:06,200 INFO success: onec-mcp-gateway entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)
2026-11-24 16:00:09,000 INFO waiting for onec-mcp-gateway to stop
2026-11-24 16:00:09,100 INFO stopped: onec-mcp-gateway (exit status 0)
2026-11-24 16:00:10,100 INFO spawned: 'onec-mcp-gateway' with pid 103
2026-11-24 16:00:10,300 INFO exited: onec-mcp-gateway (exit status 1; not expected)
2026-11-24 16:00:11,400 INFO spawned: 'onec-mcp-gateway' with pid 104
2026-11-24 16:00:11,600 INFO exited: onec-mcp-gateway (exit status 1; not expected)
2026-11-24 16:00:13,700 INFO spawned: 'onec-mcp-gateway' with pid 105
2026-11-24 16:00:13,900 INFO exited: onec-mcp-gateway (exit status 1; not expected)
"""


def test_supervisor_restarts_count_respawns_since_the_last_operator_stop():
    history = supervisor_history(NAME, MAINTAIL)
    # The SIGKILL respawn (pid 102) was before the operator's stop; after it: 104 and 105 are respawns.
    assert history == {"restarts": 2, "last_exit_status": 1}


def test_supervisor_spawn_after_fatal_is_an_operator_start():
    fatal = MAINTAIL + (
        "2026-11-24 16:00:14,000 INFO gave up: onec-mcp-gateway entered FATAL state, too many start retries too quickly\n")
    assert supervisor_history(NAME, fatal)["restarts"] == 2  # the loop that ended in FATAL
    started = fatal + "2026-11-24 16:01:00,000 INFO spawned: 'onec-mcp-gateway' with pid 106\n"
    assert supervisor_history(NAME, started)["restarts"] == 0
    again = started + ("x WARN exited: onec-mcp-gateway (exit status 1; not expected)\n"
                       "x INFO spawned: 'onec-mcp-gateway' with pid 107\n")
    assert supervisor_history(NAME, again)["restarts"] == 1


def test_supervisor_other_programs_do_not_count():
    tail = ("x INFO exited: other (exit status 1; not expected)\nx INFO spawned: 'other' with pid 5\n"
            "x INFO exited: onec-mcp-gateway (exit status 0; expected)\n")
    assert supervisor_history(NAME, tail) == {"restarts": 0, "last_exit_status": 0}


def test_supervisor_killed_by_signal():
    history = supervisor_history(NAME, "x INFO exited: onec-mcp-gateway (terminated by SIGKILL; not expected)\n")
    assert history["last_exit_status"] == 137 == signal_exit_status("SIGKILL")


def test_rfc3339_with_nanoseconds_and_offsets():
    assert parse_rfc3339("2026-11-24T16:00:00.123456789Z") == datetime.datetime(2026, 11, 24, 16, tzinfo=UTC)
    assert parse_rfc3339("2026-11-24T18:00:00+02:00") == datetime.datetime(2026, 11, 24, 16, tzinfo=UTC)
    assert parse_rfc3339("0001-01-01T00:00:00Z") is None
    assert parse_rfc3339("yesterday") is None


NOW = datetime.datetime(2026, 11, 24, 16, 10, tzinfo=UTC)


def _container(status, restarts, exit_code=0, started="2026-11-24T16:00:00.5Z", pid=77, restarting=False):
    return {"Id": "0123456789abcdef", "RestartCount": restarts, "Config": {"Image": "gw:1.4"},
            "State": {"Status": status, "Restarting": restarting, "Pid": pid, "ExitCode": exit_code, "StartedAt": started}}


def test_docker_running_container():
    status = docker_status("gateway", json.dumps([_container("running", 0)]), NOW)
    assert status["running"] and status["pid"] == 77 and status["uptime_seconds"] == 600  # fractions of a second are dropped
    assert status["replicas"][0]["image"] == "gw:1.4"


def test_docker_restarting_replica_makes_the_service_not_running():
    inspect = [_container("running", 0), _container("restarting", 5, exit_code=1, pid=0, restarting=True)]
    status = docker_status("gateway", json.dumps(inspect), NOW)
    assert status["state"] == "restarting" and not status["running"]
    assert status["restarts"] == 5 and status["uptime_seconds"] is None


def test_docker_no_container_is_absent():
    status = docker_status("gateway", "[]", NOW)
    assert status["state"] == "absent" and not status["running"]


def _pod(name, state, restarts, last_exit=None, ready=True):
    container = {"image": "gw:1.4", "restartCount": restarts, "ready": ready, "state": state}
    if last_exit is not None:
        container["lastState"] = {"terminated": {"exitCode": last_exit}}
    return {"metadata": {"name": name}, "status": {"phase": "Running", "containerStatuses": [container]}}


def test_kubernetes_crash_loop_back_off():
    pods = {"items": [
        _pod("gateway-1", {"running": {"startedAt": "2026-11-24T16:09:00Z"}}, 0),
        _pod("gateway-2", {"waiting": {"reason": "CrashLoopBackOff"}}, 6, last_exit=1, ready=False)]}
    status = kubernetes_status("gateway", json.dumps(pods), NOW)
    assert status["state"] == "CrashLoopBackOff" and not status["running"]
    assert status["restarts"] == 6 and status["last_exit_status"] == 1 and status["pid"] is None


def test_kubernetes_all_running():
    pods = {"items": [_pod("gateway-1", {"running": {"startedAt": "2026-11-24T16:09:00Z"}}, 1)]}
    status = kubernetes_status("gateway", json.dumps(pods), NOW)
    assert status["running"] and status["uptime_seconds"] == 60 and status["restarts"] == 1


def test_kubernetes_replicas_say_their_replicaset_termination_and_last_reason():
    pod = _pod("api-3-x", {"waiting": {"reason": "CrashLoopBackOff"}}, 4, ready=False)
    pod["metadata"].update(ownerReferences=[{"kind": "ReplicaSet", "name": "api-3"}],
                           deletionTimestamp="2026-11-24T16:09:30Z")
    pod["status"]["containerStatuses"][0]["lastState"] = {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
    replica = kubernetes_status("api", json.dumps({"items": [pod]}), NOW)["replicas"][0]
    assert (replica["owner"], replica["terminating"], replica["last_reason"]) == ("api-3", True, "OOMKilled")
    assert replica["state"] == "CrashLoopBackOff" and replica["last_exit_status"] == 137
