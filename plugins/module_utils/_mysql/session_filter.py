# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which sessions mysql_connections may kill: the filters, the guards and the one SELECT that finds them.

validate_filters(params) -> SessionFilter, or FilterError before any connection is made.
SessionFilter.statement(state) -> (sql, args): a SELECT on information_schema.PROCESSLIST whose text is built
from constants only (an IN list gets one `%s` a value given); every value the operator gave travels as a bound
parameter, so quotes, `; DROP`, comments or any unicode in a filter can only ever fail to match. Names compare
exactly (BINARY: `App` is not `app`), as MySQL's user and database names do.

The guards are in the WHERE clause itself and no option lifts them: never this module's own connection
(CONNECTION_ID()), never the server's own threads (SYSTEM_USERS, SYSTEM_COMMANDS: InnoDB and other daemons,
the event scheduler, replication threads and binlog dumps to replicas, sessions still logging in, sessions
already being killed), never a session of exclude_users.
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.session_filter import FilterError as _DurationError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.session_filter import parse_duration

# The COMMAND values of a client session (information_schema.PROCESSLIST.COMMAND) a filter may name.
COMMANDS = ["Sleep", "Query", "Execute", "Prepare", "Fetch", "Close stmt", "Reset stmt", "Long Data", "Init DB",
            "Field List", "Statistics", "Change user", "Set option", "Ping", "Processlist", "Debug"]
# Never selected, whatever the filters.
SYSTEM_USERS = ["system user", "event_scheduler", "unauthenticated user", "DELAYED"]
SYSTEM_COMMANDS = ["Daemon", "Binlog Dump", "Binlog Dump GTID", "Slave_IO", "Slave_SQL", "Slave_worker",
                   "Register Slave", "Connect", "Killed", "Table Dump"]
# The filters that narrow the selection; exclude_users and limit alone do not (they would still match nearly all).
NARROWING = ["users", "hosts", "databases", "commands", "idle_for"]
STATES = ["killed", "query_killed"]

# The client's host as PROCESSLIST shows it ('10.0.0.7:51234', '[::1]:5123', 'localhost') without its port.
CLIENT_HOST = ("TRIM(LEADING '[' FROM TRIM(TRAILING ']' FROM IF(LOCATE(':', p.HOST) > 0, "
               "LEFT(p.HOST, CHAR_LENGTH(p.HOST) - LOCATE(':', REVERSE(p.HOST))), p.HOST)))")

SESSION_COLUMNS = ("p.ID AS id, p.USER AS user, %s AS host, p.DB AS db, p.COMMAND AS command, p.TIME AS time, "
                   "p.STATE AS state" % CLIENT_HOST)

# A client session (this module's own included): what info counts and what a selection starts from.
CLIENT_SESSION = ("COALESCE(p.USER, '') NOT IN (%s) AND COALESCE(p.COMMAND, '') NOT IN (%s)" % (
    ", ".join("'%s'" % u for u in SYSTEM_USERS), ", ".join("'%s'" % c for c in SYSTEM_COMMANDS)))


class FilterError(ValueError):
    pass


def _placeholders(values):
    return ", ".join(["%s"] * len(values))


def _names(value, option):
    """A list option as a list of non-empty strings, or None when not given (or given empty)."""
    if value is None:
        return None
    names = [str(v) for v in value]
    if not names:
        return None
    if any(n == "" for n in names):
        raise FilterError("%s: empty names are not allowed (got %r)" % (option, names))
    return names


class SessionFilter:
    """Validated filters; .statement(state) is the SELECT of the sessions to kill."""

    def __init__(self, users=None, hosts=None, databases=None, commands=None, idle_seconds=None, exclude_users=None,
                 limit=None):
        self.users = users
        self.hosts = hosts
        self.databases = databases
        self.commands = commands
        self.idle_seconds = idle_seconds
        self.exclude_users = exclude_users
        self.limit = limit

    def statement(self, state="killed"):
        """(sql, args). state=query_killed selects only sessions running something (never Sleep: KILL QUERY of an
        idle session has nothing to stop)."""
        where = ["p.ID <> CONNECTION_ID()", CLIENT_SESSION]
        args = []
        for column, values in (("p.USER", self.users), (CLIENT_HOST, self.hosts), ("p.DB", self.databases),
                               ("p.COMMAND", self.commands)):
            if values is not None:
                where.append("BINARY %s IN (%s)" % (column, ", ".join(["BINARY %s"] * len(values))))
                args.extend(values)
        if self.idle_seconds is not None:
            where.append("p.TIME >= %s")
            args.append(self.idle_seconds)
        if self.exclude_users is not None:
            where.append("BINARY COALESCE(p.USER, '') NOT IN (%s)" % ", ".join(["BINARY %s"] * len(self.exclude_users)))
            args.extend(self.exclude_users)
        if state == "query_killed":
            where.append("p.COMMAND <> 'Sleep'")
        sql = "SELECT %s FROM information_schema.PROCESSLIST p WHERE %s ORDER BY p.TIME DESC, p.ID" % (
            SESSION_COLUMNS, "\n  AND ".join(where))
        if self.limit is not None:
            sql += " LIMIT %s"
            args.append(int(self.limit))
        return sql, tuple(args)

    def describe(self):
        """The filters as validated (for results and messages)."""
        out = dict(users=self.users, hosts=self.hosts, databases=self.databases, commands=self.commands,
                   idle_seconds=self.idle_seconds, exclude_users=self.exclude_users, limit=self.limit)
        return dict((k, v) for k, v in out.items() if v is not None)


def validate_filters(params, require_filter=True):
    """SessionFilter from the module's params, or FilterError before any connection is made.

    With require_filter, a call that narrows nothing is refused unless all_matching is true."""
    commands = _names(params.get("commands"), "commands")
    if commands:
        unknown = [c for c in commands if c not in COMMANDS]
        if unknown:
            raise FilterError("commands: %r not among %s" % (unknown, ", ".join(COMMANDS)))
    idle_seconds = None
    if params.get("idle_for") not in (None, ""):
        try:
            idle_seconds = parse_duration(params["idle_for"], "idle_for")
        except _DurationError as exc:
            raise FilterError(str(exc))
    limit = params.get("limit")
    if limit is not None and int(limit) < 1:
        raise FilterError("limit must be 1 or more (got %s); leave it out for no limit" % limit)
    hosts = _names(params.get("hosts"), "hosts")
    if hosts and any(":" in h and h.count(":") == 1 for h in hosts):
        raise FilterError("hosts: %r - give the client host without its port (10.0.0.7, not 10.0.0.7:51234)"
                          % [h for h in hosts if h.count(":") == 1])
    flt = SessionFilter(
        users=_names(params.get("users"), "users"),
        hosts=hosts,
        databases=_names(params.get("databases"), "databases"),
        commands=commands,
        idle_seconds=idle_seconds,
        exclude_users=_names(params.get("exclude_users"), "exclude_users"),
        limit=int(limit) if limit is not None else None,
    )
    narrowed = [name for name in NARROWING if getattr(flt, "idle_seconds" if name == "idle_for" else name) is not None]
    if require_filter and not narrowed and not params.get("all_matching"):
        raise FilterError(
            "refused: no filter (%s) was given, which would kill every client session; give a filter, or "
            "all_matching: true if every session really is meant. Nothing was killed." % ", ".join(NARROWING))
    return flt
