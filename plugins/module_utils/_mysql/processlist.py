# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection picture of a MySQL/MariaDB server (ConnectorMCP runbook 1, "Check connection limits"), read-only.

SHOW GLOBAL STATUS (Threads_connected, Max_used_connections, ...), the server variables that bound connections
(max_connections, wait_timeout, ...) and the client sessions of information_schema.PROCESSLIST grouped by user,
client host (its port stripped), command and database, with the longest-idle and longest-running sessions.
No query text is ever read: it can hold secrets. processlist_info(session) -> dict; count_client_sessions and
present_sessions serve mysql_connections' kill. No Ansible here.
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.session_filter import CLIENT_SESSION, SESSION_COLUMNS

STATUS_NAMES = ["Threads_connected", "Threads_running", "Max_used_connections", "Aborted_connects",
                "Connection_errors_max_connections"]
VARIABLE_NAMES = ["max_connections", "max_user_connections", "extra_max_connections", "wait_timeout", "version"]

STATUS_SQL = "SHOW GLOBAL STATUS WHERE Variable_name IN (%s)" % ", ".join("'%s'" % n for n in STATUS_NAMES)
VARIABLES_SQL = "SHOW GLOBAL VARIABLES WHERE Variable_name IN (%s)" % ", ".join("'%s'" % n for n in VARIABLE_NAMES)
SESSIONS_SQL = ("SELECT %s, p.ID = CONNECTION_ID() AS own FROM information_schema.PROCESSLIST p WHERE %s"
                % (SESSION_COLUMNS, CLIENT_SESSION))
COUNT_SQL = "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST p WHERE %s" % CLIENT_SESSION
TOP = 5  # sessions listed under longest_idle and longest_running
PUBLIC_FIELDS = ["id", "user", "host", "db", "command", "time", "state"]


def public(row):
    """A session as results show it (never its query text)."""
    out = dict((k, row.get(k)) for k in PUBLIC_FIELDS)
    out["id"] = int(out["id"])
    out["time"] = int(out["time"] or 0)
    return out


def count_by(rows, key):
    """[{name, count}] most first, then by name; no database is ''."""
    counts = {}
    for row in rows:
        name = row.get(key)
        name = "" if name is None else name
        counts[name] = counts.get(name, 0) + 1
    return [{"name": n, "count": c} for n, c in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def _name_values(rows):
    return dict((r["Variable_name"].lower(), r["Value"]) for r in rows)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def summarize(status, variables, rows):
    """The info result from SHOW GLOBAL STATUS, SHOW GLOBAL VARIABLES (as lower-cased name -> value) and the
    client sessions."""
    connected = _int(status.get("threads_connected"))
    max_conn = _int(variables.get("max_connections"))
    info = dict(
        server_version=variables.get("version"),
        threads_connected=connected,
        threads_running=_int(status.get("threads_running")),
        max_connections=max_conn,
        max_used_connections=_int(status.get("max_used_connections")),
        extra_max_connections=_int(variables.get("extra_max_connections")),
        max_user_connections=_int(variables.get("max_user_connections")),
        wait_timeout=_int(variables.get("wait_timeout")),
        aborted_connects=_int(status.get("aborted_connects")),
        refused_max_connections=_int(status.get("connection_errors_max_connections")),
        available=max(0, max_conn - connected) if max_conn is not None and connected is not None else None,
        percent_used=round(100.0 * connected / max_conn, 1) if max_conn and connected is not None else None,
        client_sessions=len(rows),
        by_user=count_by(rows, "user"),
        by_host=count_by(rows, "host"),
        by_command=count_by(rows, "command"),
        by_database=count_by(rows, "db"),
    )
    others = [r for r in rows if not r.get("own")]
    order = sorted(others, key=lambda r: (-int(r.get("time") or 0), int(r["id"])))
    info["longest_idle"] = [public(r) for r in order if r.get("command") == "Sleep"][:TOP]
    info["longest_running"] = [public(r) for r in order if r.get("command") != "Sleep"][:TOP]
    return info


def processlist_info(session):
    """state=info of mysql_connections."""
    status = _name_values(session.query(STATUS_SQL, what="reading SHOW GLOBAL STATUS"))
    variables = _name_values(session.query(VARIABLES_SQL, what="reading SHOW GLOBAL VARIABLES"))
    rows = session.query(SESSIONS_SQL, what="reading information_schema.PROCESSLIST")
    return summarize(status, variables, rows)


def count_client_sessions(session):
    """Client sessions on the server now (this one included)."""
    return int(session.query(COUNT_SQL, what="counting sessions in information_schema.PROCESSLIST")[0]["n"])


def present_sessions(session, ids):
    """The sessions among ids (validated integers) still in the processlist, as {id: row}."""
    ids = [int(i) for i in ids]
    if not ids:
        return {}
    found = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        sql = "SELECT %s FROM information_schema.PROCESSLIST p WHERE p.ID IN (%s)" % (
            SESSION_COLUMNS, ", ".join(["%s"] * len(chunk)))
        for row in session.query(sql, tuple(chunk), what="polling information_schema.PROCESSLIST"):
            found[int(row["id"])] = row
    return found
