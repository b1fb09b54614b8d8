#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release_link module: its documentation, argument spec and main(); the work is _service/release_link_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: release_link
short_description: Deploy or roll back a releases directory's current and previous symlinks
version_added: "0.1.0"
description:
  - "The runbook's \"Rollback Deployment\" on hosts that run the service under systemd or supervisor: a releases
    directory holds one C(<version>/) directory a release (each may hold C(release.json) with its C(version)) and
    two relative symlinks, C(current) and C(previous), each naming a version directory. The service runs from
    C(current); restart it after a change (the playbook's job, not this module's)."
  - "O(state=deployed) sets C(previous) to the old C(current) and C(current) to O(version). O(state=rolled_back) does
    the same with O(version) defaulting to C(previous)'s target (so two rollbacks in a row go back and forth).
    M(mcpops.runbooks.release_link_info) reads the links and lists the versions."
  - "Each link is replaced atomically: a new symlink under a temp name in the same directory, then a rename over
    the link; C(previous) first, then C(current), then the directory is fsynced. Already at that version:
    C(changed=false)."
  - "Hostile input is refused and nothing is touched: O(path) must be a real directory, not a symlink (give the
    real path); O(version) must be one plain name of a real directory in O(path) (no C(/), no C(..), not hidden,
    not a symlink); a C(current) or C(previous) that is not a symlink, or that points anywhere but at a version
    directory directly in O(path), is refused, not followed."
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  path:
    description: The releases directory.
    type: path
    required: true
  state:
    description:
      - V(deployed) and V(rolled_back) change the links.
      - V(info), and leaving O(state) out, are deprecated and will be removed in 2.0.0 (O(state) will be required) - they
        still report as M(mcpops.runbooks.release_link_info) does, with a deprecation warning.
    type: str
  version:
    description: The release directory name to make current. Required for V(deployed); for V(rolled_back) the default is C(previous)'s target.
    type: str
attributes:
  check_mode:
    description: Can run in check mode and report what would change without changing anything.
    support: full
    details: Reports the links it would set; changes nothing.
  diff_mode:
    description: Reports what changed (or would change in check mode) when run with C(--diff).
    support: full
    details: The C(current) and C(previous) links before and after.
  action_group:
    description: Not in an action group.
    support: none
    membership: []
notes:
  - The links are written relative (C(current -> 1.0.1)); an existing absolute link into O(path) is read but replaced by a relative one.
seealso:
  - module: mcpops.runbooks.release_link_info
  - module: mcpops.runbooks.service_health
"""

EXAMPLES = r"""
- name: Roll back to the previous release
  mcpops.runbooks.release_link:
    path: /opt/connectormcp/releases
    state: rolled_back
  register: rollback

- name: Deploy 1.0.2
  mcpops.runbooks.release_link:
    path: /opt/connectormcp/releases
    state: deployed
    version: 1.0.2
"""

RETURN = r"""
path:
  description: The releases directory.
  returned: always
  type: str
current:
  description: The version C(current) names (after the change; in check mode, the one it would name); null when there is no link.
  returned: success
  type: str
previous:
  description: The version C(previous) names, likewise.
  returned: success
  type: str
versions:
  description: The release directories, in version order, each with C(release.json)'s C(version) (null when absent).
  returned: success
  type: list
  elements: dict
  sample: [{"name": "1.0.0", "version": "1.0.0"}, {"name": "1.0.1", "version": "1.0.1"}]
before:
  description: The links before, C({current, previous}).
  returned: when state is not info
  type: dict
after:
  description: The links after (or that would be, in check mode).
  returned: when state is not info
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.info_state import check_state
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.release_link_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str"),
            version=dict(type="str"),
        ),
        required_if=[("state", "deployed", ("version",))],
        supports_check_mode=True,
    )
    check_state(module, ["deployed", "rolled_back"], "release_link_info")
    run_module(module, run)


if __name__ == "__main__":
    main()
