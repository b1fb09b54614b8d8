"""`mcpops lab up|status|break|repair|down --platform kubernetes`, each in its own process: `up` leaves the LEGO lab
running after it exits (a control plane of its own, the node agent, PostgreSQL, the HSM: every process in a session of
its own, recorded with its PID in the state dir), the later commands reattach to it through that record, the "DB
connections exhausted" fault's sessions are held by a process that outlives `break` until `repair`, and `down` stops
everything by PID (the node agent's pod services too) and removes the dirs, idempotently. This lab is its own (a
second stack beside the session's `lego_stack`): what is tested is that it outlives `up`. Root, as the session's
(kube_binaries: the control plane's cached binaries)."""

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
    for name in ("KUBECONFIG", "MCPOPS_KUBE_LAB_DIR"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "mcpops", "lab", *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def recorded_pids(record):
    """Every PID the record names, by what it is."""
    found = {f"plane {name}": pid for name, pid in record["plane"]["pids"].items()}
    found["node agent"] = record["agent"]["pid"]
    return found


def test_the_kubernetes_lab_outlives_up_and_later_commands_reattach_until_down(kube_binaries, tmp_path):
    state = tmp_path / "state"
    flags = ("--platform", "kubernetes", "--dir", str(state))
    up = mcpops("up", *flags)
    record = {}
    held_by = None
    served, running = [], {}
    try:
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
        record = json.loads((state / "kube-lab.json").read_text())
        assert (state / "kube-lab.json").stat().st_mode & 0o777 == 0o600
        secrets_file = state / "inventory" / "group_vars" / "gateways" / "secrets.yml"
        assert secrets_file.stat().st_mode & 0o777 == 0o600
        secrets = json.loads(secrets_file.read_text().split("\n", 1)[1])
        canaries = [secrets["lego_db_password"], secrets["lego_api_key"]]
        assert all(len(c) >= 16 for c in canaries) and not any(c in (state / "kube-lab.json").read_text()
                                                                for c in canaries)
        for what, pid in recorded_pids(record).items():
            assert pids.pid_alive(pid), what
            assert os.getsid(pid) != os.getsid(0), f"{what} is in the test's session"
        assert "kube-apiserver" in " ".join(pids.cmdline(record["plane"]["pids"]["kube-apiserver"]))
        assert re.search(r"^lab up: lego-mcp on Kubernetes https://127\.0\.0\.1:\d+, dashboard pods "
                         r"http://127\.78\.\d+\.\d+:8000, http://127\.78\.\d+\.\d+:8000;", up.stdout), up.stdout
        assert f"kube-apiserver {record['plane']['pids']['kube-apiserver']}" in up.stdout

        again = mcpops("up", *flags)
        assert again.returncode == 0 and "lab up (already running)" in again.stdout, again.stderr
        assert json.loads((state / "kube-lab.json").read_text())["plane"] == record["plane"]

        status = mcpops("status", "--json", *flags)
        assert status.returncode == 0, status.stdout + status.stderr
        found = json.loads(status.stdout)
        assert found["healthy"] is True and found["deployments"]["dashboard"]["ready"] == 2
        assert sorted(found["pods"].values()) == [200, 200]
        running = {name: pid for name, pid in found["pids"].items() if pid}
        assert set(running) == {"etcd", "kube-apiserver", "kube-controller-manager", "node-agent", "postgres", "hsm"}
        served = [int(p.read_text()) for p in Path(record["agent"]["dir"]).glob("pods/*/service.pid")]
        assert served and all(pids.pid_alive(pid) for pid in served)

        broken = mcpops("break", "db-connections-exhausted", *flags)
        assert broken.returncode == 0, broken.stdout + broken.stderr
        match = re.search(r"db-connections-exhausted: injected \((\d+) idle lego_mcp sessions held by the session "
                          r"holder, pid (\d+)\)", broken.stdout)
        assert match and int(match.group(1)) > 20, broken.stdout
        held_by = int(match.group(2))
        assert pids.pid_alive(held_by), "the session holder did not outlive `break`"
        status = mcpops("status", *flags)
        assert status.returncode == 1, status.stdout
        assert re.search(r"^session-holder: +pid %d$" % held_by, status.stdout, re.M), status.stdout
        assert re.search(r"^healthy: +no \(dashboard-\S+ /health: 503 .*(too many clients|remaining connection "
                         r"slots)", status.stdout, re.M), status.stdout

        repaired = mcpops("repair", "db-connections-exhausted", *flags)
        assert repaired.returncode == 0 and "db-connections-exhausted: repaired" in repaired.stdout, repaired.stderr
        assert not pids.pid_alive(held_by)
        status = mcpops("status", *flags)
        assert status.returncode == 0 and re.search(r"^healthy: +yes$", status.stdout, re.M), status.stdout

        unknown = mcpops("break", "no-such-fault", *flags)
        assert unknown.returncode == 4 and "unknown fault 'no-such-fault'" in unknown.stderr
        for proc in (up, again, status, broken, repaired):
            assert not any(c in proc.stdout + proc.stderr for c in canaries)
    finally:
        down = mcpops("down", *flags)
    assert down.returncode == 0, down.stdout + down.stderr[-3000:]
    assert down.stdout.startswith("lab down: stopped ")
    for what, pid in dict(recorded_pids(record), holder=held_by, **running).items():
        assert not pids.pid_alive(pid), f"{what} {pid} is still running"
    for pid in served:
        assert not pids.pid_alive(pid), f"a pod's service {pid} is still running"
    for part in ("plane", "agent", "pg", "hsm"):
        assert not Path(record[part]["dir"]).exists(), part
    assert not state.exists()
    again = mcpops("down", *flags)
    assert again.returncode == 0 and "nothing was running" in again.stdout
