"""`mcpops drill service-outage --fleet 3 --service cctelegram-mcp` on real hosts (systemd-nspawn, sshd, systemd):
the drill boots three CCTelegram hosts, stops the bridge on the first one only (its /health 503, the others 200),
runs service-outage with remedy=restart over SSH, checks every host the profile's way and that the broken host's
unit was restarted, and powers the fleet off again. Each host's API key (random, its own) appears nowhere in the
drill's output or its run dir. Then the same for rolling-restart, kept running to show that a drill of another
service is refused on it.

Then (issue 19) three drills of the CCTelegram runbooks on the session's stack (cctelegram_stack, its own network): P0
option C from a bad release, the bridge clean-up from a hung bridge, and P1 from a memory leak (containment at nginx
applied, the leaking host restarted, the containment reverted).

The fleets run on 127.0.8.x (NET), beside any fleet of the default network."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcpops.lab.fleet import services
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


# -- issue 19: drills of the CCTelegram runbooks on the session's stack (nginx, Prometheus, the Telegram stand-in) ----
# The two most distinct of the new scenarios: P0 option C (a release rolled back, judged from the host's release links
# and /health's version) and the bridge clean-up (a hung bridge, judged from systemd's main PID of the bridge). The
# others (P0 restart, reroute, scale; bridge-down; auto-recovery's timer) were run by hand: docs/drills.md.
# The drill reuses the running stack (its `fleet up` restores it first) and leaves it running.

def drill_on_stack(stack, tmp_path, *args):
    env = dict(os.environ, MCPOPS_RUNS_DIR=str(tmp_path / "runs"), MCPOPS_FLEET_NET=stack.net, ANSIBLE_NOCOLOR="1",
               no_proxy="127.0.0.1,localhost", PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    proc = subprocess.run([str(BIN / "mcpops"), "drill", *args, "--fleet", "3", "--service", "cctelegram-mcp",
                           "--dir", str(stack.state_dir), "-i", str(stack.inventory_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    return proc, proc.stdout + proc.stderr


def stack_secrets_leaked(stack, run_dir, text):
    """The stack's API key or bot token, where it appears: in text, or in a file of run_dir."""
    secrets = [(stack.state_dir / "secrets" / name).read_text().strip()
               for name in ("cctelegram_api_key", "telegram_bot_token")]
    assert all(len(s) > 16 for s in secrets)
    files = [p.read_bytes() for p in Path(run_dir).rglob("*") if p.is_file()]
    assert len(files) > 10
    return [s[:4] + "..." for s in secrets if s in text or any(s.encode() in data for data in files)]


@pytest.fixture
def stack(cctelegram_stack):
    cctelegram_stack.up(3)
    for host in cctelegram_stack.serving_hosts():
        assert services.wait_health(host, (200,)) == 200, host.name
    yield cctelegram_stack
    cctelegram_stack.up(3)  # nothing left broken for the next module


def test_p0_rollback_drill_on_the_stack_puts_the_release_back(stack, tmp_path):
    fleet1 = stack.serving_hosts()[0]
    releases = services.releases_dir(fleet1)
    assert (releases / "current").readlink().name == "2.4.0"
    proc, out = drill_on_stack(stack, tmp_path, "cctelegram-p0-response", "--fault", "bad-release")
    assert proc.returncode == 0, out[-8000:]
    run_dir, verdict = the_verdict(tmp_path, "cctelegram-p0-response")
    assert verdict["passed"] and verdict["fault"] == "bad-release" and verdict["targets"] == HOSTS
    assert verdict["injected"][0].startswith("fleet1: bad-release: /opt/cctelegram/releases/current on fleet1 "
                                             "2.4.0 -> 2.5.0"), verdict["injected"]
    assert "-e mitigation=rollback" in out and "fleet1: service failed" in out
    checks = [(c["name"], c["target"], c["ok"]) for c in verdict["checks"]]
    assert checks == [("runbook", "", True), ("healthy", "fleet1", True), ("rolled_back", "fleet1", True),
                      ("healthy", "fleet2", True), ("healthy", "fleet3", True)], checks
    # Read again from the host itself: the links, the unit, the version /health says.
    assert (releases / "current").readlink().name == "2.4.0"
    assert (releases / "previous").readlink().name == "2.5.0"
    status, body = services.health(fleet1)
    assert status == 200 and body["version"] == "2.4.0", (status, body)
    assert "Lab left running (it was running before the drill)" in out
    assert stack_secrets_leaked(stack, run_dir, out) == []


