#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The textfile_metrics module: its documentation, argument spec and main(); the work is _host/textfile_metrics_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: textfile_metrics
short_description: Write Prometheus metrics for node_exporter's textfile collector, atomically
version_added: "0.1.0"
description:
  - Writes metrics in the Prometheus text format to a C(.prom) file in node_exporter's textfile
    collector directory (C(--collector.textfile.directory)), so that scheduled runbooks are monitored
    (C(mcpops_last_backup_age_seconds), C(mcpops_runbook_last_success_timestamp), ...).
  - The file is replaced atomically, a temp file in the same directory whose name does not end in
    C(.prom) renamed over it, so node_exporter never reads half a file.
  - Reports C(changed) only when the text differs from the file's.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  path:
    description: The C(.prom) file to write; its directory must exist.
    type: path
    required: true
  metrics:
    description: The samples; samples of one name share its O(metrics[].help) and O(metrics[].type).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The metric name (C([a-zA-Z_:][a-zA-Z0-9_:]*)).
        type: str
        required: true
      value:
        description: A number (booleans are 1 and 0).
        type: raw
        required: true
      help:
        description: The C(# HELP) text.
        type: str
      type:
        description: The C(# TYPE).
        type: str
        choices: [gauge, counter, untyped]
        default: gauge
      labels:
        description: Label names and values.
        type: dict
  mode:
    description: The file's mode (node_exporter must be able to read it).
    type: raw
    default: "0644"
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes
  - mcpops.runbooks.attributes.no_group
"""

EXAMPLES = r"""
- name: Backup metrics for Prometheus
  mcpops.runbooks.textfile_metrics:
    path: /var/lib/node_exporter/textfile/mcpops_backup.prom
    metrics:
      - name: mcpops_last_backup_age_seconds
        help: Seconds since the newest valid backup was taken
        value: 12
        labels: {instance_name: gw1}
      - name: mcpops_runbook_last_success_timestamp
        help: Unix time of the runbook's last successful run
        value: "{{ now(utc=true).timestamp() | int }}"
        labels: {runbook: backup-scheduled}
"""

RETURN = r"""
path:
  description: The absolute path of the C(.prom) file.
  returned: always
  type: str
  sample: /var/lib/node_exporter/textfile/mcpops_backup.prom
metrics:
  description: The metric names written (would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [mcpops_last_backup_age_seconds, mcpops_runbook_last_success_timestamp]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._host.textfile_metrics_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            metrics=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                value=dict(type="raw", required=True),
                help=dict(type="str"),
                type=dict(type="str", choices=["gauge", "counter", "untyped"], default="gauge"),
                labels=dict(type="dict"),
            )),
            mode=dict(type="raw", default="0644"),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
