"""unit_processes' run() on real processes: a fake cgroup tree and /proc (the processes the test names as the unit's
group), real signals through pidfds. Only the group's processes are signalled: SIGTERM first (with SIGCONT for a
stopped one), SIGKILL for those that ignore it; a process outside the group, or listed but no longer in the group,
is never touched; check mode and a running unit signal nothing."""

import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.unit_processes_run import run, signal_member

GROUP = "/system.slice/cctelegram-bridge.service"
PARAMS = dict(unit="cctelegram-bridge", state="absent", grace=0.5, wait_timeout=5)
# Ready once its handler is set: prints a line, then sleeps until a signal ends it.
CHILD = "import signal, sys, time\n%s\nprint('ready', flush=True)\ntime.sleep(120)\n"


class Host:
    """A fake cgroup tree and /proc under tmp_path for the processes the test starts. Each sleep of run() reaps
    the processes that died and rewrites cgroup.procs, as the kernel would."""

    def __init__(self, tmp_path, active_state="inactive"):
        self.cgroup_root = tmp_path / "cgroup"
        self.proc_root = tmp_path / "proc"
        (self.cgroup_root / GROUP.lstrip("/")).mkdir(parents=True)
        (self.cgroup_root / "cgroup.procs").write_text("")
        self.proc_root.mkdir()
        self.active_state = active_state
        self.members = []
        self.procs = []
        self.commands = []

    def start(self, ignore_term=False, in_group=True, group=GROUP):
        code = CHILD % ("signal.signal(signal.SIGTERM, signal.SIG_IGN)" if ignore_term else "")
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        self.procs.append(proc)
        pid_dir = self.proc_root / str(proc.pid)
        pid_dir.mkdir()
        (pid_dir / "cgroup").write_text("1:name=systemd:%s\n0::%s\n" % (group, group))
        (pid_dir / "comm").write_text("python3\n")
        if in_group:
            self.members.append(proc)
        self.refresh()
        return proc

    def refresh(self):
        for proc in self.procs:
            proc.poll()
        alive = [p.pid for p in self.members if p.returncode is None]
        (self.cgroup_root / GROUP.lstrip("/") / "cgroup.procs").write_text("".join("%d\n" % p for p in alive))

    def run_command(self, argv):
        self.commands.append(argv)
        return 0, ("LoadState=loaded\nActiveState=%s\nMainPID=0\nControlGroup=%s\nSlice=system.slice\n"
                   % (self.active_state, GROUP)), ""

    def sleep(self, seconds):
        time.sleep(seconds)
        self.refresh()

    def run(self, params=None, check_mode=False):
        return run(dict(PARAMS, **(params or {})), check_mode, run_command=self.run_command,
                   cgroup_root=str(self.cgroup_root), proc_root=str(self.proc_root), sleep=self.sleep)

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def host(tmp_path):
    h = Host(tmp_path)
    yield h
    h.close()


def test_term_ends_what_listens_kill_ends_the_rest_and_nothing_outside_the_group(host):
    polite = host.start()
    stubborn = host.start(ignore_term=True)
    decoy = host.start(in_group=False)  # e.g. an editor with "cctelegram-bridge" in its command line
    result = host.run()
    assert polite.wait(5) == -signal.SIGTERM
    assert stubborn.wait(5) == -signal.SIGKILL
    assert decoy.poll() is None
    assert result["changed"] is True
    assert [p["pid"] for p in result["found"]] == sorted([polite.pid, stubborn.pid])
    assert result["terminated"] == [polite.pid] and result["killed"] == [stubborn.pid] and result["left"] == []
    assert result["control_group"] == GROUP and result["unit"] == "cctelegram-bridge.service"


def test_a_stopped_hung_process_gets_sigcont_after_sigterm_and_ends(host):
    hung = host.start()
    hung.send_signal(signal.SIGSTOP)
    result = host.run()
    assert hung.wait(5) == -signal.SIGTERM
    assert result["terminated"] == [hung.pid] and result["killed"] == []


def test_check_mode_lists_the_group_and_signals_nothing(host):
    proc = host.start()
    result = host.run(check_mode=True)
    assert result["changed"] is True and [p["pid"] for p in result["found"]] == [proc.pid]
    assert result["found"][0]["name"] == "python3"
    assert result["terminated"] == [] and result["killed"] == []
    time.sleep(0.2)
    assert proc.poll() is None


def test_an_empty_group_is_no_change(host):
    result = host.run()
    assert result["changed"] is False and result["found"] == []


@pytest.mark.parametrize("state", ["active", "activating", "reloading"])
def test_a_running_unit_is_refused_and_nothing_signalled(tmp_path, state):
    h = Host(tmp_path, active_state=state)
    try:
        proc = h.start()
        with pytest.raises(TaskError, match="is %s: stop it first" % state):
            h.run()
        time.sleep(0.2)
        assert proc.poll() is None
    finally:
        h.close()


def test_a_pid_listed_but_no_longer_in_the_group_is_not_signalled(host):
    other = host.start(in_group=False, group="/system.slice/other.service")
    assert signal_member(other.pid, signal.SIGTERM, GROUP, str(host.proc_root)) is False
    assert signal_member(1, signal.SIGTERM, GROUP, str(host.proc_root)) is False
    time.sleep(0.2)
    assert other.poll() is None


def test_a_process_that_survives_sigkill_fails_the_task_naming_it(host):
    proc = host.start(ignore_term=True)
    sent = []
    with pytest.raises(TaskError) as err:
        run(dict(PARAMS, grace=0.2, wait_timeout=0.3), False, run_command=host.run_command,
            cgroup_root=str(host.cgroup_root), proc_root=str(host.proc_root), sleep=time.sleep,
            send_signal=lambda pid, sig: sent.append((pid, sig)) or True)  # signals that never land
    assert "still in %s" % GROUP in err.value.msg and str(proc.pid) in err.value.msg
    assert err.value.result["left"] == [proc.pid]
    assert (proc.pid, signal.SIGTERM) in sent and (proc.pid, signal.SIGKILL) in sent


@pytest.mark.parametrize("params, match", [
    (dict(unit="a b"), "unit must be"),
    (dict(unit="-x"), "unit must be"),
    (dict(grace=-1), "grace must be"),
    (dict(wait_timeout=4000), "wait_timeout must be"),
    (dict(state="present"), "state must be absent"),
])
def test_bad_input_is_refused_before_systemctl(host, params, match):
    with pytest.raises(TaskError, match=match):
        host.run(params)
    assert host.commands == []
