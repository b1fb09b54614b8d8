"""What happens to an alert after its run, written into that run's incident report: the alert resolved
(`alert.resolved_at`), the approval the check run waits for and how it was decided (`approval`); report.md is
rendered again from report.json, as `mcpops report <run dir>` does."""

import json

from mcpops.run.plugin_utils import load
from mcpops.run.report import ReportError, find_report_json, rerender
from mcpops.watch.state_files import read_json

APPROVAL_FIELDS = ("id", "status", "decided_by", "decided_at", "expires_at", "check_run", "run", "inputs")


def _quiet(_message):
    pass


def annotate(run_dir, change):
    """Apply change(report) to the run's report.json and re-render report.md; False when the run left no report."""
    try:
        source = find_report_json(run_dir)
    except ReportError:
        return False
    report = read_json(source)
    if report is None:
        return False
    change(report)
    load("report_files").write_atomically(str(source), json.dumps(report, indent=2, sort_keys=True) + "\n")
    rerender(run_dir, warn=_quiet)
    return True


def mark_resolved(run_dir, resolved_at):
    """The alert that started the run resolved at resolved_at (Alertmanager's endsAt)."""
    def change(report):
        if isinstance(report.get("alert"), dict):
            report["alert"]["resolved_at"] = str(resolved_at)[:40]
    return annotate(run_dir, change)


def mark_approval(run_dir, approval):
    """The run's report names its approval: pending (the check run), approved (by whom; the real run), denied,
    expired."""
    def change(report):
        report["approval"] = {name: approval.get(name) for name in APPROVAL_FIELDS}
    return annotate(run_dir, change)
