# -*- coding: utf-8 -*-
# Copyright: mcpops-runbooks engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_connections' whole run: check the filters (before connecting), connect, then info or signal.

run_pg_connections(params, check_mode, driver=None) returns the module's result or raises
PgConnectionsError(msg, result); pg_connect.DriverMissing goes through for missing_required_lib.
No Ansible here: unit and integration tests call it directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mcpops.runbooks.plugins.module_utils.pg_activity import activity_info
from ansible_collections.mcpops.runbooks.plugins.module_utils.pg_connect import PgError, connect
from ansible_collections.mcpops.runbooks.plugins.module_utils.pg_session_filter import FilterError, validate_filters
from ansible_collections.mcpops.runbooks.plugins.module_utils.pg_session_signal import SignalError, signal_sessions


class PgConnectionsError(Exception):
    def __init__(self, msg, result=None):
        super(PgConnectionsError, self).__init__(msg)
        self.msg = msg
        self.result = result or {}


def run_pg_connections(params, check_mode, driver=None):
    state = params.get("state") or "info"
    if params.get("wait_timeout") is not None and float(params["wait_timeout"]) < 0:
        raise PgConnectionsError("wait_timeout must be 0 or more seconds (got %s)" % params["wait_timeout"])
    try:
        flt = None if state == "info" else validate_filters(params)
    except FilterError as exc:
        raise PgConnectionsError("pg_connections state=%s: %s" % (state, exc))
    try:
        with connect(params, driver) as session:
            if state == "info":
                return dict(changed=False, **activity_info(session))
            return signal_sessions(session, flt, state, check_mode, params.get("wait_timeout", 30))
    except SignalError as exc:
        raise PgConnectionsError(exc.msg, exc.result)
    except PgError as exc:
        msg = exc.msg
        if exc.sqlstate == "42501":
            msg += (". Next: signalling another role's sessions needs a superuser or a member of pg_signal_backend "
                    "(and seeing them pg_read_all_stats); sessions listed before the refused one may have been signalled "
                    "already, so re-run as such a role")
        raise PgConnectionsError(msg, dict(sqlstate=exc.sqlstate) if exc.sqlstate else {})
