# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident_report callback: report.md and report.json of a runbook run, written when the run ends."""

from __future__ import annotations

DOCUMENTATION = r"""
name: incident_report
type: notification
short_description: Write the incident report of a runbook run (report.md and report.json)
description:
  - >-
    For a playbook whose first play carries C(mcpops_runbook) metadata in its vars, writes
    C(report.json) and C(report.md) when the run ends, with the timeline (each step, host, start, end,
    ok/changed/failed/skipped), the evidence the collection's modules return (backup restored and
    safety backup, tokens revoked, health before and after, ...), the summary the runbook prints,
    the manual steps it leaves to people and a post-incident review skeleton pre-filled from the run.
  - >-
    A play that stopped before some of its hosts (a serial rollout stopped by C(max_fail_percentage), a batch
    that failed or went unreachable as a whole) lists them as not reached, in the report and on the terminal:
    no task ran on them, so they were left as they were.
  - Playbooks without that metadata get no report.
  - Works the same under C(ansible-playbook), ansible-runner, ansible-rulebook and AWX. Under ansible-runner and
    AWX the report goes to the job's artifacts dir (C(AWX_ISOLATED_DATA_DIR)); under AWX that dir is on the
    execution node, so the report is also printed into the job output (see O(display)).
  - Never inside an installed collection. Run by its collection name (C(ansible-playbook
    mcpops.runbooks.inc_003_restore)), a runbook's report goes to C($XDG_STATE_HOME/mcpops/runs/), by default
    C(~/.local/state/mcpops/runs/).
  - >-
    A blank answer for a C(*_hosts) variable (C(inc003_hosts=""), or null, as an empty AWX survey answer sends it)
    is refused by Ansible before any task, not replaced by the default group; the report is written all the same,
    with outcome C(refused) and the variable that was blank.
  - >-
    No secret is written. Results Ansible hid with C(no_log) are recorded as hidden; the values of the
    runbook's secret extra vars, the credentials of the controller's environment (C(PGPASSWORD), C(MYSQL_PWD),
    C(REDISCLI_AUTH), C(AWS_SECRET_ACCESS_KEY), C(*_TOKEN), C(*_PASSWORD), URL passwords, ...) wherever they
    occur, the values of keys that name a secret (C(*token), C(*password), ...), passwords in URLs and
    connection strings, and anything that looks like a token (C(Bearer) credentials, MCP token secrets,
    random-looking strings of 20 or more token characters) are replaced by C(********).
requirements:
  - enable it with C(callbacks_enabled = mcpops.runbooks.incident_report) (the checkout's C(ansible.cfg) does)
options:
  report_dir:
    description:
      - The directory report.md and report.json are written to (created, mode 0700).
      - Default, in this order, the ansible-runner or AWX artifacts dir (C(AWX_ISOLATED_DATA_DIR); not under
        ansible-rulebook, which deletes it after the playbook), then C(<runs>/<UTC timestamp>-<runbook id>/) where
        C(<runs>) is C(MCPOPS_RUNS_DIR), else the checkout's C(runs/) for a playbook run from a checkout of this
        collection, else C($XDG_STATE_HOME/mcpops/runs) (default C(~/.local/state/mcpops/runs)); the rule of the
        P(mcpops.runbooks.run_dir#lookup) lookup, which the playbooks use for the files they write.
    type: path
    env:
      - name: MCPOPS_REPORT_DIR
    ini:
      - section: callback_incident_report
        key: report_dir
  display:
    description:
      - Print report.md at the end of the output, so that it is in the job output (AWX keeps the output,
        not the files). Default true under AWX (C(JOB_ID) and C(AWX_ISOLATED_DATA_DIR) set), false elsewhere,
        where a line names the report's path.
    type: bool
    env:
      - name: MCPOPS_REPORT_DISPLAY
    ini:
      - section: callback_incident_report
        key: display
"""

import os
import re

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.mcpops.runbooks.plugins.plugin_utils.incident_report import (
    IncidentReport, blank_host_vars, blank_hosts_reason, utc_now)
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.report_files import write_report
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.report_markdown import render
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.run_dir import artifacts_dir, run_dir, under_awx
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.secret_mask import SecretMasker, is_secret_key


