"""cctelegram-bridge-recovery.yml with ansible-playbook over SSH on a real cctelegram-mcp host under systemd
(`mcpops fleet up --service cctelegram-mcp`, one host on 127.0.24.x). Every "restarted", "killed" and "untouched" is
read from the host itself (systemctl show, /proc), never from what the playbook printed.

- bridge-down: the API says the bridge is not running, the API restart is requested (POST /tools/restart_bridge 202
  in the service's own log) but nothing on the host acts on it, the run says so and restarts the unit: bridge back;
- a hung bridge (its main process SIGSTOPped) with a straggler in the unit's cgroup that ignores SIGTERM, and a decoy
  outside it whose command line holds "cctelegram-bridge" (what `pkill -f` would hit): remedy=cleanup ends the hung
  main process and the straggler, leaves the decoy running, starts the bridge;
- --check (auto and cleanup) leaves every main PID and invocation as it was.
"""

import json
import time

import pytest

from mcpops.lab.fleet import services
from fleet_helpers import cctelegram_fleet, cctelegram_health, out, run_playbook, service_unit_show, wait_cctelegram_health

NET = "127.0.24"
MCP, BRIDGE = services.MCP_UNIT, services.BRIDGE_UNIT
DECOY = "c8-decoy-bridge"
PLAYBOOK = "playbooks/cctelegram-bridge-recovery.yml"
# A straggler of the bridge: moves itself into the bridge unit's own cgroup (each hierarchy the host has), then
# ignores SIGTERM and sleeps; started detached so that the ssh session ends.
STRAGGLER = r"""
G=system.slice/cctelegram-bridge.service
setsid sh -c "for d in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do \
  [ -f \$d/$G/cgroup.procs ] && echo \$\$ > \$d/$G/cgroup.procs; done; \
  exec python3 -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)' straggler" \
  </dev/null >/dev/null 2>&1 &
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("cctelegram-bridge-recovery")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MCPOPS_FLEET_NET", NET)
        mp.setenv("MCPOPS_RUNS_DIR", str(root / "runs"))
        with cctelegram_fleet(root, 1) as fleet:
            assert fleet.net == NET
            yield fleet


@pytest.fixture
def host(fleet):
    """The fleet's one host with no fault left: both units active, /health 200 with its key."""
    fleet.up(1)
    host = fleet.hosts()[0]
    wait_cctelegram_health(host, 200)
    return host


def show(fleet, host, unit):
    return service_unit_show(fleet, host, unit)


def sh(fleet, host, script):
    """script run by bash inside the host (nsenter: its argv is kept whole, as ssh would not keep it)."""
    proc = fleet.run(host, ["bash", "-c", script], check=False)
    assert proc.returncode == 0, (script, proc.stdout, proc.stderr)
    return proc.stdout.strip()


def alive(fleet, host, pid):
    """Whether pid is a live process on host (not gone, not a zombie)."""
    state = sh(fleet, host, "awk '/^State:/ {print $2}' /proc/%s/status 2>/dev/null || true" % pid)
    return state not in ("", "Z", "X")


def wait_for(check, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.2)


def flat(proc):
    return " ".join((proc.stdout + proc.stderr).split())


def logged(fleet, host, method, path, status):
    """How many `method path` requests cctelegram-mcp answered with status, from its application.log."""
    text = fleet.run(host, ["cat", services.LOG_DIR + "/application.log"]).stdout
    count = 0
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (entry.get("method"), entry.get("path"), entry.get("status")) == (method, path, status):
            count += 1
    return count


def test_bridge_down_api_restart_only_requests_then_the_unit_restart_recovers(fleet, host):
    fleet.break_(host.name, "bridge-down")
    mcp_before = show(fleet, host, MCP)
    requested_before = logged(fleet, host, "POST", "/tools/restart_bridge", 202)
    proc = run_playbook(fleet, PLAYBOOK, "-e", "bridge_wait=4")
    assert proc.returncode == 0, out(proc)
    text = flat(proc)
    assert "Step 1 status via the API: bridge not running" in text
    assert ("Step 2 API restart: requested (HTTP 202) but the bridge is not running after 4 s: the API only records "
            "the request") in text
    assert "Step 3 unit restart: cctelegram-bridge restarted and the bridge runs" in text
    assert "Step 4" not in text.split("TASK [Summary]")[-1]
    assert logged(fleet, host, "POST", "/tools/restart_bridge", 202) == requested_before + 1
    bridge = show(fleet, host, BRIDGE)
    assert bridge["ActiveState"] == "active" and bridge["MainPID"] != "0"
    mcp_after = show(fleet, host, MCP)
    assert (mcp_after["MainPID"], mcp_after["InvocationID"]) == (mcp_before["MainPID"], mcp_before["InvocationID"])
    assert cctelegram_health(host) == 200


