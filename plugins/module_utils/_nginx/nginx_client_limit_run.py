# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nginx_client_limit's work: offending clients marked (or unmarked) in the offenders include, or a limit_req
zone's rate set (or put back); written only when nginx -t takes it, reloaded when asked.

run(params, check_mode) returns the result or raises TaskError. No Ansible here.
"""

from __future__ import annotations

import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx import client_limit_edit, conf_change, conf_values
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError

WHO = "nginx_client_limit"


def run(params, check_mode=False, run_command=None):
    state = params.get("state") or "present"
    clients = params.get("clients")
    try:
        if state not in ("present", "absent"):
            raise ConfError("state %r: want present or absent" % state)
        zone = conf_values.name(params.get("zone"), "zone")
        rate = conf_values.rate(params["rate"]) if params.get("rate") is not None else None
        if clients is not None:
            if not clients:
                raise ConfError("clients is empty: name the offending addresses or networks")
            clients = [conf_values.client(c) for c in clients]
            variable = conf_values.variable(params.get("variable") or re.sub(r"[.-]", "_", zone), "variable")
        elif state == "present" and rate is None:
            raise ConfError("without clients, state=present sets the zone's rate: give rate (like 10r/s)")
    except ConfError as exc:
        raise TaskError("%s refused: %s. Nothing was changed." % (WHO, exc.msg), dict(changed=False))

    def plan_clients(text):
        new_text, before, after = client_limit_edit.plan_clients(text, clients, state, variable, zone, rate)
        return new_text, dict(mode="clients", zone=zone, clients=clients, state=state, limited_before=before,
                              limited=after)

    def plan_zone(text):
        new_text, before, after, original = client_limit_edit.plan_zone_rate(text, zone, state, rate)
        return new_text, dict(mode="zone_rate", zone=zone, state=state, rate_before=before, rate=after,
                              original_rate=original)

    return conf_change.change(params, check_mode, plan_clients if clients is not None else plan_zone, WHO, run_command)
