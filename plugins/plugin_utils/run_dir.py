# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a runbook run's files go on the controller: the one rule the run_dir lookup, the incident_report
callback and the `mcpops` command share (standard library only, so that `mcpops` can load it by file path too).

    <runs>/<UTC timestamp>-<runbook id>/

    <runs> = $MCPOPS_RUNS_DIR when set and not empty;
             else <checkout>/runs when the playbook comes from a checkout of the collection (its root above
             playbooks/ has galaxy.yml and no MANIFEST.json) that is writable;
             else $XDG_STATE_HOME/mcpops/runs, default ~/.local/state/mcpops/runs.

An installed collection (MANIFEST.json) is never written to: it is read-only in an execution environment and
replaced by the next install. A playbook that ansible-rulebook copied into its temporary private data dir is
not a checkout either: that dir is deleted when the playbook ends.
"""

from __future__ import annotations

import datetime
import os
import tempfile

RUNS_DIR_ENV = "MCPOPS_RUNS_DIR"
# The incident report's own dir when its runner chose one (`mcpops run` sets it to its run dir).
REPORT_DIR_ENV = "MCPOPS_REPORT_DIR"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
XDG_STATE_ENV = "XDG_STATE_HOME"
# ansible-rulebook's run_playbook makes each playbook's private data dir with tempfile.mkdtemp(prefix="eda")
# and removes it when the playbook ends (ansible_rulebook/action/run_playbook.py).
RULEBOOK_DIR_PREFIX = "eda"


def user_runs_dir(environ=None):
    """$XDG_STATE_HOME/mcpops/runs, default ~/.local/state/mcpops/runs (an XDG_STATE_HOME that is not an
    absolute path is ignored, as the XDG spec says)."""
    environ = os.environ if environ is None else environ
    state = environ.get(XDG_STATE_ENV) or ""
    if not os.path.isabs(state):
        home = environ.get("HOME") or os.path.expanduser("~")
        state = os.path.join(home, ".local", "state")
    return os.path.join(state, "mcpops", "runs")


def in_rulebook_temp_dir(path, temp_dir=None):
    """Whether path lies in a private data dir ansible-rulebook made for one playbook (deleted after it)."""
    temp_dir = os.path.realpath(temp_dir or tempfile.gettempdir())
    relative = os.path.relpath(os.path.realpath(path), temp_dir)
    top = relative.split(os.sep, 1)[0]
    return top not in (os.curdir, os.pardir) and top.startswith(RULEBOOK_DIR_PREFIX)


def is_checkout(collection_root):
    """A source tree of the collection (galaxy.yml) that is not an installed copy (MANIFEST.json)."""
    return (os.path.isfile(os.path.join(collection_root, "galaxy.yml"))
            and not os.path.exists(os.path.join(collection_root, "MANIFEST.json")))


def _writable(path):
    # runs/ itself when it exists, else the dir it would be made in
    target = path if os.path.isdir(path) else os.path.dirname(path)
    return os.access(target, os.W_OK | os.X_OK)


def runs_dir(playbook_dir, environ=None):
    """<runs>: $MCPOPS_RUNS_DIR, else the checkout's runs/, else the user's state dir (the module's rule)."""
    environ = os.environ if environ is None else environ
    if environ.get(RUNS_DIR_ENV):
        return environ[RUNS_DIR_ENV]
    root = os.path.dirname(playbook_dir)
    checkout_runs = os.path.join(root, "runs")
    if is_checkout(root) and not in_rulebook_temp_dir(root) and _writable(checkout_runs):
        return checkout_runs
    return user_runs_dir(environ)


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


def under_awx(environ=None):
    """An AWX (or AAP controller) job: ansible-runner with the job's id and its artifacts dir."""
    environ = os.environ if environ is None else environ
    return bool(environ.get("JOB_ID") and environ.get("AWX_ISOLATED_DATA_DIR"))


def artifacts_dir(environ=None):
    """The ansible-runner artifacts dir the report belongs in, else None.

    Under AWX it is the job's (the worker streams it back and the report is in the job events too). Under a
    plain ansible-runner it is the caller's private data dir, kept after the run. Under ansible-rulebook it
    is None: that private data dir is deleted when the playbook ends, so the report takes the runs dir rule."""
    environ = os.environ if environ is None else environ
    artifacts = environ.get("AWX_ISOLATED_DATA_DIR")
    if not artifacts:
        return None
    if under_awx(environ) or not in_rulebook_temp_dir(artifacts):
        return artifacts
    return None
