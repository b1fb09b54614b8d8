# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a runbook run's files go on the controller: the one rule the run_dir lookup and the incident_report
callback share (standard library only, so that the `mcpops` command can load it by file path too).

    <runs>/<UTC timestamp>-<runbook id>/     <runs> = $MCPOPS_RUNS_DIR, else runs/ next to the playbooks' dir
"""

from __future__ import annotations

import datetime
import os

RUNS_DIR_ENV = "MCPOPS_RUNS_DIR"
# The incident report's own dir when its runner chose one (`mcpops run` sets it to its run dir).
REPORT_DIR_ENV = "MCPOPS_REPORT_DIR"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


def runs_dir(playbook_dir, environ=None):
    """$MCPOPS_RUNS_DIR when set and not empty, else runs/ next to playbook_dir (the checkout's runs/)."""
    environ = os.environ if environ is None else environ
    return environ.get(RUNS_DIR_ENV) or os.path.join(os.path.dirname(playbook_dir), "runs")


def run_dir_name(runbook_id, moment=None):
    """<UTC timestamp>-<runbook id>; moment: an aware or UTC datetime, default now."""
    moment = moment or datetime.datetime.now(datetime.timezone.utc)
    return "%s-%s" % (moment.strftime(STAMP_FORMAT), runbook_id)


def run_dir(runbook_id, playbook_dir, moment=None, environ=None):
    """The run dir of one run of runbook_id: <runs>/<UTC timestamp>-<runbook id>."""
    return os.path.join(runs_dir(playbook_dir, environ), run_dir_name(runbook_id, moment))


def report_dir(environ=None):
    """The incident report's own dir when its runner gave one ($MCPOPS_REPORT_DIR), else None."""
    environ = os.environ if environ is None else environ
    return environ.get(REPORT_DIR_ENV) or None
