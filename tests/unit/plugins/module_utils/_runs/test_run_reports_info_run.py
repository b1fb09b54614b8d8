"""run_reports_info's run(): run dirs with report.json planted under a temporary runs dir, a window, the runs that did
not end well, the latest of each runbook, the files a runbook wrote next to its report, pending approvals."""

import datetime
import json
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._runs.run_reports_info_run import run

NOW = datetime.datetime(2025, 1, 15, 12, 0, 0, tzinfo=datetime.timezone.utc)


def stamp(hours_ago):
    return (NOW - datetime.timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def plant(runs, name, runbook, status, hours_ago, files=None, timeline=None, manual=()):
    run_dir = runs / name
    run_dir.mkdir(parents=True)
    report = {"runbook": {"id": runbook, "title": runbook.title(), "changes": False}, "status": status,
              "check_mode": False, "started": stamp(hours_ago), "ended": stamp(hours_ago - 0.1),
              "timeline": timeline or [], "manual_steps": list(manual),
              "summary": [{"host": "h1", "step": "Summary", "lines": ["all good" if status == "ok" else "bad"]}]}
    (run_dir / "report.json").write_text(json.dumps(report))
    for file_name, content in (files or {}).items():
        (run_dir / file_name).write_text(json.dumps(content))
    return run_dir


def params(runs, **extra):
    values = dict(runs_dir=str(runs), since_hours=12, runbooks=[], read_files=[], max_runs=50, missing_ok=False)
    values.update(extra)
    return values


def test_runs_in_the_window_newest_first_with_failures_and_files(tmp_path):
    plant(tmp_path, "a-morning", "lego-morning-health-check", "ok", 30)  # yesterday's: outside the window
    plant(tmp_path, "b-morning", "lego-morning-health-check", "failed", 5,
          files={"findings.json": {"findings": ["equipment CNC-001 is error"]}},
          timeline=[{"step": "Step 1", "host": "h1", "status": "ok"},
                    {"step": "Document findings", "host": "h1", "status": "failed", "message": "found: CNC-001"}],
          manual=["Create tickets"])
    plant(tmp_path, "c-restart", "rolling-restart", "ok", 1)
    result = run(params(tmp_path, read_files=["findings.json"]), False, now=NOW)
    assert [r["name"] for r in result["runs"]] == ["c-restart", "b-morning"]
    assert [r["name"] for r in result["failed_runs"]] == ["b-morning"]
    failed = result["failed_runs"][0]
    assert failed["failed_steps"] == [{"step": "Document findings", "host": "h1", "status": "failed",
                                       "message": "found: CNC-001"}]
    assert failed["files"] == {"findings.json": {"findings": ["equipment CNC-001 is error"]}}
    assert failed["manual_steps"] == ["Create tickets"] and failed["summary"] == ["h1: bad"]
    assert result["latest"] == {"lego-morning-health-check": "b-morning", "rolling-restart": "c-restart"}
    assert result["changed"] is False


def test_only_the_runbooks_asked_for_and_at_most_max_runs(tmp_path):
    plant(tmp_path, "a", "health-check", "ok", 3)
    plant(tmp_path, "b", "health-check", "ok", 2)
    plant(tmp_path, "c", "triage", "failed", 1)
    result = run(params(tmp_path, runbooks=["health-check"], max_runs=1), False, now=NOW)
    assert [r["name"] for r in result["runs"]] == ["b"] and result["failed_runs"] == []


def test_a_broken_report_is_named_and_other_dirs_are_left_alone(tmp_path):
    plant(tmp_path, "good", "triage", "ok", 1)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "report.json").write_text("{not json")
    (tmp_path / "secrets").mkdir()  # no report: not a run
    result = run(params(tmp_path), False, now=NOW)
    assert [r["name"] for r in result["runs"]] == ["good"]
    assert [u["dir"] for u in result["unreadable"]] == [str(tmp_path / "broken")]


def test_a_symlinked_file_is_not_followed(tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"secret": "x"}))
    run_dir = plant(tmp_path / "runs", "r", "triage", "ok", 1)
    os.symlink(outside, run_dir / "findings.json")
    result = run(params(tmp_path / "runs", read_files=["findings.json"]), False, now=NOW)
    assert "not a regular file" in result["runs"][0]["files"]["findings.json"]["unreadable"]


def test_pending_approvals_only_while_not_expired(tmp_path):
    approvals = tmp_path / "approvals"
    approvals.mkdir()
    records = {"0000000a": ("pending", 1), "0000000b": ("pending", -1), "0000000c": ("approved", 1)}
    for approval_id, (status, hours_left) in records.items():
        (approvals / f"{approval_id}.json").write_text(json.dumps({
            "id": approval_id, "status": status, "runbook": "lego-service-outage", "host": "h1",
            "created_at": stamp(1), "expires_at": stamp(-hours_left), "extra_vars": {"db_password": "canary"}}))
    result = run(params(tmp_path), False, now=NOW)
    assert [a["id"] for a in result["approvals"]] == ["0000000a"]
    assert "extra_vars" not in result["approvals"][0]  # what the approver typed stays in the approval file


@pytest.mark.parametrize("extra, message", [
    ({"since_hours": 0}, "since_hours"),
    ({"read_files": ["../x.json"]}, "plain file names"),
    ({"read_files": ["report.json"]}, "plain file names"),
])
def test_bad_input_is_refused(tmp_path, extra, message):
    with pytest.raises(TaskError, match=message):
        run(params(tmp_path, **extra), False, now=NOW)


def test_a_missing_runs_dir_fails_unless_missing_ok(tmp_path):
    with pytest.raises(TaskError, match="does not exist"):
        run(params(tmp_path / "nope"), False, now=NOW)
    result = run(params(tmp_path / "nope", missing_ok=True), False, now=NOW)
    assert result["exists"] is False and result["runs"] == []
