# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kill the sessions a SessionFilter selects (KILL CONNECTION or KILL QUERY), then wait until it took effect.

The selection is one SELECT (session_filter); each selected session is then killed by its id, an integer
checked as such (session_id: never text), a thousand KILLs a round trip where the session can (the text then holds
`KILL CONNECTION <int>` formatted from the checked int), else one a statement with the id bound as a parameter.
Why batched: a round trip a KILL is most of the time a thousand sessions take. A session that ended
between the SELECT and its KILL (error 1094, unknown thread id) counts as gone. Then wait_until_gone polls the
processlist for all of them together, bounded by wait_timeout: a killed connection is gone when its id has left
the processlist (MariaDB and MySQL never hand a live id out again), a killed query when its session no longer
runs the same command for at least as long as before. No Ansible here.
"""

from __future__ import annotations

import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connect import (
    NOT_OWNER_OF_THREAD,
    SPECIFIC_ACCESS_DENIED,
    UNKNOWN_THREAD,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.processlist import (
    count_client_sessions,
    present_sessions,
    public,
)

KILL_SQL = {"killed": "KILL CONNECTION %s", "query_killed": "KILL QUERY %s"}
KILL_TEXT = {"killed": "KILL CONNECTION %d", "query_killed": "KILL QUERY %d"}  # a batch's text: the checked int only
TOLERATED = (UNKNOWN_THREAD, NOT_OWNER_OF_THREAD, SPECIFIC_ACCESS_DENIED)  # a KILL's own outcome, not a failure


def session_id(value):
    """The id of a processlist row as a positive int; anything else is refused (a KILL never takes text)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TaskError("refused to KILL %r: a session id must be a positive integer" % (value,))
    return value


def survivors(session, state, killed):
    """The killed sessions that have not yet yielded."""
    if not killed:
        return []
    present = present_sessions(session, [r["id"] for r in killed])
    left = []
    for before in killed:
        now = present.get(int(before["id"]))
        if now is None:
            continue
        if state == "query_killed" and (now["command"] != before["command"] or int(now["time"] or 0) < int(before["time"] or 0)):
            continue  # the query is over (the session idles, or runs something newer)
        left.append(before)
    return left


def wait_until_gone(session, state, killed, wait_timeout, sleep=time.sleep, clock=time.monotonic):
    """Poll until no killed session is left or wait_timeout seconds passed; returns those left."""
    deadline = clock() + max(0.0, float(wait_timeout))
    delay = 0.005
    while True:
        left = survivors(session, state, killed)
        if not left or clock() >= deadline:
            return left
        sleep(min(delay, max(0.0, deadline - clock())))
        delay = min(delay * 2, 0.25)


def _sort_out(rows, errors):
    """(killed, gone, refused) from the rows and {index: error} of the KILLs that failed; any other error raises."""
    killed, gone, refused = [], [], []
    for index, row in enumerate(rows):
        exc = errors.get(index)
        if exc is None:
            killed.append(row)
            continue
        errno = getattr(exc, "errno", None)
        if errno == UNKNOWN_THREAD:
            gone.append(row)
        elif errno in (NOT_OWNER_OF_THREAD, SPECIFIC_ACCESS_DENIED):
            refused.append((row, getattr(exc, "msg", str(exc))))
        else:
            raise exc
    return killed, gone, refused


def kill_each(session, state, rows):
    """KILL every row; returns (killed rows, rows already gone, (row, error message) refused).

    In one round trip a thousand when the session can (MysqlSession.run_batch: the texts hold only the checked
    integer ids, KILL CONNECTION 12), else one statement a row with the id bound as a parameter."""
    what = "KILL %s" % ("CONNECTION" if state == "killed" else "QUERY")
    ids = [session_id(row["id"]) for row in rows]
    batch = getattr(session, "run_batch", None)
    failed = batch([KILL_TEXT[state] % ident for ident in ids], what, TOLERATED) if batch is not None and ids else None
    if failed is not None:
        return _sort_out(rows, dict(failed))
    errors = {}
    for index, ident in enumerate(ids):
        try:
            session.execute(KILL_SQL[state], (ident,), what=what)
        except Exception as exc:
            errno = getattr(exc, "errno", None)
            if errno not in TOLERATED:
                raise
            errors[index] = exc
    return _sort_out(rows, errors)


def kill_sessions(session, flt, state, check_mode, wait_timeout, diff=False, sleep=time.sleep, clock=time.monotonic):
    """The result of mysql_connections state=killed|query_killed; TaskError (with that result) when a session
    survived the wait or the server refused a KILL."""
    started = clock()
    before_total = count_client_sessions(session) if diff else None
    sql, args = flt.statement(state)
    rows = session.query(sql, args, what="selecting sessions in information_schema.PROCESSLIST")
    for row in rows:
        row["id"] = session_id(int(row["id"]))
    if check_mode:
        killed, gone_early, refused, left = [], [], [], []
    else:
        killed, gone_early, refused = kill_each(session, state, rows)
        left = wait_until_gone(session, state, killed, wait_timeout, sleep, clock) if killed else []
    result = dict(
        # Check mode: would change when anything matches; a real run: when something was killed.
        changed=bool(rows) if check_mode else bool(killed),
        state=state,
        filters=flt.describe(),
        sessions=[public(r) for r in rows],
        count=len(rows),
        survived=[public(r) for r in left],
        refused=[public(r) for r, dummy in refused],
        gone=0 if check_mode else len(killed) - len(left) + len(gone_early),
        elapsed_seconds=round(clock() - started, 3),
    )
    if diff:
        if check_mode or state == "query_killed":
            after_total = before_total - (len(rows) if state == "killed" else 0)
        else:
            after_total = count_client_sessions(session)
        result["diff"] = dict(
            before="client_sessions: %s\nmatching: %d\n" % (before_total, len(rows)),
            after="client_sessions: %s\nmatching: %d\n" % (after_total, len(left) + len(refused)),
        )
    if refused:
        raise TaskError(
            "the server refused to kill %d of %d sessions (ids %s): %s. Next: log in as an account with "
            "CONNECTION ADMIN or SUPER (MariaDB, MySQL), which may kill other users' sessions; sessions listed "
            "before were killed already, so re-running is safe." % (
                len(refused), len(rows), ", ".join(str(r["id"]) for r, dummy in refused), refused[0][1]), result)
    if left:
        raise TaskError(
            "%d of %d killed sessions were still %s after wait_timeout=%ss (ids %s): a thread notices KILL only at "
            "its next check (for example after a long lock wait or a slow I/O). Re-running the task is safe; raise "
            "wait_timeout, or look at them in information_schema.PROCESSLIST." % (
                len(left), len(killed), "present" if state == "killed" else "running the same query",
                wait_timeout, ", ".join(str(r["id"]) for r in left)), result)
    return result
