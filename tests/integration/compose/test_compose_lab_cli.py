"""`mcpops lab up|status|break|repair|down --platform compose`, each in its own process: `up` leaves the compose lab
running after it exits (its dockerd in its own session, recorded with its PID in the state dir), the later commands
reattach to it through that record, and `down` stops the engine by that PID, unmounts and removes everything, and is
idempotent. This lab is its own (a second engine beside the session's): what is tested is that it outlives `up`."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from mcpops.lab import pids

ROOT = Path(__file__).resolve().parents[3]


def mcpops(*argv, timeout=900):
    env = dict(os.environ, no_proxy="127.0.0.1,localhost")
    for name in ("DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "MCPOPS_COMPOSE_LAB_DIR"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "mcpops", "lab", *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_the_compose_lab_outlives_up_and_later_commands_reattach_until_down(as_root, tmp_path):
    state = tmp_path / "state"
    flags = ("--platform", "compose", "--dir", str(state))
    up = mcpops("up", *flags)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        record = json.loads((state / "compose-lab.json").read_text())
        engine_pid, lab_dir = record["engine"]["pid"], Path(record["lab_dir"])
        assert pids.pid_alive(engine_pid) and "dockerd" in pids.cmdline(engine_pid)[0]
        assert os.getsid(engine_pid) == engine_pid  # its own session: no signal to `up`'s terminal reaches it
        assert (state / "compose-lab.json").stat().st_mode & 0o777 == 0o600
        assert f"dockerd pid {engine_pid}" in up.stdout

        again = mcpops("up", *flags)
        assert again.returncode == 0 and "(already running)" in again.stdout, again.stderr
        assert json.loads((state / "compose-lab.json").read_text())["engine"]["pid"] == engine_pid

        status = mcpops("status", "--json", *flags)
        assert status.returncode == 0, status.stdout + status.stderr
        found = json.loads(status.stdout)
        assert found["healthy"] and found["services"]["redis"]["state"] == "running"
        for name in ("metrics_token", "db_password"):
            assert (lab_dir / "secrets" / name).read_text().strip() not in status.stdout

        broken = mcpops("break", "redis-down", *flags)
        assert broken.returncode == 0 and "redis-down: injected" in broken.stdout, broken.stderr
        status = mcpops("status", *flags)
        assert status.returncode == 1 and re.search(r"^/ready: +503$", status.stdout, re.M), status.stdout
        assert re.search(r"^redis: +exited", status.stdout, re.M), status.stdout

        repaired = mcpops("repair", "redis-down", *flags)
        assert repaired.returncode == 0 and "redis-down: repaired" in repaired.stdout, repaired.stderr
        assert mcpops("status", *flags).returncode == 0

        unknown = mcpops("break", "no-such-fault", *flags)
        assert unknown.returncode == 4 and "unknown fault 'no-such-fault'" in unknown.stderr
    finally:
        down = mcpops("down", *flags)
    assert down.returncode == 0, down.stderr[-3000:]
    assert f"stopped dockerd {engine_pid}" in down.stdout
    assert not pids.pid_alive(engine_pid)
    assert not lab_dir.exists() and not Path(record["engine"]["dir"]).exists()
    assert not (state / "compose-lab.json").exists()
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(lab_dir) not in mounts and record["engine"]["dir"] not in mounts
    again = mcpops("down", *flags)
    assert again.returncode == 0 and "nothing was running" in again.stdout
