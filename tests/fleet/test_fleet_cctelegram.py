"""`mcpops fleet up --service cctelegram-mcp`: three Debian hosts, each running the reference cctelegram-mcp and
cctelegram-bridge as systemd units on its own loopback address, the API key in a 0600 file; the fleet's
CCTelegram faults (unhealthy, healthy, bridge-down, crash-loop, stop), each seen by systemd and over HTTP.

One fleet for the module (booting one costs most of the time); the tests run in file order and each leaves
the fleet healthy again for the next."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mcpops.lab.fleet import services
from mcpops.lab.fleet.errors import FleetError
from mcpops.lab.fleet.lab import FleetLab
from fleet_helpers import BIN, REPO, cctelegram_fleet, cctelegram_health, journal, out, wait_cctelegram_health

MCPOPS = str(Path(sys.executable).parent / "mcpops")
UNITS = (services.MCP_UNIT, services.BRIDGE_UNIT)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with cctelegram_fleet(tmp_path_factory.mktemp("cctelegram"), 3) as fleet:
        yield fleet


def active(fleet, host, unit):
    return fleet.run(host, ["systemctl", "is-active", unit], check=False).stdout.strip()


def mcpops_fleet(fleet, *args):
    return subprocess.run([MCPOPS, "fleet", "--dir", str(fleet.state_dir), *args], capture_output=True, text=True,
                          timeout=300)


def test_three_hosts_serve_cctelegram_with_their_own_key(fleet):
    hosts = fleet.hosts()
    assert [h.address for h in hosts] == ["%s.%d" % (fleet.net, 11 + i) for i in range(3)]
    keys = {h.name: h.api_key() for h in hosts}
    assert len(set(keys.values())) == 3  # each host its own key
    for host in hosts:
        for unit in UNITS:
            assert active(fleet, host, unit) == "active", (host.name, unit)
            assert fleet.run(host, ["systemctl", "is-enabled", unit], check=False).stdout.strip() == "enabled"
        assert active(fleet, host, "onec-mcp-gateway") != "active"
        assert cctelegram_health(host) == 200
        assert cctelegram_health(host, api_key="") == 401
        other = next(k for name, k in keys.items() if name != host.name)
        assert cctelegram_health(host, api_key=other) == 401
        # The key file: 0600 in a 0700 dir on this side, named (not held) by the unit.
        assert stat.S_IMODE(host.api_key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(host.cctelegram_etc.stat().st_mode) == 0o700
        shown = fleet.run(host, ["systemctl", "show", services.MCP_UNIT, "--property=Environment"]).stdout
        assert "CCTELEGRAM_API_KEY_FILE=/etc/cctelegram/api_key" in shown and keys[host.name] not in shown
        # The service's own log dir and state dir, as the profile names them.
        assert fleet.run(host, ["test", "-f", services.LOG_DIR + "/application.log"], check=False).returncode == 0
    status = fleet.status()
    assert status["healthy"], status
    assert {(h["unit"], h["gateway"], h["healthz"]) for h in status["hosts"]} == {("cctelegram-mcp", "active", 200)}
    cli = mcpops_fleet(fleet, "status")
    assert cli.returncode == 0 and cli.stdout.count("cctelegram-mcp active  health 200") == 3, out(cli)


def test_the_inventory_names_the_service_and_reads_the_key_from_its_file(fleet):
    group_vars = (fleet.inventory_dir / "group_vars" / "gateways.yml").read_text()
    for line in ("mcp_service: cctelegram-mcp", "gateway_platform: systemd", "gateway_service_name: cctelegram-mcp",
                 'gateway_api_url: "http://{{ ansible_host }}:8080"'):
        assert line in group_vars
    assert "lookup('ansible.builtin.file', mcpops_fleet_dir ~ '/hosts/' ~ inventory_hostname ~ " \
           "'/etc-cctelegram/api_key')" in group_vars
    keys = [h.api_key() for h in fleet.hosts()]
    for path in fleet.inventory_dir.rglob("*"):
        if path.is_file() and any(k in path.read_text() for k in keys):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # What Ansible makes of it, over SSH with the fleet's key: each host's URL and key answer 200. (no_target_syslog:
    # a module logs its arguments to the target's journal, and uri's headers are not no_log; the collection's
    # service_health takes the key as a no_log option instead.)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_NO_TARGET_SYSLOG="1",
               no_proxy="127.0.0.1,localhost")
    proc = subprocess.run(
        [str(BIN / "ansible"), "gateways", "-i", str(fleet.inventory_dir), "-m", "ansible.builtin.uri", "-a",
         "url={{ gateway_api_url }}/health headers={{ {'X-API-Key': cctelegram_api_key} }}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and len(re.findall(r'"?status"?: 200', proc.stdout)) == 3, out(proc)
    for key in keys:
        assert key not in proc.stdout + proc.stderr


def test_unhealthy_on_one_host_only_then_healthy(fleet):
    one, two, three = fleet.hosts()
    said = fleet.break_(one.name, "unhealthy")
    assert "answers 503" in said, said
    assert cctelegram_health(one) == 503
    assert cctelegram_health(two) == 200 and cctelegram_health(three) == 200
    assert active(fleet, one, services.MCP_UNIT) == "active"  # unhealthy, not down
    said = fleet.break_(one.name, "healthy")
    assert "answers 200" in said, said
    assert cctelegram_health(one) == 200


def test_bridge_down_makes_health_503_and_a_restart_brings_the_bridge_back(fleet):
    two = fleet.hosts()[1]
    said = fleet.break_(two.name, "bridge-down")
    assert "answers 503" in said, said
    assert active(fleet, two, services.BRIDGE_UNIT) == "inactive"
    assert active(fleet, two, services.MCP_UNIT) == "active"
    assert cctelegram_health(two) == 503
    # What a restart remedy does: cctelegram-mcp Wants= the bridge, so restarting it starts the bridge too.
    fleet.run(two, ["systemctl", "restart", services.MCP_UNIT], timeout=120)
    wait_cctelegram_health(two, 200)
    assert active(fleet, two, services.BRIDGE_UNIT) == "active"


def test_crash_loop_ends_failed_and_up_repairs_it(fleet):
    three = fleet.hosts()[2]
    said = fleet.break_(three.name, "crash-loop")
    state = three.unit_state(fleet.pid(three))
    assert state["ActiveState"] == "failed" and state["Result"] in ("exit-code", "start-limit-hit"), (state, said)
    assert cctelegram_health(three) is None  # nothing listens
    assert active(fleet, three, services.BRIDGE_UNIT) == "active"
    # The unit says why in the journal, as a real misconfiguration would (the key file's name, not a key).
    assert "api_key.missing" in journal(fleet, three, services.MCP_UNIT)
    # `up` on the running fleet clears the lab's faults and starts the units again, without a reboot.
    before = fleet.pid(three)
    result = fleet.up(3)
    assert result["started"] == [] and fleet.pid(three) == before
    assert cctelegram_health(three) == 200


def test_stop_and_an_unknown_fault(fleet):
    one = fleet.hosts()[0]
    said = fleet.break_(one.name, "stop")
    assert said.startswith("stop: systemctl stop cctelegram-mcp")
    assert active(fleet, one, services.MCP_UNIT) == "inactive"
    assert cctelegram_health(one) is None
    cli = mcpops_fleet(fleet, "break", one.name, "corrupt-store")  # a 1C gateway fault, not this fleet's
    assert cli.returncode == 4 and "faults of a cctelegram-mcp fleet: " in cli.stderr, out(cli)
    assert "crash-loop" in cli.stderr
    cli = mcpops_fleet(fleet, "up", "--hosts", "3", "--inventory", str(fleet.inventory_dir))  # keeps its service
    assert cli.returncode == 0 and "cctelegram-mcp :8080" in cli.stdout, out(cli)
    assert cctelegram_health(one) == 200


def test_a_running_fleet_is_not_rebooted_as_another_service(fleet):
    with pytest.raises(FleetError, match="runs cctelegram-mcp; `mcpops fleet down` first"):
        FleetLab(fleet.state_dir, inventory_dir=fleet.inventory_dir, service="onec-gateway").up(3)
    assert all(cctelegram_health(h) == 200 for h in fleet.hosts())


def test_the_key_is_in_no_journal_and_no_log(fleet):
    for host in fleet.hosts():
        key = host.api_key()
        assert key not in journal(fleet, host)  # the whole journal of the host, every field
        logs = fleet.run(host, ["sh", "-c", "cat %s/*.log" % services.LOG_DIR]).stdout
        assert "401" in logs or "auth" in logs.lower()  # the refused requests above were logged ...
        assert key not in logs  # ... without the key
