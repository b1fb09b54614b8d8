# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gateway_index_jobs' work: state=idle waits for (or refuses on) running index jobs, state=discovered starts one."""

from __future__ import annotations

import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import GatewayClient, GatewayError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.index_jobs import start_discover, wait_until_idle


def run(params, check_mode=False, *, client=None, clock=time.monotonic, sleep=time.sleep):
    """The module's result; TaskError(msg, result) for bad input, jobs still running, or a gateway error.

    client: a GatewayClient (default one for params' api_url, api_token, validate_certs, timeout)."""
    if params["wait_timeout"] < 0 or params["poll_interval"] < 1:
        raise TaskError("wait_timeout must be 0 or more and poll_interval 1 or more")
    if client is None:
        client = GatewayClient.from_params(params)
    result = dict(changed=False, answered=True, running_jobs=[], waited_seconds=0, interrupts=[], job=None)
    try:
        if params["state"] == "idle":
            result.update(wait_until_idle(client, params["wait_timeout"], params["force"], poll=params["poll_interval"],
                                          clock=clock, sleep=sleep))
        else:
            result.update(start_discover(client, check_mode))
    except TaskError as exc:
        result.update(exc.result)
        raise TaskError(exc.msg, result)
    except GatewayError as exc:
        raise TaskError("%s. Check gateway_api_url and gateway_admin_token, and that the gateway runs." % exc, result)
    return result
