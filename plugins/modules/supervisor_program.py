#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The supervisor_program module: its documentation, argument spec and main(); the work is
_service/supervisor_program_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: supervisor_program
short_description: Stop, start or restart one supervisord program, also when it is crash-looping
version_added: "0.2.0"
description:
  - "The runbooks' service actions on hosts where supervisord runs the service: O(state=stopped) stops the program
    when it is C(RUNNING), C(STARTING) or C(BACKOFF) (a crash loop between attempts, which would otherwise be
    respawned in the middle of a restore) and waits until it has stopped; O(state=started) starts it unless it is
    C(RUNNING) or C(STARTING) (from C(BACKOFF): a stop, then a fresh start) and waits until supervisord calls it
    C(RUNNING) (its C(startsecs)) or gives up; O(state=restarted) stops it if it runs, then starts it."
  - "When O(config) names a C(supervisord.conf) whose C([supervisorctl]) section talks to a unix socket without
    credentials, the calls go over that socket in the module's own process (C(supervisor.stopProcess),
    C(supervisor.startProcess), with the waits C(supervisorctl) uses): no C(supervisorctl) start-up, which is about
    half a second each, two or three per action in M(community.general.supervisorctl). Otherwise (no O(config), an
    inet C(serverurl), a username or password, an answer the module does not understand before anything was sent)
    the module runs C(supervisorctl stop|start|restart) as before; RV(via) says which."
  - "Unlike M(community.general.supervisorctl), a restart does not run C(supervisorctl update) first: that applies
    every pending change to C(supervisord.conf), which can restart other programs of the same supervisord."
  - "A start that fails (spawn error, the program exits before C(startsecs)) fails the task with supervisord's words
    and the state it was left in; read the program's log for why (M(mcpops.runbooks.gateway_service_facts) reads it)."
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  name:
    description: The program, as C(supervisorctl status) names it (C(group:name) for a member of a group).
    type: str
    required: true
  state:
    description: What the program should be after the task.
    type: str
    required: true
    choices: [started, stopped, restarted]
  config:
    description: The C(supervisord.conf) that C(supervisorctl -c) would use. Without it, C(supervisorctl)'s own search.
    type: str
  supervisorctl_path:
    description: The C(supervisorctl) executable, for the cases the socket is not used.
    type: str
    default: supervisorctl
  timeout:
    description:
      - Seconds to wait for supervisord's answer to each call over the socket (a stop waits for C(stopwaitsecs), a
        start for C(startsecs)). A call that gets no answer in time fails the task and names the state it is in.
    type: int
    default: 120
attributes:
  check_mode:
    description: Can run in check mode and report what would change without changing anything.
    support: full
    details: Reads the program's state and reports the calls it would make (RV(calls)); sends none.
  diff_mode:
    description: Does not report a diff.
    support: none
  action_group:
    description: Not in an action group.
    support: none
    membership: []
seealso:
  - module: community.general.supervisorctl
  - module: mcpops.runbooks.gateway_service_facts
"""

EXAMPLES = r"""
- name: Stop the gateway program (also when it is crash-looping in BACKOFF)
  mcpops.runbooks.supervisor_program:
    name: onec-mcp-gateway
    state: stopped
    config: /etc/supervisor/supervisord.conf

- name: Restart it
  mcpops.runbooks.supervisor_program:
    name: onec-mcp-gateway
    state: restarted
    config: /etc/supervisor/supervisord.conf
"""

RETURN = r"""
name:
  description: The program.
  returned: always
  type: str
via:
  description: C(xmlrpc) (over the socket, in the module) or C(supervisorctl).
  returned: success
  type: str
state_before:
  description: The program's state before (supervisor's statename); absent when C(supervisorctl) acted without a read.
  returned: when known
  type: str
  sample: BACKOFF
calls:
  description: The calls made (or that would be, in check mode), in order.
  returned: when RV(state_before) is known
  type: list
  elements: str
  sample: [stop, start]
state_after:
  description: The program's state after the calls (over the socket only).
  returned: when via is xmlrpc and a call was made
  type: str
  sample: RUNNING
supervisorctl:
  description: What C(supervisorctl) printed, when it ran the action.
  returned: when via is supervisorctl and not in check mode
  type: str
rpc_unusable:
  description: Why the socket was not used although O(config) names one.
  returned: when the socket's answer was not understood
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.supervisor_program_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", required=True, choices=["started", "stopped", "restarted"]),
            config=dict(type="str"),
            supervisorctl_path=dict(type="str", default="supervisorctl"),
            timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    run_module(module, run, run_command=lambda argv: module.run_command(argv, check_rc=False))


if __name__ == "__main__":
    main()
