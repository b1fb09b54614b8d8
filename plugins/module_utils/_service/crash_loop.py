# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is the gateway crash-looping, and do its logs say why (INC-001 step 5, escalation to INC-003)?"""

from __future__ import annotations

import re

# The managers' own words for "it keeps dying and I keep restarting it".
CRASH_LOOP_STATES = {
    "supervisor": ("BACKOFF", "FATAL"),
    "systemd": ("failed",),
    "docker_compose": ("restarting",),
    "kubernetes": ("CrashLoopBackOff", "Error"),
}
# systemd between two attempts of Restart=always: ActiveState=activating, SubState=auto-restart.
SYSTEMD_RESTART_SUBSTATE = "auto-restart"
# The gateway's start-up check of its data dir (gateway-contract.md): one line, then exit 1.
MIGRATION_ERROR = re.compile(r"StoreMigrationRunner:?\s*(.*)")
# Enough restarts in one sample to call it a loop even without a second sample.
DEFAULT_RESTART_THRESHOLD = 3


def migration_errors(log_lines):
    """The StoreMigrationRunner lines in the logs, oldest first."""
    return [line.strip() for line in log_lines or [] if MIGRATION_ERROR.search(line)]


def assess(status, previous=None, restart_threshold=DEFAULT_RESTART_THRESHOLD):
    """Crash-loop verdict for one status (status.py shape), optionally against an earlier one.

    Returns crash_loop (bool), reasons (sentences naming what was seen), restarts_rising,
    migration_error (the last StoreMigrationRunner line or None) and data_corrupt. The contract makes
    every StoreMigrationRunner line a statement about the data dir (invalid JSON, unknown migration,
    schemaVersion too new, interrupted restore): the runbook's escalation to INC-003. A gateway that
    fails for another reason (a held lock, a busy port) prints its own name, not StoreMigrationRunner."""
    reasons = []
    platform, state = status.get("platform"), status.get("state")
    if state in CRASH_LOOP_STATES.get(platform, ()):
        reasons.append("%s reports the service %s" % (platform, state))
    if platform == "systemd" and status.get("sub_state") == SYSTEMD_RESTART_SUBSTATE:
        reasons.append("systemd is waiting to restart it (SubState=auto-restart)")
    restarts = status.get("restarts")
    before = (previous or {}).get("restarts")
    rising = restarts is not None and before is not None and restarts > before
    if rising:
        reasons.append("the restart count rose from %d to %d" % (before, restarts))
    elif restarts is not None and restarts >= restart_threshold and not status.get("running"):
        reasons.append("%d restarts and not running" % restarts)
    errors = migration_errors(status.get("log_lines"))
    last_error = errors[-1] if errors else None
    if last_error and not status.get("running"):
        reasons.append("the logs have a StoreMigrationRunner start-up failure")
    return {
        "crash_loop": bool(reasons),
        "reasons": reasons,
        "restarts_rising": rising,
        "migration_error": last_error,
        "data_corrupt": bool(last_error) and not status.get("running"),
    }
