"""supervisor_program stops, starts and restarts a real private supervisord's programs over its socket, as supervisorctl
would, and through supervisorctl when the socket is not one it may use; check mode sends nothing."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import supervisor_program_run as spr

SUPERVISORCTL = str(Path(sys.executable).with_name("supervisorctl"))
IDLE = "import time; time.sleep(3600)"
WAIT = 60.0


@pytest.fixture(scope="module")
def sup(private_supervisord):
    """idle (RUNNING), parked (STOPPED), dies (exits at once: a start fails), looping (exits at once, retried for
    ever: BACKOFF between attempts)."""
    conf, client = private_supervisord([
        ("idle", IDLE, "startsecs=1", "stopwaitsecs=5"),
        ("parked", IDLE, "autostart=false", "startsecs=1"),
        ("dies", "import sys; sys.exit(3)", "autostart=false", "startsecs=1", "startretries=0", "autorestart=false"),
        ("looping", "import time, sys; time.sleep(0.2); sys.exit(4)", "autostart=false", "startsecs=5",
         "startretries=100000"),
    ], lambda client, logs: client.process_info("idle")["statename"] == "RUNNING")
    return conf, client


def _params(conf, name, state, **extra):
    return dict(dict(name=name, state=state, config=str(conf), supervisorctl_path=SUPERVISORCTL, timeout=60), **extra)


def _never_run(argv):
    raise AssertionError("supervisorctl was run: %r" % (argv,))


def _run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def _state(client, name):
    return client.process_info(name)["statename"]


def _wait_state(client, name, states):
    deadline = time.monotonic() + WAIT
    while _state(client, name) not in states:
        assert time.monotonic() < deadline, "%s never reached %s" % (name, states)
        time.sleep(0.05)


@pytest.mark.parametrize("state, before, calls", [
    ("stopped", "RUNNING", ["stop"]), ("stopped", "BACKOFF", ["stop"]), ("stopped", "STOPPED", []),
    ("stopped", "FATAL", []), ("started", "RUNNING", []), ("started", "STARTING", []), ("started", "STOPPED", ["start"]),
    ("started", "BACKOFF", ["stop", "start"]), ("started", "EXITED", ["start"]), ("restarted", "RUNNING", ["stop", "start"]),
    ("restarted", "STOPPED", ["start"]), ("restarted", "BACKOFF", ["stop", "start"]),
])
def test_the_plan_from_each_state(state, before, calls):
    assert spr.plan(state, before) == calls


def test_check_mode_says_what_it_would_do_and_sends_nothing(sup):
    conf, client = sup
    pid = client.process_info("idle")["pid"]
    result = spr.run(_params(conf, "idle", "restarted"), True, run_command=_never_run)
    assert result["changed"] and result["via"] == "xmlrpc" and result["calls"] == ["stop", "start"]
    result = spr.run(_params(conf, "parked", "started"), True, run_command=_never_run)
    assert result["changed"] and result["calls"] == ["start"]
    assert client.process_info("idle")["pid"] == pid and _state(client, "parked") == "STOPPED"


def test_start_stop_restart_over_the_socket_are_idempotent(sup):
    conf, client = sup
    started = spr.run(_params(conf, "parked", "started"), run_command=_never_run)
    assert started["changed"] and started["state_after"] == "RUNNING"  # the wait is supervisord's startsecs
    again = spr.run(_params(conf, "parked", "started"), run_command=_never_run)
    assert not again["changed"] and again["calls"] == []
    pid = client.process_info("parked")["pid"]
    restarted = spr.run(_params(conf, "parked", "restarted"), run_command=_never_run)
    assert restarted["changed"] and restarted["state_after"] == "RUNNING"
    assert client.process_info("parked")["pid"] not in (0, pid)
    stopped = spr.run(_params(conf, "parked", "stopped"), run_command=_never_run)
    assert stopped["changed"] and stopped["state_after"] == "STOPPED"
    assert not spr.run(_params(conf, "parked", "stopped"), run_command=_never_run)["changed"]


def test_a_crash_loop_in_backoff_is_stopped(sup):
    conf, client = sup
    subprocess.run([SUPERVISORCTL, "-c", str(conf), "start", "looping"], capture_output=True, timeout=120, check=False)
    _wait_state(client, "looping", ("BACKOFF",))
    result = spr.run(_params(conf, "looping", "stopped"), run_command=_never_run)
    assert result["state_before"] in ("BACKOFF", "STARTING") and result["changed"]
    assert result["state_after"] == "STOPPED"
    time.sleep(1.5)  # longer than a backoff: supervisord must not have respawned it
    assert _state(client, "looping") == "STOPPED"


def test_a_start_that_dies_fails_with_supervisors_words_and_the_state(sup):
    conf, client = sup
    with pytest.raises(TaskError) as err:
        spr.run(_params(conf, "dies", "started"), run_command=_never_run)
    # supervisord's word for it depends on when it reaped the exit: BACKOFF, FATAL, or EXITED (a spawn error)
    assert "start dies: ERROR (" in err.value.msg and err.value.result["state_after"] in ("BACKOFF", "FATAL", "EXITED")
    assert "the program is %s" % err.value.result["state_after"] in err.value.msg
    assert err.value.result["calls"] == ["start"]


def test_an_unknown_program_and_a_hostile_name_are_refused(sup):
    conf, _ = sup
    with pytest.raises(TaskError, match="has no program 'nope'"):
        spr.run(_params(conf, "nope", "restarted"), run_command=_never_run)
    for name in ("", "-c", "idle all", "idle\n"):
        with pytest.raises(TaskError, match="must be a program name"):
            spr.run(_params(conf, name, "stopped"), run_command=_never_run)


def test_a_config_with_credentials_goes_through_supervisorctl(sup, tmp_path):
    conf, client = sup
    # supervisord has no auth here, so supervisorctl with a username still acts: the same outcome, by supervisorctl.
    creds = tmp_path / "auth.conf"
    creds.write_text(conf.read_text().replace("[supervisorctl]\n", "[supervisorctl]\nusername=ops\npassword=x\n"))
    calls = []

    def recorded(argv):
        calls.append(argv[3:])
        return _run(argv)

    checked = spr.run(_params(creds, "parked", "started"), True, run_command=recorded)
    assert checked["via"] == "supervisorctl" and checked["calls"] == ["start"] and calls == [["status", "parked"]]
    assert _state(client, "parked") == "STOPPED"
    result = spr.run(_params(creds, "parked", "started"), run_command=recorded)
    assert result["changed"] and calls[-1] == ["start", "parked"] and _state(client, "parked") == "RUNNING"
    again = spr.run(_params(creds, "parked", "started"), run_command=recorded)
    assert not again["changed"]  # "ERROR (already started)"
    assert spr.run(_params(creds, "parked", "stopped"), run_command=recorded)["changed"]
    assert _state(client, "parked") == "STOPPED"
    with pytest.raises(TaskError, match="no such program"):
        spr.run(_params(creds, "nope", "stopped"), run_command=recorded)


def test_a_socket_that_does_not_answer_is_left_to_supervisorctl(tmp_path):
    sock = tmp_path / "dead.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(sock))  # bound, never listening: a supervisord that died
    dead.close()
    conf = tmp_path / "c.conf"
    conf.write_text("[supervisorctl]\nserverurl=unix://%s\n" % sock)
    calls = []

    def answers(argv):
        calls.append(argv[3:])
        return 0, "gw: stopped\ngw: started\n", ""

    result = spr.run(_params(conf, "gw", "restarted"), run_command=answers)
    assert calls == [["restart", "gw"]] and result["changed"] and "rpc_unusable" in result
