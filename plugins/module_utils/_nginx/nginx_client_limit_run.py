# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nginx_client_limit's work: offending clients marked (or unmarked) in the offenders include, a limit_req zone's
rate set (or put back), or the limit_conn of a zone lowered (or put back); written only when nginx -t takes it,
reloaded when asked.

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
    connections = params.get("connections")
    try:
        if state not in ("present", "absent"):
            raise ConfError("state %r: want present or absent" % state)
        zone = conf_values.name(params.get("zone"), "zone")
        rate = conf_values.rate(params["rate"]) if params.get("rate") is not None else None
        if connections is not None:
            connections = conf_values.connections(connections)
            if clients is not None or rate is not None:
                raise ConfError("connections sets a limit_conn; give it without clients and rate")
        if clients is not None:
            if not clients:
                raise ConfError("clients is empty: name the offending addresses or networks")
            clients = [conf_values.client(c) for c in clients]
            variable = conf_values.variable(params.get("variable") or re.sub(r"[.-]", "_", zone), "variable")
        elif state == "present" and rate is None and connections is None:
            raise ConfError("without clients, state=present sets the zone's rate or its limit_conn: give rate (like "
                            "10r/s) or connections (like 8)")
    except ConfError as exc:
        raise TaskError("%s refused: %s. Nothing was changed." % (WHO, exc.msg), dict(changed=False))

    def plan_clients(text):
        new_text, before, after = client_limit_edit.plan_clients(text, clients, state, variable, zone, rate)
        return new_text, dict(limit="clients", zone=zone, clients=clients, state=state, limited_before=before,
                              limited=after)

    def plan_zone(text):
        new_text, before, after, original = client_limit_edit.plan_zone_rate(text, zone, state, rate)
        return new_text, dict(limit="zone_rate", zone=zone, state=state, rate_before=before, rate=after,
                              original_rate=original)

    def plan_connections(text):
        new_text, before, after, original = client_limit_edit.plan_connections(text, zone, state, connections)
        return new_text, dict(limit="connections", zone=zone, state=state, connections_before=before,
                              connections=after, original_connections=original)

    def plan_absent(text):
        # state=absent without clients puts back what this module set on the zone, whichever kind of zone it is
        kind = client_limit_edit.zone_kind(text, zone)
        return (plan_connections if kind == "connections" else plan_zone)(text)

    if clients is not None:
        plan = plan_clients
    elif connections is not None:
        plan = plan_connections
    elif state == "absent":
        plan = plan_absent
    else:
        plan = plan_zone
    return conf_change.change(params, check_mode, plan, WHO, run_command)
