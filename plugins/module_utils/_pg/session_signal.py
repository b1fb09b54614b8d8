# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Terminate or cancel the sessions a SessionFilter selects, then wait until it took effect.

One statement selects and signals (session_filter.SELECT_AND_SIGNAL). pg_terminate_backend is called
without its timeout argument, which would wait for each backend in turn (about 100 ms each): every signal
goes out at once, then wait_until_gone polls pg_stat_activity for all of them together, bounded by
wait_timeout. A session is identified by (pid, backend_start), so a new backend that reuses a pid is not
mistaken for a survivor. No Ansible here.
"""

from __future__ import annotations

import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.session_filter import ACTIONS

# A terminated session is gone from pg_stat_activity when its backend has exited.
STILL_THERE_SQL = """
SELECT pid, backend_start::text AS backend_start, query_start::text AS query_start, state
FROM pg_catalog.pg_stat_activity WHERE pid = ANY(%(pids)s::int[])
"""

WHAT = {
    "none": "selecting sessions in pg_stat_activity",
    "terminate": "selecting and terminating sessions (pg_terminate_backend)",
    "cancel": "selecting and cancelling queries (pg_cancel_backend)",
}

PUBLIC_FIELDS = ["pid", "user", "database", "client_addr", "application_name", "state", "idle_seconds"]


def public(row):
    return dict((k, row.get(k)) for k in PUBLIC_FIELDS)


def survivors(session, action, signalled):
    """The signalled sessions that have not yet yielded: still present (terminate), still running the same
    query (cancel)."""
    if not signalled:
        return []
    wanted = dict((r["pid"], r) for r in signalled)
    rows = session.query(STILL_THERE_SQL, {"pids": sorted(wanted)}, what="polling pg_stat_activity")
    left = []
    for row in rows:
        before = wanted.get(row["pid"])
        if before is None or row["backend_start"] != before["backend_start"]:
            continue  # a new backend under a reused pid
        if action == "cancel" and (row["state"] != "active" or row["query_start"] != before["query_start"]):
            continue  # the cancelled query is over
        left.append(before)
    return left


def wait_until_gone(session, action, signalled, wait_timeout, sleep=time.sleep, clock=time.monotonic):
    """Poll until no signalled session is left or wait_timeout seconds passed; returns those left."""
    deadline = clock() + max(0.0, float(wait_timeout))
    delay = 0.005
    while True:
        left = survivors(session, action, signalled)
        if not left or clock() >= deadline:
            return left
        sleep(min(delay, max(0.0, deadline - clock())))
        delay = min(delay * 2, 0.25)


def signal_sessions(session, flt, state, check_mode, wait_timeout, sleep=time.sleep, clock=time.monotonic):
    """The result of pg_connections state=terminated|cancelled; TaskError (with that result) when sessions survived."""
    action = "none" if check_mode else ACTIONS[state]
    started = clock()
    sql, args = flt.statement(action)
    rows = session.query(sql, args, what=WHAT[action])
    # pg_terminate_backend returns false for a pid that exited between the select and the signal: gone already.
    signalled = [r for r in rows if r["signalled"]] if action != "none" else []
    left = wait_until_gone(session, action, signalled, wait_timeout, sleep, clock) if signalled else []
    left_pids = set(r["pid"] for r in left)
    result = dict(
        # Check mode: would change when anything matches; a real run: when something was signalled.
        changed=bool(rows) if action == "none" else bool(signalled),
        state=state,
        filters=flt.describe(),
        sessions=[public(r) for r in rows],
        count=len(rows),
        survived=[public(r) for r in left],
        gone=len(signalled) - len(left) if action != "none" else 0,
        elapsed_seconds=round(clock() - started, 3),
    )
    if left:
        verb = "terminated" if action == "terminate" else "cancelled"
        raise TaskError(
            "%d of %d %s sessions were still %s after wait_timeout=%ss (pids %s): a backend can take a while to "
            "notice a signal (for example while it waits on I/O or an extension call). Re-running the task is safe; "
            "raise wait_timeout, or look at them in pg_stat_activity." % (
                len(left), len(signalled), verb, "present" if action == "terminate" else "running the same query",
                wait_timeout, ", ".join(str(p) for p in sorted(left_pids))), result)
    return result
