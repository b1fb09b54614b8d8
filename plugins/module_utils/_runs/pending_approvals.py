# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The approvals waiting for an operator, as `mcpops watch` records them (src/mcpops/watch/approvals.py):

    <runs>/approvals/<8 hex digits>.json   {id, status, runbook, host, created_at, expires_at, check_run, ...}

Pending and not past expires_at: one that expired can never be run (what its check run saw is stale). Read only:
marking expired ones is `mcpops approvals`' job, not a report's.
"""

from __future__ import annotations

import os
import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._runs.run_reports import parse_stamp, read_json

APPROVALS_DIR = "approvals"
APPROVAL_FILE = re.compile(r"^[0-9a-f]{8}\.json$")


def pending(runs_dir, now):
    """The pending approvals under runs_dir that have not expired at `now`, oldest first."""
    directory = os.path.join(runs_dir, APPROVALS_DIR)
    if not os.path.isdir(directory):
        return []
    out = []
    for name in sorted(os.listdir(directory)):
        if not APPROVAL_FILE.match(name):
            continue
        try:
            record = read_json(os.path.join(directory, name))
        except (OSError, ValueError):
            continue  # being written, or not an approval
        if not isinstance(record, dict) or record.get("status") != "pending":
            continue
        expires = parse_stamp(record.get("expires_at"))
        if expires is None or expires <= now:
            continue
        keys = ("id", "runbook", "host", "created_at", "expires_at", "check_run", "check_status")
        out.append({key: record.get(key) for key in keys})
    out.sort(key=lambda record: str(record.get("created_at")))
    return out
