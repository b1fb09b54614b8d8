"""The supervisor state read over supervisord's XML-RPC socket gives what the three supervisorctl runs give.

A real private supervisord (conftest.py: the lab's config writer and starter, stopped by
PID) with a program in each state we can make cheaply; every read is made both ways and compared field
for field. A config supervisorctl would use with credentials, or a socket that does not answer, is read
with supervisorctl, as before."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._service import readers, supervisor_rpc

SUPERVISORCTL = str(Path(sys.executable).with_name("supervisorctl"))
STDERR_LINES = ["starting up", "ошибка: connection refused", "listening on 127.0.0.1"]
# What the RUNNING program prints to stderr before it idles.
LOUD = "import sys, time; [print(l, file=sys.stderr, flush=True) for l in %r]; time.sleep(3600)" % STDERR_LINES


@pytest.fixture(scope="module")
def supervisord(private_supervisord):
    """RUNNING (stderr lines), STOPPED (never started), FATAL (exits at once, no retries), and pool:member (a group
    member, stderr redirected: its stderr tail is "no log file")."""

    def settled(client, logs):
        err = (logs / "running.err").read_text(encoding="utf-8") if (logs / "running.err").exists() else ""
        return (client.process_info("gw-fatal")["statename"] == "FATAL"
                and client.process_info("gw-running")["statename"] == "RUNNING"
                and STDERR_LINES[-1] in err)

    conf, _ = private_supervisord([
        ("gw-running", LOUD, "startsecs=1", "stderr_logfile=%(logs)s/running.err"),
        ("gw-stopped", "pass", "autostart=false", "stderr_logfile=%(logs)s/stopped.err"),
        ("gw-fatal", "import sys; sys.exit(3)", "startsecs=1", "startretries=0", "autorestart=false",
         "stderr_logfile=%(logs)s/fatal.err"),
        ("member", "pass", "autostart=false", "redirect_stderr=true"),
    ], settled, extra="\n[group:pool]\nprograms=member\n")
    return conf


def _run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def _never_run(argv):
    raise AssertionError("the RPC read started %r" % (argv,))


def _params(conf, name):
    return dict(platform="supervisor", name=name, log_lines=2, supervisor_config=str(conf),
                supervisorctl_path=SUPERVISORCTL, restart_threshold=3)


def _same_moment(status):
    """A status with the RUNNING uptime (seconds apart between two reads) taken out."""
    status = dict(status)
    status["status_line"] = re.sub(r"uptime [\d:, days]+$", "uptime -", status["status_line"])
    status.pop("uptime_seconds")
    return status


@pytest.mark.parametrize("name, state", [("gw-running", "RUNNING"), ("gw-stopped", "STOPPED"),
                                         ("gw-fatal", "FATAL"), ("pool:member", "STOPPED")])
def test_the_rpc_read_is_the_supervisorctl_read(supervisord, monkeypatch, name, state):
    by_rpc = readers.read_status(_params(supervisord, name), _never_run, lambda b: True)
    calls = []

    def recorded(argv):
        calls.append(argv)
        return _run(argv)

    monkeypatch.setattr(supervisor_rpc, "reader", lambda config: None)
    by_ctl = readers.read_status(_params(supervisord, name), recorded, lambda b: True)
    assert [argv[3] for argv in calls] == ["status", "maintail", "tail"]  # really supervisorctl's answers
    assert by_rpc["state"] == state and by_rpc["available"] is True
    assert _same_moment(by_rpc) == _same_moment(by_ctl)
    assert (by_rpc["uptime_seconds"] is None) == (by_ctl["uptime_seconds"] is None)
    if name == "gw-running":
        # supervisorctl prints the log's bytes plus a newline: today's last "line" is empty, kept as it is.
        assert by_rpc["pid"] and by_rpc["log_lines"] == [STDERR_LINES[-1], ""]
        assert by_rpc["status_line"].split()[:3] == ["gw-running", "RUNNING", "pid"]
    if name == "gw-fatal":
        assert by_rpc["last_exit_status"] == 3 and by_rpc["crash_loop"]
    if name == "pool:member":  # no stderr log: supervisorctl tail fails, the RPC read says the same
        assert by_rpc["log_lines"] == [] and by_rpc["status_line"].startswith("pool:member ")


def test_an_unknown_program_is_left_to_supervisorctl_and_reads_as_today(supervisord):
    calls = []

    def recorded(argv):
        calls.append(argv)
        return _run(argv)

    status = readers.read_status(_params(supervisord, "no-such-program"), recorded, lambda b: True)
    assert calls and calls[0][3:] == ["status", "no-such-program"]
    assert status["available"] is False and "no such process" in status["error"]


def test_a_config_with_credentials_is_read_with_supervisorctl(supervisord, tmp_path):
    # supervisord has no auth here, so supervisorctl with a username still gets its answer: the same state.
    conf = tmp_path / "auth.conf"
    conf.write_text(supervisord.read_text().replace("[supervisorctl]\n", "[supervisorctl]\nusername=ops\npassword=x\n"))
    assert supervisor_rpc.reader(str(conf)) is None
    calls = []

    def recorded(argv):
        calls.append(argv)
        return _run(argv)

    status = readers.read_status(_params(conf, "gw-stopped"), recorded, lambda b: True)
    assert [argv[3] for argv in calls] == ["status", "maintail", "tail"]
    assert status["state"] == "STOPPED" and status["available"] is True


def test_the_socket_supervisorctl_would_use(tmp_path, monkeypatch):
    monkeypatch.setenv("SRPC_DIR", "/run/env-dir")
    cases = {
        "[supervisorctl]\nserverurl=unix://%(here)s/s.sock ; a comment\n": str(tmp_path / "s.sock"),
        "[supervisorctl]\nserverurl=unix://%(ENV_SRPC_DIR)s/s.sock\n": "/run/env-dir/s.sock",
        "[supervisorctl]\nserverurl=http://127.0.0.1:9001\n": None,  # inet
        "[supervisorctl]\n": None,  # supervisorctl's default: http://localhost:9001
        "[supervisord]\n": None,  # no [supervisorctl]: supervisorctl refuses, let it say so
        "[supervisorctl]\nserverurl=unix:///s.sock\npassword=x\n": None,
        "[supervisorctl]\nserverurl=unix://%(ENV_SRPC_UNSET)s/s.sock\n": None,
        "not an ini file\n": None,
    }
    for text, expected in cases.items():
        conf = tmp_path / "c.conf"
        conf.write_text(text)
        assert supervisor_rpc.socket_path(str(conf)) == expected, text
    assert supervisor_rpc.socket_path(None) is None  # supervisorctl's own config search
    assert supervisor_rpc.socket_path(str(tmp_path / "missing.conf")) is None


def test_a_socket_that_does_not_answer_falls_back_to_supervisorctl(tmp_path):
    sock = tmp_path / "dead.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(sock))  # a stale socket file: bound, never listening (a supervisord that died)
    dead.close()
    conf = tmp_path / "c.conf"
    conf.write_text("[supervisorctl]\nserverurl=unix://%s\n" % sock)
    calls = []

    def answers(argv):
        calls.append(argv[3])
        return {"status": (3, "onec-mcp-gateway                 FATAL     Exited too quickly\n", ""),
                "maintail": (0, "", ""), "tail": (0, "a\nb\nc\n", "")}[argv[3]]

    status = readers.read_status(_params(conf, "onec-mcp-gateway"), answers, lambda b: True)
    assert calls == ["status", "maintail", "tail"]
    assert status["state"] == "FATAL" and status["log_lines"] == ["b", "c"]


def test_status_line_is_supervisorctls_format():
    assert supervisor_rpc.status_line({"group": "gw", "name": "gw", "statename": "STOPPED",
                                       "description": "Not started"}) == "gw" + " " * 31 + "STOPPED   Not started"
    long_name = "x" * 40
    line = supervisor_rpc.status_line({"group": "g", "name": long_name, "statename": "RUNNING", "description": "d"})
    assert line == "g:" + long_name + "   RUNNING   d"


def test_importing_the_reader_does_not_import_xmlrpc():
    code = ("import sys; import ansible_collections.mcpops.runbooks.plugins.module_utils._service.readers; "
            "print(sorted(m for m in ('xmlrpc.client', 'http.client', 'configparser') if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                         check=True).stdout
    assert out.strip() == "[]"
