"""INC-003 end to end: the local lab (real supervisord, real reference gateway) is broken the way the
runbook describes, then `ansible-playbook playbooks/inc-003-restore.yml` is run against it."""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcpops.lab.http_client import http_json
from local_lab_helpers import backups_in, data_dir_digest, make_lab, wait_state  # noqa: F401 (test_inc003 names)

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


@pytest.fixture
def lab(tmp_path):
    lab = make_lab(tmp_path / "lab")
    yield lab
    lab.down()


def run_playbook(lab_dir, *args, inventory="inventories/lab"):
    env = dict(os.environ)
    env.update(
        MCPOPS_LAB_DIR=str(lab_dir),
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
        ANSIBLE_NOCOLOR="1",
        PATH="%s:%s" % (BIN, env.get("PATH", "")),
        no_proxy="127.0.0.1,localhost",
    )
    cmd = [str(BIN / "ansible-playbook"), "playbooks/inc-003-restore.yml", "-i", str(inventory)] + list(args)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    return proc


def storage_meta(lab):
    status, body = http_json(lab.api_url + "/api/system/storage-meta", token=lab.admin_token())
    assert status == 200, body
    return body


def assert_no_secret(lab, *texts):
    for secret in (lab.admin_token(), lab.mcp_token()):
        assert len(secret) > 16
        for text in texts:
            assert secret not in text


def test_corrupt_store_restored_to_healthy(lab):
    before = storage_meta(lab)
    [initial_backup] = backups_in(lab)
    lab.break_("corrupt-store")
    wait_state(lab, {"BACKOFF", "FATAL"})
    corrupt = Path(lab.data_dir, "tokens.json").read_bytes()

    proc = run_playbook(lab.state_dir)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]

    assert lab.program_state() == "RUNNING"
    after = storage_meta(lab)
    assert after["schemaVersion"] == 3
    assert all(store["ok"] for store in after["stores"].values())
    assert after["stores"]["tokens"]["records"] == before["stores"]["tokens"]["records"]
    # The restored backup is the lab's own, and a safety backup holds the corrupt bytes for the review.
    assert "Restored backup %s" % initial_backup in proc.stdout
    safety = [b for b in backups_in(lab) if "-pre-restore-" in b]
    assert len(safety) == 1 and safety[0] in proc.stdout
    assert Path(lab.data_dir, "backups", safety[0], "data", "tokens.json").read_bytes() == corrupt
    assert "MCP checks: healthy, no write tools on production" in proc.stdout
    assert_no_secret(lab, proc.stdout, proc.stderr)


def test_bad_migration_restored_to_healthy(lab):
    lab.break_("bad-migration")
    wait_state(lab, {"BACKOFF", "FATAL"})
    proc = run_playbook(lab.state_dir)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    meta = storage_meta(lab)
    assert meta["schemaVersion"] == 3
    assert "099_future" not in meta["appliedMigrations"]


def test_check_mode_leaves_the_data_dir_byte_identical(lab):
    lab.break_("corrupt-store")
    # Hash once supervisor has given up: a crash-looping gateway rewrites its own lock file.
    wait_state(lab, {"FATAL"}, timeout=60)
    digest = data_dir_digest(lab.data_dir)
    proc = run_playbook(lab.state_dir, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Check mode: would restore backup %s" % backups_in(lab)[0] in proc.stdout
    assert "tokens.json" in proc.stdout  # the diff names the file the restore would change
    assert data_dir_digest(lab.data_dir) == digest
    assert lab.program_state() == "FATAL"


def test_bad_backup_id_is_refused_before_anything_is_touched(lab):
    digest_backups = sorted(backups_in(lab))
    lab.break_("corrupt-store")
    wait_state(lab, {"FATAL"}, timeout=120)  # supervisor gave up: a state no step of the run would leave alone
    corrupt = Path(lab.data_dir, "tokens.json").read_bytes()
    proc = run_playbook(lab.state_dir, "-e", "backup_id=../../etc")
    assert proc.returncode == 2, proc.stdout[-4000:]
    assert "Bad input: backup_id must be latest_valid or a backup id" in proc.stdout
    assert "got ../../etc. Nothing was changed." in " ".join(proc.stdout.split())
    assert "Step 1: Stop the gateway" not in proc.stdout
    assert lab.program_state() == "FATAL"  # not stopped, not started: untouched
    assert Path(lab.data_dir, "tokens.json").read_bytes() == corrupt
    assert sorted(backups_in(lab)) == digest_backups


def test_one_host_fails_the_other_recovers(tmp_path):
    """Two gateways in one inventory: one has no valid backup left. That host is reported and left
    stopped; the other is restored and healthy."""
    good = make_lab(tmp_path / "good")
    bad = make_lab(tmp_path / "bad")
    try:
        for lab in (good, bad):
            lab.break_("corrupt-store")
        # Tamper with every backup of the bad host: none passes verification any more.
        for manifest in Path(bad.data_dir, "backups").glob("*/manifest.json"):
            data = manifest.parent / "data" / "tokens.json"
            data.write_bytes(data.read_bytes() + b" ")
        inventory = tmp_path / "two-hosts.yml"
        hosts = {}
        for name, lab in (("gw-good", good), ("gw-bad", bad)):
            info = lab.read_info()
            hosts[name] = {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "gateway_platform": "supervisor",
                "gateway_service_name": info["service_name"],
                "gateway_supervisor_config": info["supervisor_config"],
                "gateway_supervisorctl_path": str(BIN / "supervisorctl"),
                "gateway_data_dir": info["data_dir"],
                "gateway_api_url": info["api_url"],
                "gateway_admin_token": lab.admin_token(),
            }
        inventory.write_text(json.dumps({"all": {"children": {"gateways": {"hosts": hosts}}}}))
        proc = run_playbook(good.state_dir, inventory=inventory)
        assert proc.returncode == 2, proc.stdout[-4000:]
        assert "INC-003 failed on gw-bad" in proc.stdout
        assert "No valid backup" in proc.stdout
        assert good.program_state() == "RUNNING"
        assert storage_meta(good)["schemaVersion"] == 3
        assert bad.program_state() == "STOPPED"
        assert_no_secret(good, proc.stdout, proc.stderr)
        assert_no_secret(bad, proc.stdout, proc.stderr)
    finally:
        good.down()
        bad.down()
