# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How every module ends: call its domain's run(), turn a TaskError into a failed task, else exit with the result."""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError


def run_module(module, run, **kwargs):
    """run(module.params, module.check_mode, **kwargs) -> result dict; exits the module either way."""
    try:
        result = run(module.params, module.check_mode, **kwargs)
    except TaskError as exc:
        msg = exc.msg
        if exc.library:
            msg = missing_required_lib(exc.library, reason=exc.reason)
        extra = dict(exc.result)
        if exc.exception:
            extra["exception"] = exc.exception
        module.fail_json(msg=msg, **extra)
    module.exit_json(**result)
