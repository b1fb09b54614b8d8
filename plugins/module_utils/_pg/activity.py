# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection picture of a server (runbook steps 1 and 2), read-only.

Client sessions against max_connections and the reserved slots, and where they come from:
activity_info(session) -> dict. No Ansible here.
"""

from __future__ import annotations

# reserved_connections exists from PostgreSQL 16; current_setting(..., true) gives NULL before.
SETTINGS_SQL = """
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved_connections,
       coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int AS reserved_connections,
       current_setting('server_version') AS server_version
"""

# Client backends only: walsenders, autovacuum and background workers hold no max_connections slot of clients.
SESSIONS_SQL = """
SELECT a.pid, a.usename AS user, a.datname AS database, host(a.client_addr) AS client_addr,
       a.application_name, coalesce(a.state, 'unknown') AS state,
       extract(epoch FROM now() - a.state_change)::float8 AS state_seconds,
       extract(epoch FROM now() - a.xact_start)::float8 AS xact_seconds,
       a.wait_event_type, a.wait_event,
       pg_catalog.pg_blocking_pids(a.pid) AS blocked_by
FROM pg_catalog.pg_stat_activity a
WHERE a.backend_type = 'client backend'
"""

GROUPS = [
    ("by_state", "state"),
    ("by_client_addr", "client_addr"),
    ("by_application_name", "application_name"),
    ("by_user", "user"),
    ("by_database", "database"),
]


def count_by(rows, key, missing):
    """[{name, count}] most first, then by name; a NULL key (a unix-socket client_addr) under `missing`."""
    counts = {}
    for row in rows:
        name = row.get(key)
        name = missing if name in (None, "") else name
        counts[name] = counts.get(name, 0) + 1
    return [{"name": n, "count": c} for n, c in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def _seconds(value):
    return None if value is None else round(float(value), 3)


def summarize(settings, rows):
    """The info result from the settings row and the client sessions."""
    max_conn = settings["max_connections"]
    reserved = settings["superuser_reserved_connections"] + settings["reserved_connections"]
    total = len(rows)
    info = dict(
        server_version=settings["server_version"],
        total=total,
        max_connections=max_conn,
        superuser_reserved_connections=settings["superuser_reserved_connections"],
        reserved_connections=settings["reserved_connections"],
        # What ordinary roles can still open; the reserved slots are for superusers / pg_use_reserved_connections.
        available=max(0, max_conn - reserved - total),
        percent_used=round(100.0 * total / max_conn, 1) if max_conn else None,
    )
    for result_key, column in GROUPS:
        info[result_key] = count_by(rows, column, "local" if column == "client_addr" else "")
    idle_tx = [r for r in rows if r["state"] in ("idle in transaction", "idle in transaction (aborted)")]
    oldest = max(idle_tx, key=lambda r: r["xact_seconds"] or 0) if idle_tx else None
    info["oldest_idle_in_transaction"] = None if oldest is None else dict(
        pid=oldest["pid"], user=oldest["user"], database=oldest["database"], client_addr=oldest["client_addr"],
        application_name=oldest["application_name"], idle_seconds=_seconds(oldest["state_seconds"]),
        transaction_seconds=_seconds(oldest["xact_seconds"]))
    waiting = [r for r in rows if r["blocked_by"] or r["wait_event_type"] == "Lock"]
    info["waiting"] = [dict(
        pid=r["pid"], user=r["user"], database=r["database"], application_name=r["application_name"],
        wait_event_type=r["wait_event_type"], wait_event=r["wait_event"], blocked_by=sorted(r["blocked_by"] or []),
        waiting_seconds=_seconds(r["state_seconds"])) for r in sorted(waiting, key=lambda r: r["pid"])]
    return info


def activity_info(session):
    """Settings + every client session, summarized. Our own backend is one of the sessions counted."""
    settings = session.query(SETTINGS_SQL, what="reading max_connections")[0]
    rows = session.query(SESSIONS_SQL, what="reading pg_stat_activity")
    return summarize(settings, rows)