def test_bridge_hung_drill_on_the_stack_replaces_the_hung_bridge(stack, tmp_path):
    from fleet_helpers import service_unit_show

    fleet1 = stack.serving_hosts()[0]
    hung_pid = service_unit_show(stack, fleet1, services.BRIDGE_UNIT)["MainPID"]
    proc, out = drill_on_stack(stack, tmp_path, "cctelegram-bridge-recovery", "--fault", "bridge-hung")
    assert proc.returncode == 0, out[-8000:]
    run_dir, verdict = the_verdict(tmp_path, "cctelegram-bridge-recovery")
    assert verdict["passed"] and verdict["fault"] == "bridge-hung"
    assert verdict["injected"][0].startswith("fleet1: bridge-hung: SIGSTOP to cctelegram-bridge's main pid %s"
                                             % hung_pid), verdict["injected"]
    assert "fleet1: service active; /health 503" in out and "-e remedy=cleanup" in out
    checks = [(c["name"], c["target"], c["ok"]) for c in verdict["checks"]]
    assert checks == [("runbook", "", True), ("healthy", "fleet1", True), ("bridge_restarted", "fleet1", True),
                      ("healthy", "fleet2", True), ("healthy", "fleet3", True)], checks
    # systemd itself: another bridge process, active; the hung one is gone
    now = service_unit_show(stack, fleet1, services.BRIDGE_UNIT)
    assert now["ActiveState"] == "active" and now["MainPID"] not in ("0", hung_pid), now
    assert stack.run(fleet1, ["test", "-e", "/proc/%s" % hung_pid], check=False).returncode != 0
    assert stack_secrets_leaked(stack, run_dir, out) == []


def test_p1_drill_on_the_stack_restarts_the_leaking_host_and_reverts_the_containment(stack, tmp_path):
    from fleet_helpers import service_unit_show

    site = stack.state_dir / "lb" / "conf" / "cctelegram.conf"
    site_before = site.read_bytes()
    assert b"limit_conn cctelegram_conn 64;\n" in site_before
    before = {h.name: service_unit_show(stack, h, services.MCP_UNIT)["MainPID"] for h in stack.serving_hosts()}
    proc, out = drill_on_stack(stack, tmp_path, "cctelegram-p1-response", "--fault", "memory-leak")
    assert proc.returncode == 0, out[-8000:]
    run_dir, verdict = the_verdict(tmp_path, "cctelegram-p1-response")
    assert verdict["passed"] and verdict["fault"] == "memory-leak", verdict
    assert verdict["injected"][0].startswith("fleet1: memory-leak:"), verdict["injected"]
    checks = [(c["name"], c["target"], c["ok"]) for c in verdict["checks"]]
    assert checks == [("runbook", "", True), ("healthy", "fleet1", True), ("unit_restarted", "fleet1", True),
                      ("healthy", "fleet2", True), ("healthy", "fleet3", True), ("undo", "", True)], checks
    # the run contained at nginx and named fleet1 only; the undo run put the site conf back byte for byte
    run_out = "\n".join(p.read_text() for p in Path(run_dir).glob("artifacts/*/stdout"))
    assert "Containment: concurrent connections a client at nginx 64 -> 8" in run_out
    assert "Suspect instances, memory growth (over 32 MB in 10 min): fleet1\n" in run_out
    assert "Resolution: restarted one at a time: fleet1\n" in run_out
    assert site.read_bytes() == site_before
    now = {h.name: service_unit_show(stack, h, services.MCP_UNIT)["MainPID"] for h in stack.serving_hosts()}
    assert now["fleet1"] != before["fleet1"] and [now["fleet2"], now["fleet3"]] == [before["fleet2"], before["fleet3"]]
    assert stack_secrets_leaked(stack, run_dir, out) == []
