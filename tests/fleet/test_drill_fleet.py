"""`mcpops drill inc-001-gateway-down --fleet 2` on real hosts (systemd-nspawn, sshd, systemd): the drill
boots the fleet, stops the gateway unit on both hosts, runs INC-001 over SSH, verifies each host and
powers the fleet off again, leaving no host process behind."""

import json
import os
import subprocess
import sys
from pathlib import Path

from mcpops.lab.fleet.lab import FleetLab

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def processes_mentioning(text):
    """PIDs whose command line mentions text (the fleet's state dir is in every systemd-nspawn's argv)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if text.encode() in Path("/proc/%s/cmdline" % entry).read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_inc001_drill_on_two_fleet_hosts_passes_and_leaves_no_fleet_running(tmp_path):
    state, inventory, runs = tmp_path / "fleet", tmp_path / "inventory", tmp_path / "runs"
    env = dict(os.environ, MCPOPS_RUNS_DIR=str(runs), ANSIBLE_NOCOLOR="1", no_proxy="127.0.0.1,localhost",
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    try:
        proc = subprocess.run([str(BIN / "mcpops"), "drill", "inc-001-gateway-down", "--fleet", "2",
                               "--dir", str(state), "-i", str(inventory)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-8000:]
        [run_dir] = list(runs.iterdir())
        verdict = json.loads((run_dir / "drill.json").read_text())
        assert verdict["passed"] and verdict["lab"] == "fleet" and verdict["targets"] == ["fleet1", "fleet2"]
        # Both hosts were really down (systemctl stop), and both came back through the runbook over SSH.
        assert all("systemctl stop onec-mcp-gateway" in line for line in verdict["injected"]), verdict["injected"]
        for host in ("fleet1", "fleet2"):
            assert "%s: service inactive" % host in out
            assert "PASS service_running [%s]: service state active" % host in out
            assert "PASS healthy [%s]: /healthz 200, /readyz 200" % host in out
            assert "PASS tokens [%s]" % host in out
        assert "fleet1" in (run_dir / "report.md").read_text() and "fleet2" in (run_dir / "report.md").read_text()
        assert (inventory / "hosts.yml").is_file()  # the drill ran on the inventory the fleet wrote
        # The drill booted the fleet, so it powered it off: no host recorded running, no process left.
        assert "lab down: fleet lab stopped" in out
        fleet = FleetLab(state)
        assert [fleet.pid(h) for h in fleet.hosts()] == [None, None]
        assert processes_mentioning(str(state)) == []
    finally:
        FleetLab(state).down()
