"""One ansible-playbook run against the session's LEGO stack (tests/integration/lego/conftest.py: `lego_stack`), as
every LEGO test runs them: the stack's inventory (mcpops.lab.lego.inventory) written once into `inventory_dir`, the
incident report into `report_dir`, the time printed (pytest shows it for a failing test)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from mcpops.lab.lego.inventory import write_inventory

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent


def lego_inventory(stack, directory):
    """The stack's inventory dir (hosts.yml + group_vars), written into `directory` unless it is there already."""
    directory = Path(directory)
    if not (directory / "hosts.yml").is_file():
        write_inventory(stack, directory)
    return directory


def run_lego_playbook(inventory_dir, report_dir, playbook, extra=None, flags=(), timeout=900):
    """The CompletedProcess of `playbook` (a name under playbooks/, or a path) with the extra vars `extra`."""
    path = Path(playbook) if "/" in str(playbook) else ROOT / "playbooks" / ("%s.yml" % playbook)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", MCPOPS_REPORT_DIR=str(report_dir),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    env.pop("KUBECONFIG", None)  # only what the inventory says reaches the API server
    values = dict(extra or {}, ansible_python_interpreter=sys.executable)
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(Path(inventory_dir) / "hosts.yml"), str(path),
                           "-e", json.dumps(values)] + list(flags),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    print("%s %s: %.1fs, exit %d" % (path.name, " ".join(flags), time.monotonic() - started, proc.returncode))
    return proc


def report(report_dir):
    """The run's report.json (plugins/callback/incident_report.py)."""
    return json.loads((Path(report_dir) / "report.json").read_text())
