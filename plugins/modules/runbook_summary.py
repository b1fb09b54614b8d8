#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook_summary action's documentation: the work is the action plugin plugins/action/runbook_summary.py,
which runs on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: runbook_summary
short_description: Print a runbook's summary and publish it for AWX notifications
version_added: "0.2.0"
description:
  - Prints O(msg), one line a line prefixed with the host, at any verbosity (nothing when the task is C(no_log));
    the incident report takes it as the run's summary (report.json C(summary), the report's Summary section).
  - Also publishes the lines as the custom stat C(mcpops_summary), each line prefixed with the host it is about, as
    M(ansible.builtin.set_stats) with C(aggregate=true) and C(per_host=false) would. AWX keeps custom stats as the
    job's artifacts, so the collection's notification templates send the summary as C(job.artifacts.mcpops_summary)
    (docs/awx.md).
  - Runs on the controller only and changes nothing.
options:
  msg:
    description:
      - The summary, one line or a list of lines.
    type: raw
    required: true
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.no_group
notes:
  - This is an action plugin; it runs on the controller and nothing is copied to the managed host.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
"""

EXAMPLES = r"""
- name: "Step 5: Summary"
  mcpops.runbooks.runbook_summary:
    msg:
      - "Restored backup {{ backup_id }}; gateway healthy"
      - "Root cause: the migration version; fix forward"
"""

RETURN = r"""
msg:
  description: The summary as given.
  returned: always
  type: raw
"""
