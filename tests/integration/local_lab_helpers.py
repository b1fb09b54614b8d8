"""The local lab as the playbook tests use it: start one on a free port, wait for its program state, and
read its data dir (digest, backups). Shared by tests/integration/playbooks/ and the mcpops command tests."""

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from loopback import free_port
from mcpops.lab.local.lab import LocalLab

BIN = Path(sys.executable).parent


def make_lab(path):
    lab = LocalLab(path, listen="127.0.0.1:%d" % free_port())
    lab.up()
    return lab


def wait_state(lab, wanted, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = lab.program_state()
        if state in wanted:
            return state
        time.sleep(0.5)
    raise AssertionError("program state %s, wanted one of %s" % (lab.program_state(), wanted))


def data_dir_digest(data_dir):
    """sha256 over every file's relative path and bytes, backups included."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(data_dir).rglob("*") if p.is_file()):
        h.update(str(path.relative_to(data_dir)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def backups_in(lab):
    return sorted(p.name for p in Path(lab.data_dir, "backups").iterdir() if not p.name.startswith("."))


def lab_host_vars(lab):
    """The inventory vars of one local lab as a host of the `gateways` group (supervisor, local connection)."""
    info = lab.read_info()
    return {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "gateway_platform": "supervisor",
        "gateway_service_name": info["service_name"],
        "gateway_supervisor_config": info["supervisor_config"],
        "gateway_supervisorctl_path": str(BIN / "supervisorctl"),
        "gateway_data_dir": info["data_dir"],
        "gateway_api_url": info["api_url"],
        "gateway_admin_token": lab.admin_token(),
        # the lab's forensic key (issue 24): safety backups and triage bundles are sealed with it
        "mcpops_forensic_key_file": info.get("forensic_key_file") or str(Path(info["secrets_dir"]) / "forensic.key"),
        "gateway_foreground_argv": [sys.executable, "-m", "mcpops.lab.gateway"],
        "gateway_foreground_chdir": info["state_dir"],
        # as inventories/lab: every change is audited under the lab's break-glass account (roles/operator_identity)
        "mcpops_break_glass_account": "lab-break-glass",
    }


def write_inventory(path, hosts):
    """A JSON inventory at path: hosts ({name: vars}) in the `gateways` group."""
    path.write_text(json.dumps({"all": {"children": {"gateways": {"hosts": hosts}}}}))
    return path


def open_sealed(lab, path):
    """The clear bytes of a forensic copy (a sealed safety backup file, a triage bundle) sealed with lab's key."""
    # imported here: the collection is importable once pytest's rootdir conftest put collections/ on the path
    from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.forensic_key import read_key_file
    from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.sealed_file import open_into
    with tempfile.TemporaryDirectory() as scratch:
        clear = os.path.join(scratch, "clear")
        open_into(read_key_file(lab.read_info()["forensic_key_file"]), str(path), clear)
        with open(clear, "rb") as handle:
            return handle.read()
