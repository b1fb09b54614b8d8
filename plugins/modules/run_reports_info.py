#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run_reports_info module: its documentation, argument spec and main(); the work is _runs/run_reports_info_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_reports_info
short_description: Read the last runbook runs' reports and the pending approvals from a runs dir
version_added: "0.2.0"
description:
  - "A shift handover's look back: lists the run dirs under O(runs_dir) (C(<runs>/<UTC timestamp>-<runbook id>/), the
    P(mcpops.runbooks.run_dir#lookup) lookup's rule) whose C(report.json) (the
    P(mcpops.runbooks.incident_report#callback) callback's) started in the last O(since_hours), newest first: each
    run's runbook, status, check mode, the steps that failed with their messages, its summary lines and the manual
    steps it left to people."
  - "Also returns the runs that did not end C(ok) (RV(failed_runs): failed, unreachable, incomplete, refused), the latest
    run of each runbook (RV(latest)), and the approvals C(mcpops watch) recorded under C(<runs>/approvals/) that are
    still pending and not expired (RV(approvals))."
  - "O(read_files) names JSON files a runbook writes into its run dir (a morning health check's C(findings.json));
    each run's RV(runs.files) holds their parsed content."
  - "Read-only: runs the same in check mode. Symlinks and files over 1 MiB are not read. The reports are masked by the
    callback already; nothing else is read from the run dirs."
  - "Runs where the runs dir is: usually the controller (C(delegate_to: localhost))."
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  runs_dir:
    description: The runs dir (C(MCPOPS_RUNS_DIR), else the checkout's C(runs/); C(lookup('mcpops.runbooks.run_dir'))).
    type: path
    required: true
  since_hours:
    description: Runs that started this many hours ago or later.
    type: float
    default: 12
  runbooks:
    description: Only the runs of these runbook ids; every runbook when empty.
    type: list
    elements: str
    default: []
  read_files:
    description: JSON files of a run dir to return with each run (plain names, not C(report.json)).
    type: list
    elements: str
    default: []
  max_runs:
    description: At most this many runs, the newest.
    type: int
    default: 50
  missing_ok:
    description: A runs dir that does not exist is no run at all (RV(exists) false) instead of a failure.
    type: bool
    default: false
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.no_group
seealso:
  - plugin: mcpops.runbooks.incident_report
    plugin_type: callback
  - plugin: mcpops.runbooks.run_dir
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: "Pending actions: the runs of the last 12 hours, the morning check's findings with them"
  mcpops.runbooks.run_reports_info:
    runs_dir: "{{ lookup('mcpops.runbooks.run_dir') }}"
    since_hours: 12
    read_files: [findings.json]
  delegate_to: localhost
  register: handover_runs

- name: "Active incidents: every run that did not end well"
  ansible.builtin.debug:
    msg: "{{ handover_runs.failed_runs | map(attribute='name') | list }}"
"""

RETURN = r"""
runs_dir:
  description: The runs dir read.
  returned: always
  type: str
exists:
  description: Whether the runs dir exists.
  returned: always
  type: bool
since_hours:
  description: The window, in hours.
  returned: always
  type: float
runs:
  description: The runs of the window, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    dir: {description: The run dir., type: str}
    name: {description: Its name (C(<UTC timestamp>-<runbook id>))., type: str}
    runbook: {description: The runbook id., type: str}
    title: {description: The runbook's title., type: str}
    changes: {description: Whether the runbook changes things., type: bool}
    status: {description: "The report's status: ok, failed, unreachable, incomplete or refused.", type: str}
    ok: {description: Whether the status is ok., type: bool}
    check_mode: {description: Whether it ran in check mode., type: bool}
    started: {description: When it started (UTC)., type: str}
    ended: {description: When it ended (UTC); null when it did not., type: str}
    failed_steps: {description: "The steps that failed, went unreachable or were interrupted: step, host, status,
      message.", type: list, elements: dict}
    summary: {description: "Its summary lines, each prefixed with its host.", type: list, elements: str}
    manual_steps: {description: The manual steps the runbook leaves to people., type: list, elements: str}
    files: {description: "The parsed O(read_files) present in the run dir, by name (C({unreadable}) when a file could
      not be read).", type: dict}
  sample:
    - {dir: /srv/mcpops/runs/20250115T060000Z-lego-morning-health-check, name: 20250115T060000Z-lego-morning-health-check,
       runbook: lego-morning-health-check, title: LEGO MCP morning health check, changes: false, status: failed, ok: false,
       check_mode: false, started: "2025-01-15T06:00:00Z", ended: "2025-01-15T06:01:10Z",
       failed_steps: [{step: "Document findings", host: lego-controller, status: failed, message: "..."}],
       summary: ["lego-controller: Summary: ..."], manual_steps: ["Create tickets for non-critical issues"],
       files: {findings.json: {findings: ["equipment CNC-001: error"]}}}
failed_runs:
  description: The runs of RV(runs) that did not end C(ok) (not C(failed), which would fail the task).
  returned: always
  type: list
  elements: dict
latest:
  description: The latest run's name of each runbook, by runbook id.
  returned: always
  type: dict
  sample: {lego-morning-health-check: 20250115T060000Z-lego-morning-health-check}
approvals:
  description: "The pending approvals not expired yet, oldest first: id, runbook, host, created_at, expires_at,
    check_run, check_status."
  returned: always
  type: list
  elements: dict
unreadable:
  description: Run dirs whose report.json could not be read, with the reason.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._runs.run_reports_info_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            runs_dir=dict(type="path", required=True),
            since_hours=dict(type="float", default=12),
            runbooks=dict(type="list", elements="str", default=[]),
            read_files=dict(type="list", elements="str", default=[]),
            max_runs=dict(type="int", default=50),
            missing_ok=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
