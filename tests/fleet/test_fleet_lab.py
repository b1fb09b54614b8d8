"""`mcpops fleet up|status|down|break` on real hosts: systemd-nspawn, sshd with pinned host keys, the
gateway as a systemd unit."""

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from mcpops.lab.fleet.host import keygen
from mcpops.lab.http_client import http_json
from fleet_helpers import nspawn_processes

MCPOPS = str(Path(sys.executable).parent / "mcpops")


def port_open(address, port):
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((address, port)) == 0


def mcpops_fleet(fleet, *args):
    return subprocess.run([MCPOPS, "fleet", "--dir", str(fleet.state_dir), *args], capture_output=True,
                          text=True, timeout=600)


def test_up_status_down_leaves_nothing_running(make_fleet):
    from mcpops.lab.fleet.image import Image

    marker = Image().marker
    built = marker.stat().st_mtime if marker.exists() else None
    fleet = make_fleet(2)
    if built is not None:
        assert marker.stat().st_mtime == built  # the cached image is reused, not rebuilt
    status = fleet.status()
    assert status["healthy"], status
    first, second = fleet.net + ".11", fleet.net + ".12"
    assert [h["address"] for h in status["hosts"]] == [first, second]
    nspawns, inside = nspawn_processes(fleet)
    assert len(nspawns) == 2 and len(inside) >= 2 * 4  # systemd, journald, sshd, the gateway at least
    for host in fleet.hosts():
        # The gateway is the systemd unit, on the host's own address, answering for the host's own data.
        assert fleet.run(host, ["systemctl", "is-active", "onec-mcp-gateway"]).stdout.strip() == "active"
        code, meta = http_json(host.api_url + "/api/system/storage-meta", token=host.admin_token())
        assert code == 200 and meta["schemaVersion"] == 3
    inventory = (fleet.inventory_dir / "hosts.yml").read_text()
    assert first in inventory and str(fleet.state_dir) in inventory
    assert "gateway_platform: systemd" in (fleet.inventory_dir / "group_vars" / "gateways.yml").read_text()

    cli = mcpops_fleet(fleet, "status")
    assert cli.returncode == 0 and cli.stdout.count("onec-mcp-gateway active") == 2, cli.stdout + cli.stderr
    down = mcpops_fleet(fleet, "down")
    assert down.returncode == 0, down.stderr
    for pid in nspawns | inside:
        assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split(")")[-1].split()[0] == "Z"
    for address in (first, second):
        assert not port_open(address, 22) and not port_open(address, 3000)
    again = mcpops_fleet(fleet, "down")
    assert again.returncode == 0 and "nothing was running" in again.stdout
    assert mcpops_fleet(fleet, "status").returncode == 1  # not healthy: every host powered off


def test_ssh_with_the_pinned_key_works_and_a_wrong_host_key_is_refused(make_fleet, tmp_path):
    fleet = make_fleet(2)
    one, two = fleet.hosts()
    ok = fleet.ssh(one, "hostname")
    assert ok.returncode == 0 and ok.stdout.strip() == "fleet1", ok.stderr
    # Another host's key for this address (a machine in the middle, as far as ssh can tell): refused.
    swapped = tmp_path / "swapped_known_hosts"
    swapped.write_text(two.known_hosts_line().replace(two.address, one.address, 1))
    refused = fleet.ssh(one, "true", known_hosts=swapped)
    assert refused.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in refused.stderr or "verification failed" in refused.stderr
    # A key nobody pinned: refused too (no StrictHostKeyChecking=no anywhere).
    keygen(tmp_path / "stranger", "stranger")
    stranger = tmp_path / "stranger_known_hosts"
    stranger.write_text("%s %s\n" % (one.address, " ".join((tmp_path / "stranger.pub").read_text().split()[:2])))
    assert fleet.ssh(one, "true", known_hosts=stranger).returncode == 255
    unknown = tmp_path / "empty_known_hosts"
    unknown.write_text("")
    assert fleet.ssh(one, "true", known_hosts=unknown).returncode == 255
    # The inventory's ssh settings are the pinned ones: ansible reaches every host over real SSH.
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible"), "gateways", "-i", str(fleet.inventory_dir),
                           "-m", "ansible.builtin.command", "-a", "hostname"], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fleet1 | CHANGED" in proc.stdout and "fleet2 | CHANGED" in proc.stdout


