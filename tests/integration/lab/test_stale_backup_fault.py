"""The local lab's stale-backup fault (`mcpops lab break stale-backup`) on a real lab: the gateway's own
onec_gateway_last_backup_timestamp_seconds goes past OnecGatewayBackupStale's 26 h because every backup's manifest
(createdAt) and mtimes are dated 30 h back, nothing else of a backup changes, a second break does not move them
further, and the repair puts the true dates back. Each test stops its lab in a finalizer."""

import json
import re
import time
import urllib.request
from pathlib import Path

import pytest

from local_lab_helpers import backups_in, make_lab
from mcpops.lab.http_client import http_json
from mcpops.lab.local import faults
from mcpops.lab.local.errors import LabError

STALE_AFTER = 26 * 3600  # OnecGatewayBackupStale's threshold (extensions/prometheus/rules/onec-gateway.rules.yml)


@pytest.fixture
def lab(tmp_path):
    lab = make_lab(tmp_path / "lab")
    try:
        yield lab
    finally:
        lab.down()


def newest_backup_metric(lab):
    """The gateway's onec_gateway_last_backup_timestamp_seconds, as Prometheus scrapes it (None: no sample)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(lab.api_url + "/metrics", timeout=5) as answer:
        text = answer.read().decode()
    match = re.search(r"^onec_gateway_last_backup_timestamp_seconds(?:\{[^}]*\})? (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def manifests(lab):
    return {name: json.loads(Path(lab.data_dir, "backups", name, "manifest.json").read_text())
            for name in backups_in(lab)}


def take_backup(lab):
    time.sleep(1.1)  # backup ids have one-second resolution
    status, body = http_json(lab.api_url + "/api/system/backups", method="POST", token=lab.admin_token(), body={},
                             timeout=60)
    assert status == 201, body


def test_stale_backup_ages_the_gateways_own_metric_past_the_alert_and_the_repair_takes_it_back(lab):
    take_backup(lab)  # two backups: both are aged, the newest decides the metric
    before = manifests(lab)
    assert len(before) == 2
    fresh = newest_backup_metric(lab)
    assert time.time() - fresh < 120

    said = lab.break_("stale-backup")
    assert "2 backup(s)" in said and "dated 30 h back" in said
    aged = manifests(lab)
    for name, manifest in aged.items():
        # only createdAt moved, by exactly STALE_BACKUP_HOURS; the files and their hashes are the backup's own
        assert {k: v for k, v in manifest.items() if k != "createdAt"} == \
            {k: v for k, v in before[name].items() if k != "createdAt"}
        shift = faults._epoch(before[name]["createdAt"]) - faults._epoch(manifest["createdAt"])
        assert shift == faults.STALE_BACKUP_HOURS * 3600
        assert abs(Path(lab.data_dir, "backups", name).stat().st_mtime - faults._epoch(manifest["createdAt"])) < 1
    stale = newest_backup_metric(lab)
    assert stale == fresh - faults.STALE_BACKUP_HOURS * 3600 and time.time() - stale > STALE_AFTER
    record = json.loads(Path(lab.state_dir, "faults", "stale-backup.json").read_text())
    assert record["true_dates"] == {name: m["createdAt"] for name, m in before.items()}

    lab.break_("stale-backup")  # twice: the same dates, never a further 30 h back
    assert manifests(lab) == aged

    assert faults.repair(lab, "stale-backup") == "stale-backup: 2 backup(s) have their true dates again"
    assert manifests(lab) == before and newest_backup_metric(lab) == fresh
    assert not Path(lab.state_dir, "faults", "stale-backup.json").exists()
    assert faults.repair(lab, "stale-backup").startswith("stale-backup: nothing to repair")


def test_a_backup_taken_after_the_fault_is_fresh_and_the_repair_leaves_it_alone(lab):
    lab.break_("stale-backup")
    take_backup(lab)  # what backup-scheduled does: the metric is fresh again
    assert time.time() - newest_backup_metric(lab) < 120
    newest = max(manifests(lab).items(), key=lambda item: item[1]["createdAt"])
    faults.repair(lab, "stale-backup")
    assert manifests(lab)[newest[0]] == newest[1]


def test_stale_backup_without_a_backup_is_refused_and_touches_nothing(lab):
    for name in backups_in(lab):  # the lab's own backup from `up`
        backup = Path(lab.data_dir, "backups", name)
        for path in sorted(backup.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        backup.rmdir()
    with pytest.raises(LabError, match="no backup under .* to age"):
        lab.break_("stale-backup")
    assert not Path(lab.state_dir, "faults", "stale-backup.json").exists()
    with pytest.raises(LabError, match="cannot undo auth-spike itself"):
        faults.repair(lab, "auth-spike")
