"""report_notes: a resolved alert and an approval written into a run's report.json, report.md rendered again."""

import json

from mcpops.watch.report_notes import mark_approval, mark_resolved


def run_dir_with_report(tmp_path):
    run_dir = tmp_path / "20260101T030000Z-inc-001-gateway-down"
    run_dir.mkdir()
    report = {"playbook": "inc-001-gateway-down.yml", "status": "ok", "check_mode": True, "started": "2026-01-01T03:00:00Z",
              "runbook": {"id": "inc-001-gateway-down", "title": "Gateway down / unhealthy", "changes": True},
              "alert": {"name": "GatewayDown", "status": "firing", "instance": "gw1:3000", "fingerprint": "aa"},
              "timeline": [], "hosts": {}, "extra_vars": {}}
    (run_dir / "report.json").write_text(json.dumps(report))
    return run_dir


def test_a_resolved_alert_is_in_both_files(tmp_path):
    run_dir = run_dir_with_report(tmp_path)
    assert mark_resolved(run_dir, "2026-01-01T03:30:00Z")
    assert json.loads((run_dir / "report.json").read_text())["alert"]["resolved_at"] == "2026-01-01T03:30:00Z"
    assert "**GatewayDown** (firing) on gw1:3000; fingerprint `aa`; **resolved at 2026-01-01T03:30:00Z**" in \
        (run_dir / "report.md").read_text()


def test_an_approval_pending_then_denied(tmp_path):
    run_dir = run_dir_with_report(tmp_path)
    approval = {"id": "0badf00d", "status": "pending", "expires_at": "2026-01-01T07:00:00Z", "check_run": str(run_dir)}
    mark_approval(run_dir, approval)
    assert "`mcpops approve 0badf00d` or `mcpops deny 0badf00d` before 2026-01-01T07:00:00Z" in \
        (run_dir / "report.md").read_text()
    mark_approval(run_dir, dict(approval, status="denied", decided_by="alice", decided_at="2026-01-01T03:10:00Z"))
    markdown = (run_dir / "report.md").read_text()
    assert "| approval | `0badf00d` **denied** by alice at 2026-01-01T03:10:00Z; check run" in markdown
    assert "mcpops approve" not in markdown


def test_a_run_without_a_report_is_left_alone(tmp_path):
    assert mark_resolved(tmp_path, "2026-01-01T03:30:00Z") is False
    assert list(tmp_path.iterdir()) == []
