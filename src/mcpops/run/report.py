"""`mcpops report <run-dir>`: re-render report.md from the report.json a run left.

report.json is where the callback wrote it: the run dir itself (`mcpops run`), or the ansible-runner /
AWX artifacts dir under it (`artifacts/<ident>/`).
"""

import json
import sys
from pathlib import Path

from mcpops.run.plugin_utils import load


class ReportError(Exception):
    """No report to render; the message is one line."""


def find_report_json(run_dir):
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such run dir")
    candidates = [run_dir / "report.json"] + sorted(run_dir.glob("artifacts/*/report.json"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ReportError(f"{run_dir}: no report.json here nor under artifacts/*/ (did the run reach its end?)")


def _warn(message):
    print(f"mcpops report: {message}", file=sys.stderr)


def rerender(run_dir, warn=_warn):
    """Rewrite report.md next to report.json; returns (path of report.md, its text). The layout is the site's
    templates ($MCPOPS_REPORT_TEMPLATE_DIR) over the shipped ones; why a site's could not be used goes to warn()."""
    source = find_report_json(run_dir)
    try:
        report = json.loads(source.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ReportError(f"{source}: not JSON ({exc})") from None
    markdown = load("report_markdown").render(report, warn=warn)
    target = source.with_name("report.md")
    load("report_files").write_atomically(str(target), markdown)
    return target, markdown
