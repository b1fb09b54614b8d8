"""Fixtures for the fleet tests: real Debian hosts under systemd-nspawn, real sshd and systemd.

They need root (systemd-nspawn); as another user every test here is skipped with that reason. The image
is built on first use (debootstrap from the Debian mirror, a few minutes) and cached outside the clone.
The hosts use the fixed addresses 127.0.0.11... so the tests boot one fleet at a time.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcpops.lab.fleet.lab import FleetLab

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="the fleet lab boots hosts with systemd-nspawn, which needs root")
    for item in items:
        if "tests/fleet/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.fixture
def make_fleet(tmp_path):
    """make_fleet(n) -> a running FleetLab of n hosts in tmp_path; every fleet made is downed at the end."""
    made = []

    def make(count):
        fleet = FleetLab(tmp_path / ("fleet%d" % len(made)), inventory_dir=tmp_path / ("inventory%d" % len(made)))
        made.append(fleet)
        fleet.up(count)
        return fleet

    yield make
    for fleet in made:
        fleet.down()


def run_playbook(fleet, playbook, *args):
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
               ANSIBLE_NOCOLOR="1", PATH="%s:%s" % (BIN, env.get("PATH", "")), no_proxy="127.0.0.1,localhost")
    cmd = [str(BIN / "ansible-playbook"), playbook, "-i", str(fleet.inventory_dir)] + list(args)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def nspawn_processes(fleet):
    """PIDs of every process in every host's PID namespace, and the systemd-nspawn PIDs themselves."""
    leaders = {}
    for host in fleet.hosts():
        pid = fleet.pid(host)
        if pid:
            leaders[pid] = os.readlink("/proc/%d/ns/pid" % host.leader_pid(pid))
    namespaces = set(leaders.values())
    inside = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink("/proc/%s/ns/pid" % entry) in namespaces:
                    inside.add(int(entry))
            except OSError:
                pass
    return set(leaders), inside
