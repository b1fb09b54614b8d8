# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the mysql_connections module: run(params, check_mode, diff) -> result dict, or TaskError.

state=info reads the connection picture (processlist.processlist_info); state=killed / query_killed checks the
filters before connecting (session_filter.validate_filters), then selects, kills and waits (session_kill).
No Ansible here: unit and integration tests call it directly.
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connect import (
    SPECIFIC_ACCESS_DENIED,
    DriverMissing,
    connect,
    missing_driver,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.errors import MysqlError
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.processlist import processlist_info
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.session_filter import FilterError, validate_filters
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.session_kill import kill_sessions


def run(params, check_mode=False, diff=False, *, driver=None):
    """driver: a module with connect() and MySQLError instead of importing pymysql (tests)."""
    state = params.get("state") or "info"
    if params.get("wait_timeout") is not None and float(params["wait_timeout"]) < 0:
        raise TaskError("wait_timeout must be 0 or more seconds (got %s)" % params["wait_timeout"])
    try:
        flt = None if state == "info" else validate_filters(params)
    except FilterError as exc:
        raise TaskError("mysql_connections state=%s: %s" % (state, exc))
    try:
        with connect(params, driver) as session:
            if state == "info":
                return dict(changed=False, **processlist_info(session))
            wait_timeout = params.get("wait_timeout")
            return kill_sessions(session, flt, state, check_mode, 30 if wait_timeout is None else wait_timeout, diff)
    except DriverMissing as exc:
        raise missing_driver(exc, "to talk to MySQL/MariaDB; or delegate_to a host that has it")
    except MysqlError as exc:
        errno = getattr(exc, "errno", None)
        msg = exc.msg
        if errno == SPECIFIC_ACCESS_DENIED or "PROCESS privilege" in msg:
            msg += (". Next: seeing other users' sessions needs the PROCESS privilege, killing them CONNECTION ADMIN "
                    "or SUPER; log in as such an account")
        raise TaskError(msg, dict(errno=errno) if errno else {})
