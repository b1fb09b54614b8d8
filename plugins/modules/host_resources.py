#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host_resources module: its documentation, argument spec and main(); the work is _host/host_resources_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_resources
short_description: Load, memory and free disk space of a gateway host, with a free-space threshold
version_added: "0.1.0"
description:
  - Reads C(/proc/loadavg), C(/proc/meminfo) and the free space of the volume that holds each of O(paths)
    (the runbooks' C(uptime), C(free -h) and C(df -h $ONEC_MCP_DATA_DIR)).
  - With O(fail_on_low_disk), fails when a volume has less free space than O(min_free_percent) or
    O(min_free_mb), naming the path, its mount point and device, what is free and the threshold
    (INC-001 step 3).
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  paths:
    description: Paths whose volumes to check, for example the gateway data dir.
    type: list
    elements: path
    default: []
  min_free_percent:
    description: The least free space, in percent of the volume, that is fine; 0 turns the check off.
    type: float
    default: 5
  min_free_mb:
    description: The least free space, in MiB, that is fine; 0 turns the check off.
    type: int
    default: 100
  fail_on_low_disk:
    description: Fail when a volume is under a threshold; otherwise only report it in RV(problems).
    type: bool
    default: true
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.no_group
notes:
  - Linux only (C(/proc)).
"""

EXAMPLES = r"""
- name: "Step 3: Disk space on data volume (df -h $ONEC_MCP_DATA_DIR)"
  mcpops.runbooks.host_resources:
    paths: ["{{ gateway_data_dir }}"]
    min_free_percent: 5
    min_free_mb: 200
"""

RETURN = r"""
load:
  description: The load averages and task counts from C(/proc/loadavg).
  returned: always
  type: dict
  sample: {"1m": 0.42, "5m": 0.3, "15m": 0.25, "running": 1, "total_tasks": 312}
memory:
  description: Memory and swap in bytes, and the percent available.
  returned: always
  type: dict
  sample: {"total_bytes": 8589934592, "available_bytes": 4294967296, "available_percent": 50.0,
           "swap_total_bytes": 0, "swap_free_bytes": 0}
volumes:
  description: One entry a path, the volume that holds it.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/var/lib/onec-mcp-gateway", "mount": "/var", "device": "/dev/vdb1 (ext4)",
            "total_bytes": 10737418240, "free_bytes": 5368709120, "used_bytes": 5368709120, "free_percent": 50.0}]
problems:
  description: A sentence for each volume under a threshold, naming it; empty when all are fine.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._host.host_resources_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="path", default=[]),
            min_free_percent=dict(type="float", default=5),
            min_free_mb=dict(type="int", default=100),
            fail_on_low_disk=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
