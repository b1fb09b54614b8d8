"""The morning health check (gateway health, backups age, overnight audit, the gateway's OTEL settings) against the
local lab, through `mcpops run` as cron runs it, its textfile metrics parsed with prometheus_client; both runs traced
(MCPOPS_OTLP_ENDPOINT) to a real OTLP receiver on loopback that decodes what it gets."""

import json
import secrets

from prometheus_client.parser import text_string_to_metric_families

from local_lab_helpers import make_lab, wait_state
from mcpops_command import files_containing, mcpops, only_run_dir
from otlp_receiver import OtlpReceiver


def samples(path):
    return {s.name: s.value for family in text_string_to_metric_families(path.read_text()) for s in family.samples}


def spans_match_the_timeline(spans, report):
    """One span per task and host under one span for the run: named as the task, with its step, host and status."""
    [root] = [s for s in spans if not s.parent_span_id]
    assert root.name == "health-check" and root.attributes["mcpops.runbook.id"] == "health-check"
    children = [s for s in spans if s.parent_span_id]
    assert all(s.parent_span_id == root.span_id and s.trace_id == root.trace_id for s in children)
    traced = [(s.name, s.attributes["mcpops.step"], s.attributes["ansible.task.host.name"],
               s.attributes["ansible.task.host.status"]) for s in sorted(children, key=lambda s: s.start_ns)]
    assert traced == [(e["task"], e["step"], e["host"], e["status"]) for e in report["timeline"]]
    return root, children


def test_healthy_lab_then_stopped_gateway(tmp_path):
    lab = make_lab(tmp_path / "lab")
    receiver = OtlpReceiver().start()
    try:
        metrics = tmp_path / "textfile"
        metrics.mkdir()
        # The gateway's own OTEL settings, as an operator writes them into its env file (a URL password in it).
        url_password = "pw" + secrets.token_hex(12)
        env_text = lab.env_file.read_text()
        lab.env_file.write_text(env_text + "ONEC_OTEL_ENABLED=1\nexport ONEC_OTEL_EXPORTER_OTLP_ENDPOINT="
                                f"\"http://otel:{url_password}@127.0.0.1:4318\"\n")
        canary = "canary" + secrets.token_hex(12)
        header_canary = "hdr" + secrets.token_hex(16)
        traced = {"MCPOPS_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=" + header_canary}
        # Read-only: no confirmation asked, even without a terminal.
        proc = mcpops("run", "health-check", "-i", "inventories/lab", "-e", f"metrics_dir={metrics}",
                      "-e", f"pg_login_password={canary}",
                      lab_dir=lab.state_dir, runs_dir=tmp_path / "ok", extra_env=traced)
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
        # The gateway's OTEL export, from its env file: on, the endpoint without its password; no other value of it.
        assert "gateway OTEL: export on to http://********@127.0.0.1:4318;" in summary
        env_values = [line.split("=", 1)[1] for line in env_text.splitlines() if "=" in line]
        assert env_values and not files_containing(tmp_path / "ok", env_values + [url_password, canary, header_canary])
        assert not [v for v in env_values + [url_password] if v in proc.stdout]

        # The trace: one span per task and host, its host and result, named as the report's steps; no secret in it.
        spans = receiver.wait_for_spans()
        root, children = spans_match_the_timeline(spans, report)
        assert root.attributes["ansible.run.status"] == "ok" and root.status == "OK"
        assert {s.attributes["ansible.task.host.status"] for s in children} >= {"ok", "skipped"}
        assert any(s.name.startswith("Step 1: Check service health: the gateway's own OTEL export") for s in children)
        bodies = receiver.bodies()
        for secret in env_values + [url_password, canary, header_canary, lab.admin_token()]:
            assert secret.encode() not in bodies
        assert all(h.get("x-api-key") == header_canary for h in receiver.headers())
        receiver.clear()

        lab.break_("stop")
        wait_state(lab, {"STOPPED"})
        proc = mcpops("run", "health-check", "-i", "inventories/lab", "-e", f"metrics_dir={metrics}",
                      "-e", "max_backup_age_hours=1", lab_dir=lab.state_dir, runs_dir=tmp_path / "down",
                      extra_env=traced)
        assert proc.returncode == 2, proc.stdout[-3000:]
        assert "Health check of lab-gateway found" in proc.stdout
        down_report = json.loads((only_run_dir(tmp_path / "down") / "report.json").read_text())
        root, children = spans_match_the_timeline(receiver.wait_for_spans(), down_report)
        assert root.attributes["ansible.run.status"] == "failed" and root.status == "ERROR"
        [last] = [s for s in children if s.name == "Step 6: Document findings (fails when something is wrong)"]
        assert last.status == "ERROR" and "Health check of lab-gateway found" in last.status_message
        down = samples(metrics / "mcpops_health_check.prom")
        assert down["mcpops_gateway_healthy"] == 0 and down["mcpops_runbook_last_run_ok"] == 0
        assert sorted(p.name for p in metrics.iterdir()) == ["mcpops_health_check.prom"]
    finally:
        receiver.stop()
        lab.down()
