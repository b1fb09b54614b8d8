"""The morning health check (gateway health, backups age, overnight audit) against the local lab, through
`mcpops run` as cron runs it, its textfile metrics parsed with prometheus_client."""

import json

from prometheus_client.parser import text_string_to_metric_families

from local_lab_helpers import make_lab, wait_state
from mcpops_command import mcpops, only_run_dir


def samples(path):
    return {s.name: s.value for family in text_string_to_metric_families(path.read_text()) for s in family.samples}


def test_healthy_lab_then_stopped_gateway(tmp_path):
    lab = make_lab(tmp_path / "lab")
    try:
        metrics = tmp_path / "textfile"
        metrics.mkdir()
        # Read-only: no confirmation asked, even without a terminal.
        proc = mcpops("run", "health-check", "-i", "inventories/lab", "-e", f"metrics_dir={metrics}",
                      lab_dir=lab.state_dir, runs_dir=tmp_path / "ok")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        healthy = samples(metrics / "mcpops_health_check.prom")
        assert healthy["mcpops_gateway_healthy"] == 1 and healthy["mcpops_runbook_last_run_ok"] == 1
        assert 0 <= healthy["mcpops_last_backup_age_seconds"] < 3600  # the lab's first backup, taken at `lab up`
        assert healthy["mcpops_audit_auth_failed"] >= 0
        report = json.loads((only_run_dir(tmp_path / "ok") / "report.json").read_text())
        assert report["runbook"]["changes"] is False and report["status"] == "ok"
        # Neither certificates nor a database configured: both said so, no metrics of theirs.
        steps = {e["step"]: e["status"] for e in report["timeline"]}
        assert steps["Certificate days left: not configured, so not checked"] == "ok"
        assert steps["Step 5: Verify database health: not configured, so not checked"] == "ok"
        assert not [n for n in healthy if n.startswith(("mcpops_cert_", "mcpops_pg_"))]
        summary = " ".join(line for entry in report["summary"] for line in entry["lines"])
        assert "certificates: not configured" in summary and "PostgreSQL: not configured" in summary

        lab.break_("stop")
        wait_state(lab, {"STOPPED"})
        proc = mcpops("run", "health-check", "-i", "inventories/lab", "-e", f"metrics_dir={metrics}",
                      "-e", "max_backup_age_hours=1", lab_dir=lab.state_dir, runs_dir=tmp_path / "down")
        assert proc.returncode == 2, proc.stdout[-3000:]
        assert "Health check of lab-gateway found" in proc.stdout
        down = samples(metrics / "mcpops_health_check.prom")
        assert down["mcpops_gateway_healthy"] == 0 and down["mcpops_runbook_last_run_ok"] == 0
        assert sorted(p.name for p in metrics.iterdir()) == ["mcpops_health_check.prom"]
    finally:
        lab.down()
