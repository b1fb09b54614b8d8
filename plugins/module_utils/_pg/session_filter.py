# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which sessions pg_connections may signal: the filters and the one statement that selects and signals.

The filters are checked before anything is touched; the parameterised statement selects the sessions and, in
the same statement, signals them. Durations (idle_for) are parsed here too.

validate_filters(params) -> SessionFilter or FilterError. SessionFilter.statement(action) -> (sql, args):
the SQL text is constant; every value the operator gave travels as a bind parameter, so quotes, `; DROP` or
any unicode in a filter can only ever fail to match. The guards are in the WHERE clause itself: never our
own backend, only `client backend`s (no walsender, autovacuum or background worker), no superuser's session
unless include_superusers.
"""

from __future__ import annotations

import ipaddress
import re

STATES = ["active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", "disabled"]
# The filters that narrow the selection; exclude_users and limit alone do not (they would still match nearly all).
NARROWING = ["states", "idle_for", "client_addrs", "application_names", "users", "databases"]
ACTIONS = {"terminated": "terminate", "cancelled": "cancel", "info": "none"}

SESSION_COLUMNS = """
    a.pid,
    a.usename AS user,
    a.datname AS database,
    host(a.client_addr) AS client_addr,
    a.application_name,
    a.state,
    round(extract(epoch FROM now() - a.state_change)::numeric, 3)::float8 AS idle_seconds,
    a.backend_start::text AS backend_start,
    a.query_start::text AS query_start"""

SELECT_AND_SIGNAL = """
WITH target AS (
  SELECT %s
  FROM pg_catalog.pg_stat_activity a
  LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid
  WHERE a.backend_type = 'client backend'
    AND a.pid <> pg_catalog.pg_backend_pid()
    AND (%%(include_superusers)s OR NOT coalesce(r.rolsuper, false))
    AND (%%(states)s::text[] IS NULL OR a.state = ANY(%%(states)s::text[]))
    AND (%%(idle_seconds)s::float8 IS NULL
         OR a.state_change <= now() - make_interval(secs => %%(idle_seconds)s::float8))
    AND (%%(client_addrs)s::text[] IS NULL
         OR EXISTS (SELECT 1 FROM unnest(%%(client_addrs)s::text[]) AS c(net) WHERE a.client_addr <<= c.net::inet))
    AND (%%(application_names)s::text[] IS NULL OR a.application_name = ANY(%%(application_names)s::text[]))
    AND (%%(users)s::text[] IS NULL OR a.usename = ANY(%%(users)s::text[]))
    AND (%%(databases)s::text[] IS NULL OR a.datname = ANY(%%(databases)s::text[]))
    AND (%%(exclude_users)s::text[] IS NULL OR NOT (a.usename = ANY(%%(exclude_users)s::text[])))
  ORDER BY a.state_change NULLS LAST, a.pid
  LIMIT %%(limit)s
)
SELECT t.*,
       CASE %%(action)s
         WHEN 'terminate' THEN pg_catalog.pg_terminate_backend(t.pid)
         WHEN 'cancel' THEN pg_catalog.pg_cancel_backend(t.pid)
       END AS signalled
FROM target t
ORDER BY t.pid
""" % SESSION_COLUMNS


class FilterError(ValueError):
    pass


# Durations as operators write them: `90s`, `10m`, `1h`, `1h30m`, `2d`, or a bare number of seconds.
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
DURATION_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?[smhdw])+$")


def parse_duration(text, name="duration"):
    """Seconds (float) from '10m', '1h30m', '45' (seconds); FilterError naming `name` otherwise."""
    value = str(text).strip().lower().replace(" ", "")
    if re.match(r"^\d+(?:\.\d+)?$", value):
        return float(value)
    if not DURATION_WHOLE.match(value):
        raise FilterError("%s %r: expected a duration such as 90s, 10m, 1h, 1h30m or 2d" % (name, text))
    return float(sum(float(n) * DURATION_UNITS[unit] for n, unit in DURATION_PART.findall(value)))


def _names(value, option):
    """A list option as a list of non-empty strings, or None when not given."""
    if value is None:
        return None
    names = [str(v) for v in value]
    if not names:
        return None
    if any(not n for n in names):
        raise FilterError("%s: empty names are not allowed (got %r)" % (option, names))
    if any("\x00" in n for n in names):
        raise FilterError("%s: a NUL character cannot be part of a PostgreSQL name" % option)
    return names


def _networks(value):
    nets = _names(value, "client_addrs")
    if nets is None:
        return None
    out = []
    for text in nets:
        try:
            out.append(str(ipaddress.ip_network(text.strip(), strict=False)))
        except ValueError:
            raise FilterError("client_addrs: %r is not an IP address or CIDR network (for example 10.0.0.0/8 or 192.0.2.7)" % text)
    return out


class SessionFilter:
    """Validated filters. .args(action) are the bind parameters of SELECT_AND_SIGNAL."""

    def __init__(self, states=None, idle_seconds=None, client_addrs=None, application_names=None, users=None,
                 databases=None, exclude_users=None, limit=None, include_superusers=False):
        self.states = states
        self.idle_seconds = idle_seconds
        self.client_addrs = client_addrs
        self.application_names = application_names
        self.users = users
        self.databases = databases
        self.exclude_users = exclude_users
        self.limit = limit
        self.include_superusers = include_superusers

    def args(self, action):
        return dict(
            action=action,
            include_superusers=bool(self.include_superusers),
            states=self.states,
            idle_seconds=self.idle_seconds,
            client_addrs=self.client_addrs,
            application_names=self.application_names,
            users=self.users,
            databases=self.databases,
            exclude_users=self.exclude_users,
            limit=self.limit,
        )

    def statement(self, action):
        """(sql, args): the constant statement and its parameters; action is terminate, cancel or none."""
        if action not in ACTIONS.values():
            raise FilterError("unknown action %r" % action)
        return SELECT_AND_SIGNAL, self.args(action)

    def describe(self):
        """The filters as given (for results and messages)."""
        return dict((k, v) for k, v in self.args("none").items() if k != "action" and v not in (None, False))


def validate_filters(params, require_filter=True):
    """SessionFilter from the module's params, or FilterError before any connection is made.

    With require_filter, a call that narrows nothing is refused unless all_matching is true."""
    states = _names(params.get("states"), "states")
    if states:
        unknown = [s for s in states if s not in STATES]
        if unknown:
            raise FilterError("states: %r not among %s" % (unknown, ", ".join(STATES)))
    idle_seconds = None
    if params.get("idle_for") not in (None, ""):
        idle_seconds = parse_duration(params["idle_for"], "idle_for")
    limit = params.get("limit")
    if limit is not None and int(limit) < 1:
        raise FilterError("limit must be 1 or more (got %s); leave it out for no limit" % limit)
    flt = SessionFilter(
        states=states,
        idle_seconds=idle_seconds,
        client_addrs=_networks(params.get("client_addrs")),
        application_names=_names(params.get("application_names"), "application_names"),
        users=_names(params.get("users"), "users"),
        databases=_names(params.get("databases"), "databases"),
        exclude_users=_names(params.get("exclude_users"), "exclude_users"),
        limit=int(limit) if limit is not None else None,
        include_superusers=bool(params.get("include_superusers")),
    )
    narrowed = [name for name in NARROWING if getattr(flt, "idle_seconds" if name == "idle_for" else name) is not None]
    if require_filter and not narrowed and not params.get("all_matching"):
        raise FilterError(
            "refused: no filter (%s) was given, which would signal every client session; give a filter, or "
            "all_matching: true if every session really is meant. Nothing was signalled." % ", ".join(NARROWING))
    return flt
