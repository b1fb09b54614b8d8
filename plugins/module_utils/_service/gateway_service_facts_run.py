# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gateway_service_facts' work: the gateway's service state on its platform, with the crash-loop verdict.

run(params, check_mode, run_command=..., which=...) returns {changed: false, status, k8s_patches} or raises TaskError
for bad input. run_command(argv) -> (rc, stdout, stderr) runs a read-only command (AnsibleModule.run_command in the
module); which(name) -> path or None finds a program on PATH (AnsibleModule.get_bin_path). No Ansible here.
"""

from __future__ import annotations

import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import k8s_env
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.readers import read_status


def run(params, check_mode=False, *, run_command, which):
    """Read-only: check mode reads exactly what a real run reads."""
    if params["log_lines"] < 0:
        raise TaskError("log_lines must be 0 or more, got %d" % params["log_lines"])
    # set_env's and rollback's input, refused before anything is read (kubernetes)
    if params.get("k8s_env") is not None:
        try:
            k8s_env.normalize(params["k8s_env"])
        except ValueError as exc:
            raise TaskError("k8s_env: %s. Nothing was read or changed." % exc)
    if (params.get("k8s_rollback_revision") or 0) < 0:
        raise TaskError("k8s_rollback_revision must be 0 (the previous revision) or a revision number, got %d"
                        % params["k8s_rollback_revision"])

    def available(name):
        # an absolute path (supervisorctl_path) is taken as given; a bare name is looked up on PATH
        if os.path.isabs(name):
            return os.access(name, os.X_OK)
        return which(name) is not None

    status = read_status(params, run_command, available, previous=params.get("previous"))
    # The patches carry the values set_env sets and the template rollback restores: apart from the status, which
    # playbooks print and reports keep; the role's task that reads them hides its output.
    patches = status.pop("k8s_patches", None) or {}
    result = dict(changed=False, status=status)
    if params.get("k8s_env") is not None or params.get("k8s_rollback_revision") is not None:
        result["k8s_patches"] = patches
    return result
