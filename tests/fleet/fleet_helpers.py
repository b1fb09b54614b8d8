"""Helpers shared by the fleet tests: run a playbook on a fleet, list a fleet's processes."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


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
