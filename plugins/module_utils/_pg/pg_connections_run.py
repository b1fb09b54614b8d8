# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_connections' work: check the filters (before connecting), connect, then report (info) or signal.

run(params, check_mode, driver=None) returns the module's result or raises TaskError; a missing driver is a
TaskError with library set (missing_required_lib). No Ansible here: unit and integration tests call it directly.
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.activity import activity_info
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.connect import (
    DriverMissing,
    PgError,
    connect,
    missing_driver,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.session_filter import FilterError, validate_filters
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.session_signal import signal_sessions


def run(params, check_mode=False, *, driver=None):
    """driver: (name, module) instead of importing psycopg (tests)."""
    state = params.get("state") or "info"
    if params.get("wait_timeout") is not None and float(params["wait_timeout"]) < 0:
        raise TaskError("wait_timeout must be 0 or more seconds (got %s)" % params["wait_timeout"])
    try:
        flt = None if state == "info" else validate_filters(params)
    except FilterError as exc:
        raise TaskError("pg_connections state=%s: %s" % (state, exc))
    try:
        with connect(params, driver) as session:
            if state == "info":
                return dict(changed=False, **activity_info(session))
            return signal_sessions(session, flt, state, check_mode, params.get("wait_timeout", 30))
    except DriverMissing as exc:
        raise missing_driver(exc, "to talk to PostgreSQL; or delegate_to a host that has it")
    except PgError as exc:
        msg = exc.msg
        if exc.sqlstate == "42501":
            msg += (". Next: signalling another role's sessions needs a superuser or a member of pg_signal_backend "
                    "(and seeing them pg_read_all_stats); sessions listed before the refused one may have been signalled "
                    "already, so re-run as such a role")
        raise TaskError(msg, dict(sqlstate=exc.sqlstate) if exc.sqlstate else {})
