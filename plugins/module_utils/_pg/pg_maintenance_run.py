# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_maintenance's work: connect to the database itself and run VACUUM ANALYZE and, only when asked, REINDEX.

run(params, check_mode, driver=None, now=time.monotonic) returns the module's result or raises TaskError; a missing
driver is a TaskError with library set. No Ansible here: unit and integration tests call it directly.
"""

from __future__ import annotations

import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.connect import (
    DriverMissing,
    PgError,
    connect,
    missing_driver,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.maintenance import TABLE_STATS, quote_ident, statements


def run(params, check_mode=False, *, driver=None, now=time.monotonic):
    """driver: (name, module) instead of importing psycopg (tests)."""
    database = params.get("database")
    quote_ident(database)
    todo = statements(database, params.get("vacuum_analyze"), params.get("reindex"))
    if not todo:
        raise TaskError("pg_maintenance: nothing to do; set vacuum_analyze and/or reindex. Nothing was run.")
    # VACUUM and REINDEX DATABASE work on the database the session is connected to, whatever login_db says.
    login = dict(params, login_db=database)
    result = dict(changed=not check_mode, database=database, statements=[step[0] for step in todo], ran=[],
                  durations_ms={})
    try:
        with connect(login, driver) as session:
            if not check_mode:
                for what, sql in todo:
                    started = now()
                    session.query(sql, what=what)
                    result["ran"].append(what)
                    result["durations_ms"][what] = int((now() - started) * 1000)
            result["tables"] = session.query(TABLE_STATS, what="reading pg_stat_user_tables")
    except DriverMissing as exc:
        raise missing_driver(exc, "to talk to PostgreSQL; or delegate_to a host that has it")
    except PgError as exc:
        msg = exc.msg
        if exc.sqlstate == "42501":
            msg += ". Next: run it as the database's owner or a superuser (login_user)"
        if result["ran"]:
            msg += "; already done before the failure: %s" % ", ".join(result["ran"])
        raise TaskError(msg, dict(result, sqlstate=exc.sqlstate) if exc.sqlstate else result)
    return result
