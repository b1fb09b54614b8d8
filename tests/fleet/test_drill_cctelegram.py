"""`mcpops drill service-outage --fleet 3 --service cctelegram-mcp` on real hosts (systemd-nspawn, sshd, systemd):
the drill boots three CCTelegram hosts, stops the bridge on the first one only (its /health 503, the others 200),
runs service-outage with remedy=restart over SSH, checks every host the profile's way and that the broken host's
unit was restarted, and powers the fleet off again. Each host's API key (random, its own) appears nowhere in the
drill's output or its run dir. Then the same for rolling-restart, kept running to show that a drill of another
service is refused on it.

The fleets run on 127.0.8.x (NET), beside any fleet of the default network."""

import json
import os
import subprocess
import sys
from pathlib import Path

from mcpops.lab.fleet.lab import FleetLab

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NET = "127.0.8"
HOSTS = ["fleet1", "fleet2", "fleet3"]


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


def drill(tmp_path, *args):
    env = dict(os.environ, MCPOPS_RUNS_DIR=str(tmp_path / "runs"), MCPOPS_FLEET_NET=NET, ANSIBLE_NOCOLOR="1",
               no_proxy="127.0.0.1,localhost", PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    proc = subprocess.run([str(BIN / "mcpops"), "drill", *args, "--dir", str(tmp_path / "fleet"),
                           "-i", str(tmp_path / "inventory")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    return proc, proc.stdout + proc.stderr


def keys_leaked(state, run_dir, *texts):
    """The hosts whose API key appears in texts or in any file of run_dir (every byte of every file)."""
    keys = {h.name: h.api_key() for h in FleetLab(state).hosts()}
    assert len(keys) == 3 and all(len(k) > 16 for k in keys.values())  # one key, the fleet's
    files = [p.read_bytes() for p in Path(run_dir).rglob("*") if p.is_file()]
    assert len(files) > 10  # the runner's artifacts, job events, report and verdict are there to search
    return [name for name, key in keys.items()
            if any(key in text for text in texts) or any(key.encode() in data for data in files)]


def the_verdict(tmp_path, runbook):
    [run_dir] = [d for d in (tmp_path / "runs").iterdir() if d.name.endswith("-" + runbook)]
    return run_dir, json.loads((run_dir / "drill.json").read_text())


def assert_one_broken_host_recovered(verdict, out):
    assert verdict["passed"] and verdict["service"] == "cctelegram-mcp" and verdict["lab"] == "fleet"
    assert verdict["fault"] == "bridge-down" and verdict["targets"] == HOSTS
    # The fault went into fleet1 only: its bridge stopped, its /health 503; the other two stayed healthy.
    [injected] = verdict["injected"]
    assert injected.startswith("fleet1: bridge-down: systemctl stop cctelegram-bridge on fleet1"), injected
    assert "fleet1: service active; /health 503" in out
    assert "fleet2: service active; /health 200" in out and "fleet3: service active; /health 200" in out
    checks = [(c["name"], c["target"], c["ok"]) for c in verdict["checks"]]
    assert checks == [("runbook", "", True), ("healthy", "fleet1", True), ("unit_restarted", "fleet1", True),
                      ("healthy", "fleet2", True), ("healthy", "fleet3", True)], checks
    restarted = verdict["checks"][2]["detail"]
    assert "cctelegram-mcp restarted (main PID" in restarted and restarted.endswith("active; cctelegram-bridge active")
    # No 1C gateway checks for a service without those features.
    assert not {"tokens", "storage-meta"} & {c["name"] for c in verdict["checks"]}


def test_service_outage_drill_on_three_cctelegram_hosts_one_broken(tmp_path):
    state = tmp_path / "fleet"
    try:
        proc, out = drill(tmp_path, "service-outage", "--fleet", "3", "--service", "cctelegram-mcp")
        assert proc.returncode == 0, out[-8000:]
        run_dir, verdict = the_verdict(tmp_path, "service-outage")
        assert_one_broken_host_recovered(verdict, out)
        assert "== 4/6 Run: mcpops run service-outage -i %s --yes -e remedy=restart" % (tmp_path / "inventory") in out
        assert "drill service-outage (bridge-down, cctelegram-mcp on the fleet lab): PASSED, recovered in" in out
        md = (run_dir / "drill.md").read_text()
        assert md.startswith("# Drill: service-outage with fault bridge-down (cctelegram-mcp on the fleet lab)")
        assert "| service | cctelegram-mcp |" in md and "**Verdict: PASSED**" in md
        report = (run_dir / "report.md").read_text()
        assert all(host in report for host in HOSTS)
        assert "mcp_service: cctelegram-mcp" in (tmp_path / "inventory" / "group_vars" / "gateways.yml").read_text()
        # The drill booted the fleet, so it powered it off: no host recorded running, no process left.
        assert "lab down: fleet lab stopped" in out
        fleet = FleetLab(state)
        assert fleet.service == "cctelegram-mcp" and fleet.net == NET
        assert [fleet.pid(h) for h in fleet.hosts()] == [None, None, None]
        assert processes_mentioning(str(state)) == []
        assert keys_leaked(state, run_dir, out) == []
    finally:
        FleetLab(state).down()


def test_rolling_restart_drill_kept_running_refuses_a_drill_of_another_service(tmp_path):
    state = tmp_path / "fleet"
    try:
        proc, out = drill(tmp_path, "rolling-restart", "--fleet", "3", "--service", "cctelegram-mcp", "--keep")
        assert proc.returncode == 0, out[-8000:]
        run_dir, verdict = the_verdict(tmp_path, "rolling-restart")
        assert_one_broken_host_recovered(verdict, out)
        assert "Lab kept running (--keep)" in out
        fleet = FleetLab(state)
        assert all(fleet.pid(h) for h in fleet.hosts())
        # A drill of the 1C gateway on this running CCTelegram fleet: one line, exit 4, nothing touched.
        refused, said = drill(tmp_path, "inc-001-gateway-down", "--fleet", "3")
        assert refused.returncode == 4, said
        assert said.strip().splitlines() == [
            "mcpops drill: error: the fleet in %s runs cctelegram-mcp, not onec-gateway: `mcpops fleet down` first, "
            "or --service cctelegram-mcp" % state.resolve()]
        assert all(fleet.pid(h) for h in fleet.hosts())
        assert len(list((tmp_path / "runs").iterdir())) == 1  # no run of the refused drill
        assert keys_leaked(state, run_dir, out, said) == []
    finally:
        FleetLab(state).down()
    assert processes_mentioning(str(state)) == []