def test_faults_unreachable_poweroff_stop_crash_and_up_again(make_fleet):
    fleet = make_fleet(2)
    one, two = fleet.hosts()

    # An ssh master kept open (ControlPersist, as Ansible keeps them) must not outlive the fault.
    control = os.path.join(tempfile.mkdtemp(prefix="cm-"), "%C")  # short: a socket path has 108 bytes at most
    master = ["-o", "ControlMaster=auto", "-o", "ControlPath=" + control, "-o", "ControlPersist=120"]
    argv = fleet.ssh_argv(two, "true")
    through_master = argv[:1] + master + argv[1:]
    assert subprocess.run(through_master, capture_output=True, timeout=60).returncode == 0
    out = fleet.break_("fleet2", "unreachable")
    assert "stopped sshd" in out and "ended its" in out
    assert fleet.ssh(two, "true").returncode == 255
    assert subprocess.run(through_master, capture_output=True, timeout=60).returncode == 255
    assert http_json(two.api_url + "/healthz")[0] == 200  # cut off, not down

    crash = fleet.break_("fleet1", "crash")
    assert "systemd restarted it" in crash and "healthy" in crash
    fleet.break_("fleet1", "stop")
    assert http_json(one.api_url + "/healthz")[0] is None
    assert fleet.run(one, ["systemctl", "is-active", "onec-mcp-gateway"], check=False).stdout.strip() == "inactive"

    nspawn = fleet.pid(two)
    fleet.break_("fleet2", "poweroff")
    assert fleet.pid(two) is None and not os.path.exists("/proc/%d" % nspawn)
    assert not port_open(two.address, 3000)
    status = fleet.status()
    assert [h["running"] for h in status["hosts"]] == [True, False]

    bad = mcpops_fleet(fleet, "break", "fleet1", "no-such-fault")
    assert bad.returncode == 4 and "unknown fault" in bad.stderr

    # up again: the powered-off host boots, the stopped gateway starts, with the same data and keys.
    fleet.up(2)
    assert fleet.status()["healthy"]
    assert fleet.ssh(two, "true").returncode == 0


def test_nothing_is_left_half_started(tmp_path, monkeypatch):
    from mcpops.lab.fleet.host import FleetHost
    from mcpops.lab.fleet.lab import FleetError, FleetLab

    fleet = FleetLab(tmp_path / "state", inventory_dir=tmp_path / "inv")
    # An address already taken: refused before anything boots.
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the previous test's TIME_WAIT
        taken.bind((fleet.net + ".12", 3000))
        taken.listen()
        try:
            fleet.up(2)
        except FleetError as exc:
            assert fleet.net + ".12:3000 already in use" in str(exc) and "Nothing was started" in str(exc)
        else:
            raise AssertionError("up succeeded on a taken address")
    assert not (tmp_path / "inv" / "hosts.yml").exists()
    # A host that dies during boot: the hosts booted by this `up` are powered off again.
    real_argv = FleetHost.nspawn_argv

    def argv(host, rootfs, src):
        return real_argv(host, rootfs, src) + (["--no-such-option"] if host.name == "fleet2" else [])

    monkeypatch.setattr(FleetHost, "nspawn_argv", argv)
    try:
        fleet.up(2)
    except FleetError as exc:
        assert "fleet2: systemd-nspawn pid" in str(exc) and "exited during boot" in str(exc)
    else:
        fleet.down()
        raise AssertionError("up succeeded with a host that cannot boot")
    assert [fleet.pid(h) for h in fleet.hosts()] == [None, None]
    assert not port_open(fleet.net + ".11", 22) and not port_open(fleet.net + ".11", 3000)
    assert not (tmp_path / "inv" / "hosts.yml").exists()
    info = fleet.read_info()
    assert [h["pid"] for h in info["hosts"].values()] == [None, None]
