"""The scheduled backup: the documented command (systemd unit's ExecStart, the cron line) run against the
local lab, retention applied, node_exporter textfile metrics parsed with prometheus_client; the
systemd units checked with systemd-analyze."""

import datetime
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from local_lab_helpers import backups_in, make_lab
from mcpops_command import mcpops, only_run_dir

REPO = Path(__file__).resolve().parents[3]
UNITS = REPO / "docs" / "scheduling"
DOC = REPO / "docs" / "scheduling.md"


@pytest.fixture
def lab(tmp_path):
    lab = make_lab(tmp_path / "lab")
    yield lab
    lab.down()


def documented_command():
    """The ExecStart of the documented systemd service, which the cron line in docs/scheduling.md repeats."""
    [line] = [l for l in (UNITS / "mcpops-backup.service").read_text().splitlines() if l.startswith("ExecStart=")]
    return line[len("ExecStart="):]


def localised(command, metrics_dir):
    """The documented command pointed at this checkout, the lab inventory and a temp textfile dir."""
    command = command.replace("/opt/mcpops-runbooks/.venv/bin/mcpops", str(Path(sys.executable).parent / "mcpops"))
    command = command.replace("/opt/mcpops-runbooks/inventories/production", str(REPO / "inventories" / "lab"))
    command = command.replace("/var/lib/node_exporter/textfile", str(metrics_dir))
    return shlex.split(command)


def metric_samples(path):
    return {s.name: (s.value, s.labels) for family in text_string_to_metric_families(path.read_text())
            for s in family.samples}


def test_the_cron_line_runs_the_systemd_units_command():
    cron = [l for l in DOC.read_text().splitlines() if re.match(r"^0 2 \* \* \* .*mcpops run", l)]
    assert len(cron) == 1, "docs/scheduling.md has one `0 2 * * *` crontab line running mcpops"
    assert documented_command().replace("/opt/mcpops-runbooks/", "") in cron[0].replace("/opt/mcpops-runbooks/", "")


def test_scheduled_backup_with_retention_and_metrics(lab, tmp_path):
    metrics = tmp_path / "textfile"
    metrics.mkdir()
    [initial] = backups_in(lab)
    runs = tmp_path / "runs"
    args = localised(documented_command(), metrics)[1:] + ["-e", "keep_last=1"]
    proc = mcpops(*args, lab_dir=lab.state_dir, runs_dir=runs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]

    [newest] = backups_in(lab)  # keep_last=1: the backup just taken stays, the lab's first one is pruned
    assert newest != initial
    manifest = json.loads((Path(lab.data_dir) / "backups" / newest / "manifest.json").read_text())
    created = datetime.datetime.strptime(manifest["createdAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)

    # Only the two .prom files: no temp file of the atomic writes is left where node_exporter looks.
    assert sorted(p.name for p in metrics.iterdir()) == ["mcpops_backup_scheduled.prom", "mcpops_backup_scheduled_run.prom"]
    success = metric_samples(metrics / "mcpops_backup_scheduled.prom")
    age, labels = success["mcpops_last_backup_age_seconds"]
    assert labels == {"host": "lab-gateway", "runbook": "backup-scheduled"}
    assert 0 <= age < 3600
    assert success["mcpops_last_backup_timestamp_seconds"][0] == created.timestamp()
    assert success["mcpops_backups"][0] == 1
    assert success["mcpops_backups_pruned"][0] == 1
    now = datetime.datetime.now(datetime.timezone.utc).timestamp()
    assert created.timestamp() <= success["mcpops_runbook_last_success_timestamp"][0] <= now
    run = metric_samples(metrics / "mcpops_backup_scheduled_run.prom")
    assert run["mcpops_runbook_last_run_ok"][0] == 1

    report = json.loads((only_run_dir(runs) / "report.json").read_text())
    [taken] = [e for e in report["evidence"] if e["step"].startswith("Step 1:")]
    assert taken["facts"]["backup_id"] == newest
    [pruned] = [e for e in report["evidence"] if e["step"].startswith("Step 2:")]
    assert pruned["facts"]["removed"] == [initial]


def test_a_failed_run_says_so_in_the_metrics_and_keeps_the_last_success(lab, tmp_path):
    metrics = tmp_path / "textfile"
    metrics.mkdir()
    before = backups_in(lab)
    args = localised(documented_command(), metrics)[1:] + ["-e", "keep_last=0"]
    proc = mcpops(*args, lab_dir=lab.state_dir, runs_dir=tmp_path / "runs")
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "keep_last and max_age_days must be whole numbers" in proc.stdout
    assert backups_in(lab) == before
    assert not (metrics / "mcpops_backup_scheduled.prom").exists()
    assert metric_samples(metrics / "mcpops_backup_scheduled_run.prom")["mcpops_runbook_last_run_ok"][0] == 0


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed on this machine")
def test_the_systemd_units_verify(tmp_path):
    """systemd-analyze verify (it checks that ExecStart exists, hence the paths pointed at this checkout)."""
    service = (UNITS / "mcpops-backup.service").read_text()
    service = service.replace("/opt/mcpops-runbooks", str(REPO)).replace("User=mcpops", "User=root")
    (tmp_path / "mcpops-backup.service").write_text(service)
    shutil.copy(UNITS / "mcpops-backup.timer", tmp_path / "mcpops-backup.timer")
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "mcpops-backup.service"),
                           str(tmp_path / "mcpops-backup.timer")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    [when] = re.findall(r"^OnCalendar=(.*)$", (UNITS / "mcpops-backup.timer").read_text(), re.M)
    calendar = subprocess.run(["systemd-analyze", "calendar", when], capture_output=True, text=True, timeout=60)
    assert calendar.returncode == 0 and "Normalized form: *-*-* 02:00:00" in calendar.stdout
