#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release_link_info module: its documentation, argument spec and main(); the work is _service/release_link_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: release_link_info
short_description: Read a releases directory's current and previous symlinks and list its versions
version_added: "0.2.0"
description:
  - "The runbook's \"Rollback Deployment\", its first look on hosts that run the service under systemd or
    supervisor: a releases directory holds one C(<version>/) directory a release (each may hold C(release.json) with
    its C(version)) and two relative symlinks, C(current) and C(previous), each naming a version directory. Read-only;
    M(mcpops.runbooks.release_link) deploys or rolls back."
  - "Hostile input is refused, not followed: O(path) must be a real directory, not a symlink (give the real path); a
    C(current) or C(previous) that is not a symlink, or that points anywhere but at a version directory directly in
    O(path), fails the task."
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  path:
    description: The releases directory.
    type: path
    required: true
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.no_group
seealso:
  - module: mcpops.runbooks.release_link
  - module: mcpops.runbooks.service_health
"""

EXAMPLES = r"""
- name: Which release runs
  mcpops.runbooks.release_link_info:
    path: /opt/connectormcp/releases
  register: releases

- name: Before a rollback - the release to go back to is there
  ansible.builtin.assert:
    that: releases.previous is not none
"""

RETURN = r"""
path:
  description: The releases directory.
  returned: always
  type: str
current:
  description: The version C(current) names; null when there is no link.
  returned: success
  type: str
  sample: "1.0.1"
previous:
  description: The version C(previous) names; null when there is no link.
  returned: success
  type: str
  sample: "1.0.0"
versions:
  description: The release directories, in version order, each with C(release.json)'s C(version) (null when absent).
  returned: success
  type: list
  elements: dict
  sample: [{"name": "1.0.0", "version": "1.0.0"}, {"name": "1.0.1", "version": "1.0.1"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.release_link_run import run


def main():
    module = AnsibleModule(argument_spec=dict(path=dict(type="path", required=True)), supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
