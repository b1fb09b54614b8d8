#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway_index_jobs module: its documentation, argument spec and main(); the work is _gateway/gateway_index_jobs_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_index_jobs
short_description: Guard a gateway stop or restart against running index jobs, and re-run discover
version_added: "0.1.0"
description:
  - "O(state=idle): before a stop or restart, reads C(GET /api/system/jobs) and waits up to O(wait_timeout)
    seconds for every running C(index.discover) job to finish (the runbook: restart during an index job
    leaves a stale index). Still running after that, it fails and changes nothing, unless O(force):
    then it returns the jobs the restart will interrupt in RV(interrupts). Read-only."
  - "O(state=discovered): starts C(POST /api/system/index/discover) (after a restart that interrupted one).
    Joins a discover job that is already running instead of starting a second. Check mode says it would."
  - A gateway that does not answer has no job to interrupt; O(state=idle) then succeeds with C(answered=false).
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  state:
    description: V(idle) waits for or refuses on running jobs; V(discovered) starts an index.discover job.
    type: str
    choices: [idle, discovered]
    default: idle
  wait_timeout:
    description: Seconds to wait for running jobs to finish (V(idle)).
    type: int
    default: 300
  poll_interval:
    description: Seconds between two reads of the job list while waiting.
    type: int
    default: 2
  force:
    description: Do not fail when jobs still run after O(wait_timeout); report them in RV(interrupts).
    type: bool
    default: false
extends_documentation_fragment:
  - mcpops.runbooks.gateway_api
  - mcpops.runbooks.gateway_api.admin_api
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes
  - mcpops.runbooks.attributes.gateway_group
attributes:
  check_mode:
    description: V(idle) is read-only and runs as usual; V(discovered) reports that it would start a job.
seealso:
  - module: mcpops.runbooks.gateway_service_facts
"""

EXAMPLES = r"""
- name: Wait up to 5 minutes for index jobs before restarting
  mcpops.runbooks.gateway_index_jobs:
    api_url: "{{ gateway_api_url }}"
    api_token: "{{ gateway_admin_token }}"
    wait_timeout: 300
  register: guard

- name: Re-run discover when the restart interrupted one
  mcpops.runbooks.gateway_index_jobs:
    state: discovered
    api_url: "{{ gateway_api_url }}"
    api_token: "{{ gateway_admin_token }}"
  when: guard.interrupts | length > 0
"""

RETURN = r"""
answered:
  description: Whether the gateway answered at all.
  returned: always
  type: bool
running_jobs:
  description: The C(index.discover) jobs still running when the module returned (V(idle)).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "job_1a2b3c4d", "kind": "index.discover", "state": "running", "startedAt": "2026-11-24T16:00:00Z"}]
waited_seconds:
  description: How long it waited for jobs (V(idle)).
  returned: always
  type: int
interrupts:
  description: With O(force), the jobs a stop or restart now will interrupt; empty otherwise.
  returned: always
  type: list
  elements: dict
job:
  description: The discover job started or joined (V(discovered)); null in check mode.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.api_args import gateway_api_argument_spec
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.gateway_index_jobs_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["idle", "discovered"], default="idle"),
            wait_timeout=dict(type="int", default=300),
            poll_interval=dict(type="int", default=2),
            force=dict(type="bool", default=False),
            **gateway_api_argument_spec()
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
