# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nginx_upstream_server's work: one server of an upstream drained, active, added or removed, or its max_fails and
fail_timeout set; written only when nginx -t takes it, reloaded when asked.

run(params, check_mode) returns the result or raises TaskError. No Ansible here.
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx import conf_change, conf_values, upstream_edit
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError

WHO = "nginx_upstream_server"


def run(params, check_mode=False, run_command=None):
    state = params.get("state") or "present"
    try:
        upstream = conf_values.name(params.get("upstream"), "upstream")
        server = conf_values.server_address(params.get("server"))
        max_fails = conf_values.max_fails(params.get("max_fails"))
        fail_timeout = conf_values.fail_timeout(params.get("fail_timeout"))
        if state == "absent" and (max_fails is not None or fail_timeout is not None):
            raise ConfError("max_fails and fail_timeout go with a server that stays, not with state=absent")
    except ConfError as exc:
        raise TaskError("%s refused: %s. Nothing was changed." % (WHO, exc.msg), dict(changed=False))

    def plan(text):
        force = bool(params.get("force"))
        new_text, before, after, servers = upstream_edit.plan(text, upstream, server, state, max_fails, fail_timeout, force)
        active = [s["address"] for s in servers if not s["down"] and not s["backup"]]
        return new_text, dict(upstream=upstream, server=server, state=state, before=before, after=after,
                              servers=servers, active=active)

    return conf_change.change(params, check_mode, plan, WHO, run_command)
