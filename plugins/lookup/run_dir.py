# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run_dir lookup: the controller directory a runbook run writes its files to (the callback's rule)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: run_dir
author: mcpops-runbooks engineers (@mcpops-runbooks)
version_added: "0.1.0"
short_description: The controller directory a runbook run writes its files to
description:
  - >-
    With a runbook id, returns that run's dir, C(<runs>/<UTC timestamp>-<runbook id>), the timestamp being now as
    C(%Y%m%dT%H%M%SZ). Without a term, returns C(<runs>) itself, the directory the run dirs go in.
  - >-
    C(<runs>) is C(MCPOPS_RUNS_DIR) when it is set and not empty; else, for a playbook run from a checkout of this
    collection (C(galaxy.yml) and no C(MANIFEST.json) above C(playbooks/)) that is writable, the checkout's
    C(runs/); else C($XDG_STATE_HOME/mcpops/runs), by default C(~/.local/state/mcpops/runs). Never a directory
    inside an installed collection, nor ansible-rulebook's temporary private data dir.
  - >-
    The P(mcpops.runbooks.incident_report#callback) callback names its report dir by the same rule, so the files a
    playbook writes and the incident report land in the same C(<runs>).
  - >-
    Each call reads the clock: a playbook that writes to one run dir from several hosts or tasks sets it once,
    with a C(run_once) C(ansible.builtin.set_fact) before anything, and uses that fact.
options:
  _terms:
    description: The runbook id (C(mcpops_runbook.id) of the playbook); at most one.
    type: list
    elements: str
    required: false
  follow_report:
    description:
      - Return the incident report's own dir instead when its runner gave one (C(MCPOPS_REPORT_DIR), which
        C(mcpops run) sets to its run dir), so that the playbook's files land next to the report.
    type: bool
    default: false
seealso:
  - plugin: mcpops.runbooks.incident_report
    plugin_type: callback
"""

EXAMPLES = r"""
- name: "Before anything: the run dir (one for every host of the run)"
  ansible.builtin.set_fact:
    triage_output_dir: "{{ output_dir | default(lookup('mcpops.runbooks.run_dir', 'triage'), true) }}"
  run_once: true

- name: Where INC-001's captured logs go (the run dir of `mcpops run` when it runs the playbook)
  ansible.builtin.set_fact:
    inc001_output_dir: "{{ lookup('mcpops.runbooks.run_dir', 'inc-001-gateway-down', follow_report=true) }}"
  run_once: true

- name: The runs dir itself
  ansible.builtin.debug:
    msg: "New secrets go to {{ lookup('mcpops.runbooks.run_dir') }}/secrets/"
"""

RETURN = r"""
_raw:
  description: One path, C(<runs>/<UTC timestamp>-<runbook id>) (or C(<runs>) without a term, or C(MCPOPS_REPORT_DIR)
    with O(follow_report=true) when it is set).
  type: list
  elements: path
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.mcpops.runbooks.plugins.plugin_utils.run_dir import report_dir, run_dir, runs_dir


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) > 1:
            raise AnsibleLookupError("run_dir takes at most one runbook id, got %d terms" % len(terms))
        if self.get_option("follow_report") and report_dir():
            return [report_dir()]
        playbook_dir = (variables or {}).get("playbook_dir")
        if not playbook_dir:
            raise AnsibleLookupError("run_dir needs playbook_dir (it runs inside a play)")
        playbook_dir = str(playbook_dir)
        if not terms:
            return [runs_dir(playbook_dir)]
        return [run_dir(str(terms[0]), playbook_dir)]
