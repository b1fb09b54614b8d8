# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gateway_service_facts' work: the gateway's service state on its platform, with the crash-loop verdict.

run(params, check_mode, run_command=..., which=...) returns {changed: false, status} or raises TaskError for bad
input. run_command(argv) -> (rc, stdout, stderr) runs a read-only command (AnsibleModule.run_command in the
module); which(name) -> path or None finds a program on PATH (AnsibleModule.get_bin_path). No Ansible here.
"""

from __future__ import annotations

import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.readers import read_status


def run(params, check_mode=False, *, run_command, which):
    """Read-only: check mode reads exactly what a real run reads."""
    if params["log_lines"] < 0:
        raise TaskError("log_lines must be 0 or more, got %d" % params["log_lines"])

    def available(name):
        # an absolute path (supervisorctl_path) is taken as given; a bare name is looked up on PATH
        if os.path.isabs(name):
            return os.access(name, os.X_OK)
        return which(name) is not None

    status = read_status(params, run_command, available, previous=params.get("previous"))
    return dict(changed=False, status=status)
