# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the oauth_states module: run(params, check_mode, diff) -> result dict, or TaskError.

state=info answers the runbook's two diagnosis queries (how many states, the latest expiry, how many expired)
and adds the oldest expired row and the database's clock; state=cleaned deletes the expired rows in batches of
batch_size (each DELETE ... LIMIT its own autocommitted transaction), at most max_rows, all of them against
the one cutoff read from the database's NOW() at the start. Check mode counts what it would delete and deletes
nothing. No Ansible here.
"""

from __future__ import annotations

import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connect import (
    DriverMissing,
    connect,
    missing_driver,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.errors import MysqlError
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.oauth_state_table import (
    OAuthStateTable,
    TableNameError,
)


def _validated(params):
    state = params.get("state") or "info"
    try:
        table = OAuthStateTable(params.get("table") or "oauth_states", params.get("expires_column") or "expires_at")
    except TableNameError as exc:
        raise TaskError("oauth_states: %s. Nothing was touched." % exc)
    batch = 1000 if params.get("batch_size") is None else int(params["batch_size"])
    if batch < 1:
        raise TaskError("oauth_states: batch_size must be 1 or more (got %s). Nothing was touched." % batch)
    max_rows = params.get("max_rows")
    if max_rows is not None and int(max_rows) < 1:
        raise TaskError("oauth_states: max_rows must be 1 or more (got %s); leave it out for no cap. Nothing was "
                        "touched." % max_rows)
    if not params.get("login_db"):
        raise TaskError("oauth_states: login_db is required: the database that holds the table %s (ConnectorMCP's "
                        "is connectorMCP). Nothing was touched." % table.table)
    return state, table, batch, None if max_rows is None else int(max_rows)


def info(session, table, clock):
    counts = table.counts(session, clock["db_now"])
    seed = table.seed_queries()
    utc_offset = (clock["db_now"] - clock["db_utc_now"]).total_seconds()
    return dict(
        changed=False,
        table=table.table,
        expires_column=table.column,
        database=clock["db"],
        db_now=str(clock["db_now"]),
        db_utc_now=str(clock["db_utc_now"]),
        db_utc_offset_seconds=int(round(utc_offset)),
        queries=[dict(sql=seed[0], states=counts["total"], latest=counts["latest"]),
                 dict(sql=seed[1], expired=counts["expired"])],
        **counts
    )


def clean(session, table, clock, batch, max_rows, check_mode, diff, clock_fn=time.monotonic):
    cutoff = clock["db_now"]
    before = table.counts(session, cutoff)
    target = before["expired"] if max_rows is None else min(before["expired"], max_rows)
    started = clock_fn()
    deleted, batches = 0, 0
    if check_mode:
        deleted, batches = target, (target + batch - 1) // batch
    else:
        while max_rows is None or deleted < max_rows:
            limit = batch if max_rows is None else min(batch, max_rows - deleted)
            gone = table.delete_batch(session, cutoff, limit)
            if gone:
                batches += 1
            deleted += gone
            if gone < limit:
                break
    result = dict(
        changed=deleted > 0,
        table=table.table,
        expires_column=table.column,
        database=clock["db"],
        cutoff=str(cutoff),
        db_utc_now=str(clock["db_utc_now"]),
        deleted=deleted,
        batches=batches,
        batch_size=batch,
        total_before=before["total"],
        expired_before=before["expired"],
        elapsed_seconds=round(clock_fn() - started, 3),
    )
    if check_mode:
        result["remaining_expired"] = before["expired"] - deleted
    else:
        result["remaining_expired"] = table.counts(session, cutoff)["expired"]
    if diff:
        result["diff"] = dict(
            before="total: %d\nexpired: %d\n" % (before["total"], before["expired"]),
            after="total: %d\nexpired: %d\n" % (before["total"] - deleted, result["remaining_expired"]),
        )
    return result


def run(params, check_mode=False, diff=False, *, driver=None):
    """driver: a module with connect() and MySQLError instead of importing pymysql (tests)."""
    state, table, batch, max_rows = _validated(params)
    try:
        with connect(params, driver) as session:
            db_clock = table.clock(session)
            table.check(session, db_clock["db"])
            if state == "info":
                return info(session, table, db_clock)
            return clean(session, table, db_clock, batch, max_rows, check_mode, diff)
    except DriverMissing as exc:
        raise missing_driver(exc, "to talk to MySQL/MariaDB; or delegate_to a host that has it")
    except MysqlError as exc:
        errno = getattr(exc, "errno", None)
        raise TaskError(exc.msg, dict(errno=errno) if errno else {})