def test_hung_bridge_cleanup_ends_only_the_units_own_processes(fleet, host):
    hung = show(fleet, host, BRIDGE)["MainPID"]
    sh(fleet, host, STRAGGLER)
    wait_for(lambda: sh(fleet, host, "pgrep -f '^python3 -c import signal.*straggler$' || true") != "", "the straggler")
    straggler = sh(fleet, host, "pgrep -f '^python3 -c import signal.*straggler$'")
    group = sh(fleet, host, "grep -h '^0::' /proc/%s/cgroup" % straggler)
    assert group.endswith("/system.slice/cctelegram-bridge.service"), group
    sh(fleet, host, "systemd-run --unit=%s python3 -c 'import time; time.sleep(600)' cctelegram-bridge >/dev/null 2>&1"
       % DECOY)
    try:
        decoy = show(fleet, host, DECOY + ".service")["MainPID"]
        assert decoy != "0"
        # what a pattern kill would hit: the decoy is one of `pgrep -f cctelegram-bridge`
        assert decoy in sh(fleet, host, "pgrep -f cctelegram-bridge").split()
        sh(fleet, host, "kill -STOP %s" % hung)
        wait_for(lambda: sh(fleet, host, "awk '/^State:/ {print $2}' /proc/%s/status" % hung) == "T", "the bridge stopped")

        proc = run_playbook(fleet, PLAYBOOK, "-e", "remedy=cleanup", "-e", "cleanup_grace=2")
        assert proc.returncode == 0, out(proc)
        text = flat(proc)
        assert "Step 1 status via the API: bridge not running" in text
        assert "Step 4 clean-up: cctelegram-bridge stopped" in text and "the bridge runs" in text
        assert "SIGKILL: %s" % straggler in text
        assert not alive(fleet, host, hung) and not alive(fleet, host, straggler)
        assert alive(fleet, host, decoy)
        assert show(fleet, host, DECOY + ".service")["MainPID"] == decoy
        bridge = show(fleet, host, BRIDGE)
        assert bridge["ActiveState"] == "active" and bridge["MainPID"] not in ("0", hung)
        assert cctelegram_health(host) == 200
    finally:
        sh(fleet, host, "systemctl stop %s; kill -CONT %s 2>/dev/null; pkill -KILL -f '^python3 -c import signal.*straggler$'; true"
           % (DECOY, hung))


def test_check_mode_changes_nothing(fleet, host):
    units = {u: show(fleet, host, u) for u in (MCP, BRIDGE)}
    proc = run_playbook(fleet, PLAYBOOK, "--check", "-e", "remedy=cleanup")
    assert proc.returncode == 0, out(proc)
    assert "Check mode: nothing was restarted, stopped or signalled" in flat(proc)
    for unit, before in units.items():
        after = show(fleet, host, unit)
        assert (after["MainPID"], after["InvocationID"]) == (before["MainPID"], before["InvocationID"]), unit

    fleet.break_(host.name, "bridge-down")
    units = {u: show(fleet, host, u) for u in (MCP, BRIDGE)}
    proc = run_playbook(fleet, PLAYBOOK, "--check")
    assert proc.returncode == 0, out(proc)
    assert "Step 3 unit restart: check mode, would restart cctelegram-bridge" in flat(proc)
    for unit, before in units.items():
        after = show(fleet, host, unit)
        assert (after["MainPID"], after["InvocationID"], after["ActiveState"]) == (
            before["MainPID"], before["InvocationID"], before["ActiveState"]), unit
    assert show(fleet, host, BRIDGE)["ActiveState"] != "active"
    assert cctelegram_health(host) == 503
