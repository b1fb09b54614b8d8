# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""redis_keys' work: check the input (before connecting), connect, walk the keys matching the pattern with SCAN,
summarize them and, for state absent or expired, change them batch by batch (nothing in check mode).

run(params, check_mode, diff=False) returns the module's result or raises TaskError. No Ansible here: unit and
integration tests call it directly.
"""

from __future__ import annotations

import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.connection import RedisConnection, RedisError
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.key_change import (
    delete_keys,
    expire_candidate,
    expire_keys,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.key_pattern import check_pattern
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.key_scan import (
    DETAILS,
    NO_TTL,
    KeyspaceSummary,
    key_details,
    scan_batches,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.key_text import key_text

STATES = ("info", "absent", "expired")
KEY_ENCODING = "utf-8, backslash-escaped (\\\\ for a backslash, \\xNN for a byte that is not UTF-8)"


class Plan(object):
    """The validated input: what to scan, what to read of each key, what to change."""

    def __init__(self, params):
        self.state = params.get("state") or "info"
        if self.state not in STATES:
            raise RedisError("state must be one of %s (got %r)" % (", ".join(STATES), self.state))
        self.pattern = check_pattern(params.get("pattern"), bool(params.get("force")))
        self.scan_count = _int(params, "scan_count", 1000, low=1)
        self.limit = _int(params, "limit", None, low=1)
        self.group_by_segment = _int(params, "group_by_segment", None, low=0)
        self.top = _int(params, "top", 20, low=0)
        self.sample = _int(params, "sample", 20, low=0)
        self.only_without_ttl = bool(params.get("only_without_ttl"))
        self.ttl = _int(params, "ttl", None, low=1)
        if self.state == "expired" and self.ttl is None:
            raise RedisError("state=expired needs ttl: the seconds the matched keys may still live (EXPIRE key ttl)")
        details = params.get("details")
        details = list(DETAILS) if details is None else list(details)
        unknown = [d for d in details if d not in DETAILS]
        if unknown:
            raise RedisError("details may hold only %s (got %s)" % (", ".join(DETAILS), ", ".join(map(str, unknown))))
        if (self.only_without_ttl or self.state == "expired") and "ttl" not in details:
            details.append("ttl")  # the keys to count or change are chosen by their TTL
        self.details = tuple(d for d in DETAILS if d in details)


def _int(params, name, default, low):
    value = params.get(name)
    if value is None:
        return default
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise RedisError("%s must be a whole number (got %r)" % (name, params.get(name)))
    if value < low:
        raise RedisError("%s must be %d or more (got %d)" % (name, low, value))
    return value


def walk(conn, plan, check_mode):
    """Scan, summarize, change: (summary, changed keys count, changed sample, limit reached)."""
    summary = KeyspaceSummary(plan.details, plan.group_by_segment, plan.top, plan.sample)
    changed, changed_sample = 0, []
    verb_state = {}
    prefetch = plan.state == "info" and not plan.details  # nothing else is sent between SCAN calls
    for keys in scan_batches(conn, plan.pattern, plan.scan_count, prefetch):
        if plan.details:
            rows = [r for r in key_details(conn, keys, plan.details) if not r.gone]
            if plan.only_without_ttl:
                rows = [r for r in rows if r.ttl == NO_TTL]
            summary.add_rows(rows)
        else:
            rows = None
            summary.add_names(keys)
        if plan.state == "info":
            continue
        room = None if plan.limit is None else plan.limit - changed
        if room is not None and room <= 0:
            continue
        if plan.state == "expired":
            todo = [r.key for r in rows if expire_candidate(r.ttl, plan.ttl, plan.only_without_ttl)]
        else:
            todo = keys if rows is None else [r.key for r in rows]
        if room is not None:
            todo = todo[:room]
        if not check_mode:
            if plan.state == "absent":
                todo = delete_keys(conn, todo, verb_state)
            else:
                todo = expire_keys(conn, todo, plan.ttl, plan.only_without_ttl)
        changed += len(todo)
        if len(changed_sample) < plan.sample:
            changed_sample.extend(key_text(k) for k in todo[:plan.sample - len(changed_sample)])
    reached = plan.limit is not None and changed >= plan.limit
    return summary, changed, changed_sample, reached


def describe(plan, matched, changed, after):
    """The diff's text: how many keys match, before and after."""
    what = "keys matching %r%s" % (plan.pattern, " without a TTL" if plan.only_without_ttl else "")
    if not after:
        return "%s: %d\n" % (what, matched)
    if plan.state == "absent":
        return "%s: %d (%d deleted)\n" % (what, matched - changed, changed)
    return "%s: %d (%d expiring within %d s)\n" % (what, matched, changed, plan.ttl)


def run(params, check_mode=False, diff=False):
    """The module's result (a dict) or TaskError; never the password in either."""
    started = time.monotonic()
    try:
        plan = Plan(params)
    except RedisError as exc:
        raise TaskError("redis_keys: %s. Nothing was read or changed" % exc.msg)
    conn = RedisConnection(params)
    try:
        with conn:
            summary, changed, changed_sample, reached = walk(conn, plan, check_mode)
    except RedisError as exc:
        msg = exc.msg
        if plan.state != "info" and not check_mode:
            msg += " (keys of batches before the failure may have been changed already; re-run to finish)"
        raise TaskError(msg)
    result = dict(changed=changed > 0 and plan.state != "info", state=plan.state, pattern=plan.pattern,
                  db=int(params.get("login_db") or 0), details=list(plan.details), server_version=conn.server_version,
                  key_encoding=KEY_ENCODING, elapsed_seconds=round(time.monotonic() - started, 3))
    result.update(summary.result())
    if plan.state != "info":
        result.update(changed_keys=changed, changed_sample=changed_sample, limit_reached=reached)
        if diff:
            result["diff"] = dict(before=describe(plan, summary.matched, changed, False),
                                  after=describe(plan, summary.matched, changed, True))
    return result
