"""One ansible-playbook run of a Loyalty runbook against the shared compose lab's inventory, as both Loyalty playbook
test files run them (test_loyalty_playbooks_symptoms.py, test_loyalty_playbooks_changes.py)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]


def run_loyalty_playbook(lab, report_dir, name, flags, extra):
    """The CompletedProcess of playbooks/<name>.yml on the lab's `loyalty-compose` host with the extra vars `extra`,
    its incident report written into report_dir; its time is printed (pytest shows it for a failing test)."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", MCPOPS_REPORT_DIR=str(report_dir),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    for variable in ("DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT"):
        env.pop(variable, None)  # only what the inventory says reaches docker
    values = dict(extra, loyalty_hosts="loyalty-compose", ansible_python_interpreter=sys.executable)
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path),
                           str(ROOT / "playbooks" / ("%s.yml" % name)), "-e", json.dumps(values)] + list(flags),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    print("%s %s: %.1fs, exit %d" % (name, " ".join(flags), time.monotonic() - started, proc.returncode))
    return proc
