#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The unit_processes module: its documentation, argument spec and main(); the work is _service/unit_processes_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: unit_processes
short_description: Clean up the processes a stopped systemd unit left in its own control group, and only those
version_added: "0.2.0"
description:
  - The runbooks' "process clean-up" (seed 002's C(pkill -f cctelegram-bridge)) without a pattern kill - the
    processes signalled are those in the unit's own control group (C(systemctl show -p ControlGroup), its
    C(cgroup.procs) and those of its subgroups), never a process picked by its name or command line.
  - With O(state=absent) each such process gets C(SIGTERM) (then C(SIGCONT), so that a stopped - hung - process can
    act on it), again for any that appears meanwhile, for O(grace) seconds; whatever is left then gets C(SIGKILL), and
    the module waits up to O(wait_timeout) seconds until the group is empty, failing with the PIDs left.
  - Each PID is checked to be in the group again right before its signal, through a pidfd, so that a process that
    exited and whose PID was reused is not hit.
  - Refused, nothing signalled - a unit that is active, activating or reloading (stop it first; its processes are
    systemd's while it runs); a unit systemd does not know; a malformed unit name.
  - Processes are named by their C(comm) only, never their arguments.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  unit:
    description: The unit, for example V(cctelegram-bridge) (V(.service) is added when no unit suffix is given).
    type: str
    required: true
  state:
    description: V(absent) - no process is left in the unit's control group.
    type: str
    default: absent
    choices: [absent]
  grace:
    description: Seconds between C(SIGTERM) and C(SIGKILL).
    type: float
    default: 5
  wait_timeout:
    description: Seconds to wait after C(SIGKILL) until the group is empty.
    type: float
    default: 10
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes
  - mcpops.runbooks.attributes.no_group
attributes:
  check_mode:
    description: Lists the processes it would signal under RV(found); signals none.
requirements:
  - systemd on the managed host; Linux (cgroup v2, or v1 with systemd's named hierarchy)
seealso:
  - module: ansible.builtin.systemd_service
"""

EXAMPLES = r"""
- name: Stop the bridge
  ansible.builtin.systemd_service:
    name: cctelegram-bridge
    state: stopped

- name: Bridge process clean-up (its own cgroup only)
  mcpops.runbooks.unit_processes:
    unit: cctelegram-bridge
    state: absent
    grace: 5
  register: cleanup
"""

RETURN = r"""
unit:
  description: The unit.
  returned: always
  type: str
  sample: cctelegram-bridge.service
active_state:
  description: The unit's C(ActiveState) when the module ran.
  returned: always
  type: str
  sample: inactive
control_group:
  description: The unit's control group.
  returned: always
  type: str
  sample: /system.slice/cctelegram-bridge.service
found:
  description: The processes found in the group, C({pid, name}) (name - the C(comm)).
  returned: always
  type: list
  elements: dict
  sample: [{"pid": 4242, "name": "python3"}]
terminated:
  description: PIDs that were sent C(SIGTERM) and went without C(SIGKILL).
  returned: always
  type: list
  elements: int
killed:
  description: PIDs that were sent C(SIGKILL).
  returned: always
  type: list
  elements: int
left:
  description: PIDs still in the group at the end (the task then fails).
  returned: always
  type: list
  elements: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.unit_processes_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            unit=dict(type="str", required=True),
            state=dict(type="str", default="absent", choices=["absent"]),
            grace=dict(type="float", default=5),
            wait_timeout=dict(type="float", default=10),
        ),
        supports_check_mode=True,
    )
    run_module(module, run, run_command=lambda argv: module.run_command(argv, check_rc=False))


if __name__ == "__main__":
    main()
