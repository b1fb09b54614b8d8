"""Forensic copies of .data encrypted at rest (issue 24): INC-003's safety backup and triage's bundles on the local
lab (real supervisord, real reference gateway), sealed with the lab's 0600 key; opened with the documented way
(mcpops.runbooks.forensic_copy state=opened); a wrong key opens nothing."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from local_lab_helpers import make_lab, wait_state

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
CANARY = "CANARY-forensic-data-0024"


@pytest.fixture
def lab(tmp_path):
    lab = make_lab(tmp_path / "lab")
    yield lab
    lab.down()


def env_for(lab):
    env = dict(os.environ)
    env.update(MCPOPS_LAB_DIR=str(lab.state_dir), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"), ANSIBLE_NOCOLOR="1",
               PATH="%s:%s" % (BIN, env.get("PATH", "")), no_proxy="127.0.0.1,localhost")
    return env


def ansible(lab, *args, tool="ansible-playbook"):
    return subprocess.run([str(BIN / tool)] + list(args), cwd=REPO, env=env_for(lab), capture_output=True, text=True,
                          timeout=600)


def open_sealed(lab, src, dest, key_file):
    return ansible(lab, "localhost", "-m", "mcpops.runbooks.forensic_copy", "-a",
                   "state=opened src=%s dest=%s key_file=%s" % (src, dest, key_file), tool="ansible")


def stores_and_backups(lab):
    """The stores' bytes and every file under backups/ (not the logs the running gateway appends to)."""
    data = Path(lab.data_dir)
    files = sorted(data.glob("*.json")) + sorted(p for p in (data / "backups").rglob("*") if p.is_file())
    return {str(p.relative_to(data)): p.read_bytes() for p in files}


def every_byte(root):
    return b"".join(p.read_bytes() for p in Path(root).rglob("*") if p.is_file())


def test_safety_backup_and_triage_bundles_are_sealed_and_open_only_with_the_key(lab, tmp_path):
    key_file = Path(lab.read_info()["forensic_key_file"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    lab.break_("corrupt-store")
    wait_state(lab, {"BACKOFF", "FATAL"})
    Path(lab.data_dir, "notes.json").write_text(json.dumps({"note": CANARY}))

    proc = ansible(lab, "playbooks/inc-003-restore.yml", "-i", "inventories/lab")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    backups = Path(lab.data_dir, "backups")
    assert not [b for b in os.listdir(backups) if "-pre-restore-" in b]  # no clear safety backup
    [safety] = os.listdir(backups / ".sealed")
    sealed = backups / ".sealed" / safety
    assert stat.S_IMODE((backups / ".sealed").stat().st_mode) == 0o700 and stat.S_IMODE(sealed.stat().st_mode) == 0o700
    assert CANARY.encode() not in every_byte(sealed)
    assert stat.S_IMODE((sealed / "data" / "notes.json").stat().st_mode) == 0o600
    assert CANARY not in proc.stdout + proc.stderr and key_file.read_text().strip() not in proc.stdout + proc.stderr

    other = tmp_path / "other.key"
    other.write_text(os.urandom(32).hex())
    other.chmod(0o600)
    wrong = open_sealed(lab, sealed / "data" / "notes.json", tmp_path / "wrong.json", other)
    assert wrong.returncode != 0 and "another key" in wrong.stdout and not (tmp_path / "wrong.json").exists()
    right = open_sealed(lab, sealed / "data" / "notes.json", tmp_path / "notes.json", key_file)
    assert right.returncode == 0, right.stdout[-2000:]
    assert json.loads((tmp_path / "notes.json").read_text()) == {"note": CANARY}

    bundles = tmp_path / "bundles"
    triage = ansible(lab, "playbooks/triage.yml", "-i", "inventories/lab", "-e", "output_dir=%s" % bundles)
    assert triage.returncode == 0, triage.stdout[-4000:] + triage.stderr[-2000:]
    names = sorted(os.listdir(bundles))
    assert names and all(n.endswith(".sealed") for n in names), names
    assert stat.S_IMODE(bundles.stat().st_mode) == 0o700
    raw = every_byte(bundles)
    assert lab.admin_token().encode() not in raw and b'"health"' not in raw
    [json_bundle] = [n for n in names if n.endswith(".json.sealed")]
    opened = open_sealed(lab, bundles / json_bundle, tmp_path / "bundle.json", key_file)
    assert opened.returncode == 0, opened.stdout[-2000:]
    assert "health" in json.loads((tmp_path / "bundle.json").read_text())

    # Going back to the sealed safety backup with a key that does not open it: refused while the gateway still
    # runs (the same process), nothing in the data dir touched.
    wait_state(lab, {"RUNNING"})
    pid, stores = lab.gateway_pid(), stores_and_backups(lab)
    back = ansible(lab, "playbooks/inc-003-restore.yml", "-i", "inventories/lab", "-e", "backup_id=%s" % safety,
                   "-e", "mcpops_forensic_key_file=%s" % other)
    assert back.returncode != 0
    assert "another forensic key" in back.stdout and "the gateway was not stopped" in back.stdout, back.stdout[-3000:]
    assert "Step 1: Stop the gateway" not in back.stdout
    assert lab.program_state() == "RUNNING" and lab.gateway_pid() == pid
    assert stores_and_backups(lab) == stores

    # With the key it was sealed with, INC-003 goes back to a sealed safety backup: a restore of the healthy data
    # (plus a canary file) seals them; restoring that sealed id opens it, checks it and swaps it in.
    Path(lab.data_dir, "notes.json").write_text(json.dumps({"note": CANARY + "-2"}))
    again = ansible(lab, "playbooks/inc-003-restore.yml", "-i", "inventories/lab")
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    assert not Path(lab.data_dir, "notes.json").exists()
    [healthy_safety] = [b for b in os.listdir(backups / ".sealed") if b != safety and not b.startswith(".")]
    back = ansible(lab, "playbooks/inc-003-restore.yml", "-i", "inventories/lab", "-e", "backup_id=%s" % healthy_safety)
    assert back.returncode == 0, back.stdout[-4000:] + back.stderr[-2000:]
    assert "Restored backup %s" % healthy_safety in back.stdout
    assert json.loads(Path(lab.data_dir, "notes.json").read_text()) == {"note": CANARY + "-2"}
    assert lab.program_state() == "RUNNING"
    assert not [n for n in os.listdir(backups / ".sealed") if n.startswith(".open-")]  # no clear copy left behind
    assert CANARY not in again.stdout + again.stderr + back.stdout + back.stderr