def plain(value):
    """Ansible's tagged and lazy containers as plain JSON-able values."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return value
    return str(value)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "mcpops.runbooks.incident_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._report = None
        self._playbook = None
        self._started = None
        self._dir = None  # the report's dir, chosen once: a refused run writes early and again at its end

    # A report must never break the run it reports on: every hook warns and gives up instead.
    def _safely(self, what, fn, *args):
        try:
            fn(*args)
        except Exception as exc:  # pylint: disable=broad-except
            self._display.warning("incident_report: %s failed (%s: %s); the report may be incomplete"
                                  % (what, type(exc).__name__, exc))

    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.abspath(playbook._file_name)
        self._started = utc_now()
        self._safely("checking the hosts to run on", self._refuse_blank_hosts, playbook)

    def _refuse_blank_hosts(self, playbook):
        # Ansible stops with an error, and no play start nor stats, when the first play's hosts template gives ""
        # (or runs it on no host for null): the report must be written now to say why nothing ran.
        plays = playbook.get_plays()
        if not plays:
            return
        extra_vars = plain(plays[0].get_variable_manager().extra_vars or {})
        blank = blank_host_vars(extra_vars, [plays[0].hosts])
        if not blank:
            return
        self._begin(plays[0])
        if self._report is None:
            return
        self._started = None
        self._report.refuse(blank_hosts_reason(blank))
        self._report.finished({})
        self._write()

    def v2_playbook_on_play_start(self, play):
        if self._report is None and self._started is not None:
            self._safely("reading the runbook metadata", self._begin, play)
            self._started = None  # only the first play carries the metadata
        self._safely("listing the play's hosts", self._play_hosts, play)

    def _play_hosts(self, play):
        # A serial play starts again for each batch under the same uuid, except that ansible-runner's and AWX's
        # awx_display callback renames a repeated one to <uuid>_<count>: one play either way, listed once.
        play_id = re.sub(r"_\d+$", "", str(play._uuid))
        if self._report is None or self._report.playing(play_id):
            return
        # Every host of the play across its batches, after --limit: what the play would have reached.
        names = play.get_variable_manager().get_vars(play=play, include_hostvars=False).get("ansible_play_hosts_all")
        self._report.play_started(play_id, play.get_name(), [str(name) for name in names or []])

    def _begin(self, play):
        meta = plain(play.vars.get("mcpops_runbook"))
        if not isinstance(meta, dict):
            return
        extra_vars = plain(play.get_variable_manager().extra_vars or {})
        masker = SecretMasker()
        for name, value in extra_vars.items():
            if is_secret_key(name):
                masker.add(value)
        # The credentials of the environment the run started with (PGPASSWORD, a DATABASE_URL's password, ...).
        masker.add_environment(dict(os.environ))
        self._report = IncidentReport(masker, runbook=meta, playbook=self._playbook,
                                      check_mode=bool(context.CLIARGS.get("check")), started=self._started)
        self._report.given_extra_vars(extra_vars)

    def _task_start(self, task):
        if self._report is not None:
            self._report.task_started(task.get_name(), task._role is not None)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._safely("a task start", self._task_start, task)

    def v2_playbook_on_handler_task_start(self, task):
        self._safely("a handler start", self._task_start, task)

    def _host_start(self, host, task):
        if self._report is not None:
            self._report.host_started(host.get_name(), task._uuid, task.get_name(), task._role is not None)

    def v2_runner_on_start(self, host, task):
        self._safely("a host start", self._host_start, host, task)

    def _result(self, result, outcome):
        if self._report is None:
            return
        task = result._task
        action = getattr(task, "resolved_action", None) or task.action
        self._report.host_result(result._host.get_name(), task._uuid, task.get_name(), task._role is not None,
                                 str(action), outcome, plain(result._result))

    def v2_runner_on_ok(self, result):
        self._safely("a result", self._result, result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._safely("a result", self._result, result, "failed")

    def v2_runner_on_skipped(self, result):
        self._safely("a result", self._result, result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._safely("a result", self._result, result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._safely("writing the report", self._finish, stats)

    def _report_dir(self):
        if self._dir is None:
            self._dir = (self.get_option("report_dir") or artifacts_dir()
                         or run_dir(self._report.runbook.get("id"), os.path.dirname(self._playbook)))
        return self._dir

    def _finish(self, stats):
        if self._report is None:
            return
        self._report.finished({host: stats.summarize(host) for host in stats.processed})
        self._write()

    def _write(self):
        report = self._report.as_dict()
        markdown = render(report, warn=self._display.warning)
        path = write_report(self._report_dir(), report, markdown)
        display = self.get_option("display")
        if display is None:
            display = under_awx()
        if display:
            self._display.display(markdown)
        if report.get("refused"):
            self._display.display("incident_report: %s" % report["refused"])
        for play in report["not_reached"]:
            self._display.display("incident_report: no task ran on %s: the play \"%s\" stopped before them; they "
                                  "were left as they were" % (", ".join(play["hosts"]), play["play"]))
        if under_awx():
            # The job's artifacts dir is on the execution node (a container gone after the job), not a path the
            # user can open: the report they keep is the one printed in the job output.
            self._display.display("incident report: %son the execution node at %s (the job's artifacts, not a "
                                  "path to open from AWX)" % ("printed above; written " if display else "written ", path))
        else:
            self._display.display("incident report: %s" % path)
