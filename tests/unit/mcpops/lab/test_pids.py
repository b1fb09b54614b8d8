"""mcpops.lab.pids: whether a PID is alive (a zombie is not), what it runs, and stopping it TERM then KILL."""

import os
import signal
import subprocess
import sys

from mcpops.lab import pids


def test_this_process_is_alive_and_its_command_line_is_read():
    assert pids.pid_alive(os.getpid())
    assert "pytest" in " ".join(pids.cmdline(os.getpid()))
    assert pids.cmdline(2 ** 22 + 1) == []  # above pid_max: no such process
    assert not pids.pid_alive(0) and not pids.pid_alive(None)


def test_a_child_that_exited_counts_as_gone_before_it_is_reaped():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert pids.wait_gone([child.pid], 10) == []
    assert not pids.pid_alive(child.pid)


def test_terminate_stops_with_term_and_kills_what_ignores_it():
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stubborn = subprocess.Popen([sys.executable, "-c",
                                 "import signal, sys, time\n"
                                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                 "print('ready', flush=True)\n"
                                 "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert stubborn.stdout.readline().strip() == "ready"  # SIGTERM ignored from here on
        os.kill(stubborn.pid, signal.SIGTERM)
        assert pids.wait_gone([stubborn.pid], 0.5) == [stubborn.pid]  # TERM alone does not stop it
        assert pids.terminate([polite.pid, stubborn.pid], timeout=1.0, kill_timeout=5.0) == []
        assert not pids.pid_alive(polite.pid) and not pids.pid_alive(stubborn.pid)
    finally:
        for proc in (polite, stubborn):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_signalling_a_pid_that_is_gone_says_so():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert pids.signal_pid(child.pid, signal.SIGTERM) is False
