# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One runbook run as the next shift needs it, from its run dir's report.json (the incident_report callback's, already
masked) and the JSON files the runbook wrote next to it (a morning check's findings.json).

    <runs>/<UTC timestamp>-<runbook id>/report.json   {runbook: {id, title, ...}, status, check_mode, started, ended,
                                                       timeline: [{step, host, status, message?}], summary: [{host,
                                                       step, lines}], manual_steps}
"""

from __future__ import annotations

import datetime
import json
import os
import re

REPORT_FILE = "report.json"
STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MAX_FILE_BYTES = 1024 * 1024  # a report or findings file larger than this is not a runbook's: left unread
# A file name in a run dir: no path separator, no "..", nothing hidden.
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
# Outcomes that leave an incident open: report.json `status` (plugin_utils/incident_report.py).
NOT_OK = ("failed", "unreachable", "incomplete", "refused")
MAX_LINES = 20  # summary lines and failed steps kept a run


def parse_stamp(text):
    """A report's UTC time (2025-01-15T10:00:00Z) as an aware datetime, or None."""
    try:
        return datetime.datetime.strptime(str(text), STAMP_FORMAT).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def read_json(path):
    """The parsed JSON file at path, refused (ValueError naming why) when it is a symlink, not a file or too large."""
    if os.path.islink(path) or not os.path.isfile(path):
        raise ValueError("%s is not a regular file" % path)
    if os.path.getsize(path) > MAX_FILE_BYTES:
        raise ValueError("%s is larger than %d bytes" % (path, MAX_FILE_BYTES))
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def failed_steps(report):
    """The steps that failed or went unreachable, each once a host, with the message the report kept."""
    out = []
    for entry in report.get("timeline") or []:
        if isinstance(entry, dict) and entry.get("status") in ("failed", "unreachable", "interrupted"):
            out.append({"step": entry.get("step"), "host": entry.get("host"), "status": entry.get("status"),
                        "message": entry.get("message") or ""})
    return out[:MAX_LINES]


def summary_lines(report):
    lines = []
    for part in report.get("summary") or []:
        if isinstance(part, dict):
            lines.extend("%s: %s" % (part.get("host"), line) for line in part.get("lines") or [])
    return lines[:MAX_LINES]


def run_entry(run_dir, report, read_files=()):
    """The shift's view of one run: what ran, how it ended, what failed, what it left to people, its files."""
    runbook = report.get("runbook") if isinstance(report.get("runbook"), dict) else {}
    files = {}
    for name in read_files:
        path = os.path.join(run_dir, name)
        if os.path.lexists(path):
            try:
                files[name] = read_json(path)
            except (OSError, ValueError) as exc:
                files[name] = {"unreadable": str(exc)}
    status = str(report.get("status") or "incomplete")
    return {
        "dir": run_dir,
        "name": os.path.basename(run_dir),
        "runbook": runbook.get("id"),
        "title": runbook.get("title"),
        "changes": runbook.get("changes"),
        "status": status,
        "ok": status not in NOT_OK,
        "check_mode": bool(report.get("check_mode")),
        "started": report.get("started"),
        "ended": report.get("ended"),
        "failed_steps": failed_steps(report),
        "summary": summary_lines(report),
        "manual_steps": [str(step) for step in report.get("manual_steps") or []],
        "files": files,
    }


def list_runs(runs_dir, since, runbooks=(), read_files=()):
    """(runs newest first, unreadable dirs) of the run dirs under runs_dir whose report started at or after `since`
    (an aware datetime) and, when runbooks is not empty, whose runbook id is one of them."""
    runs, unreadable = [], []
    for name in sorted(os.listdir(runs_dir)):
        run_dir = os.path.join(runs_dir, name)
        report_path = os.path.join(run_dir, REPORT_FILE)
        if os.path.islink(run_dir) or not os.path.isdir(run_dir) or not os.path.lexists(report_path):
            continue  # approvals/, secrets/, a run still going: not a finished run
        try:
            report = read_json(report_path)
            if not isinstance(report, dict):
                raise ValueError("%s holds no report object" % report_path)
        except (OSError, ValueError) as exc:
            unreadable.append({"dir": run_dir, "reason": str(exc)})
            continue
        started = parse_stamp(report.get("started"))
        if started is None or started < since:
            continue
        entry = run_entry(run_dir, report, read_files)
        if runbooks and entry["runbook"] not in runbooks:
            continue
        runs.append(entry)
    runs.sort(key=lambda run: (run["started"] or "", run["name"]), reverse=True)
    return runs, unreadable
