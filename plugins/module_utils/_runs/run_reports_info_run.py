# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run_reports_info's work: the runs of the last hours under a runs dir, the ones that did not end well, the latest of
each runbook and the pending approvals. Read-only, the same in check mode."""

from __future__ import annotations

import datetime
import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._runs.pending_approvals import pending
from ansible_collections.mcpops.runbooks.plugins.module_utils._runs.run_reports import FILE_NAME, list_runs


def run(params, check_mode, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    runs_dir = params["runs_dir"]
    since_hours = params["since_hours"]
    if since_hours <= 0:
        raise TaskError("since_hours must be more than 0 (got %s)" % since_hours)
    bad = [name for name in params["read_files"] if not FILE_NAME.match(name) or name == "report.json"]
    if bad:
        raise TaskError("read_files takes plain file names of a run dir (no '/', '..' or report.json): got %s"
                        % ", ".join(bad))
    result = {"changed": False, "runs_dir": runs_dir, "since_hours": since_hours, "runs": [], "failed_runs": [],
              "latest": {}, "approvals": [], "unreadable": [], "exists": os.path.isdir(runs_dir)}
    if not result["exists"]:
        if params["missing_ok"]:
            return result
        raise TaskError("runs dir %s does not exist: give the one runbook runs write to (MCPOPS_RUNS_DIR, else the "
                        "checkout's runs/)" % runs_dir)
    since = now - datetime.timedelta(hours=since_hours)
    runs, unreadable = list_runs(runs_dir, since, params["runbooks"], params["read_files"])
    runs = runs[:params["max_runs"]]
    latest = {}
    for entry in runs:  # newest first: the first of each runbook is its latest
        if entry["runbook"]:
            latest.setdefault(entry["runbook"], entry["name"])
    result.update(runs=runs, failed_runs=[entry for entry in runs if not entry["ok"]], latest=latest,
                  approvals=pending(runs_dir, now), unreadable=unreadable)
    return result
