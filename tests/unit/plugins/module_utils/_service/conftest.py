"""A private supervisord for the supervisor tests: the lab's config writer and starter, its socket under a short tmp
dir (a unix socket path holds 108 bytes), stopped by PID at the end of the test module."""

import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from mcpops.lab import pids
from mcpops.lab.local import supervisor as lab_sup
from mcpops.lab.local import supervisord_conf as sc

WAIT = 60.0  # generous: a loaded CI host; every wait ends on the event, not the deadline


def _program(name, code, *extra):
    """A [program:name] section running `python -c code`, with extra option lines."""
    return "\n[program:%s]\ncommand=%s -c %s\n%s\n" % (name, sys.executable, repr(code).replace("%", "%%"),
                                                      "\n".join(extra))


@pytest.fixture(scope="module")
def private_supervisord():
    """start(programs, settled, extra="") -> (conf, client): supervisord running programs, each (name, python code,
    option line, ...) (%(logs)s in an option is its log dir), plus the extra config text, once settled(client, logs)
    is true. Every supervisord started is stopped by PID at the end of the test module."""
    started = []

    def start(programs, settled, extra=""):
        state = Path(tempfile.mkdtemp(prefix="srpc-", dir="/tmp"))
        logs = state / "logs"
        logs.mkdir()
        sock, conf = state / "supervisor.sock", state / "supervisord.conf"
        conf.write_text(sc.render_header(sock, state / "supervisord.pid", logs, state)
                        + "".join(_program(*p) for p in programs).replace("%(logs)s", str(logs).replace("%", "%%"))
                        + extra)
        popen = sc.start(sys.executable, conf, logs, state, sock)
        client = lab_sup.SupervisorClient(sock)
        started.append((popen, client, conf, state))
        deadline = time.monotonic() + WAIT
        while not settled(client, logs):
            if time.monotonic() > deadline:
                pytest.fail("the private supervisord's programs did not settle within %ss" % WAIT)
            time.sleep(0.1)
        return conf, client

    yield start
    for popen, client, conf, state in started:
        sc.stop(popen.pid, client, conf, timeout=WAIT, kill_timeout=10)
        popen.wait(timeout=10)
        pids.wait_gone([popen.pid], 10)
        shutil.rmtree(state, ignore_errors=True)
