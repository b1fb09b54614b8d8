# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A profile's health section read once (its checks, checked for shape) and which of its checks a task runs.

health_checks(health) -> the checks, normalised ({name, path, method, auth, expect_status, max_latency_ms,
conditions: [Condition]}); select(health, checks, wanted) -> the names to run, in the profile's order; roles_of ->
which of liveness / readiness / deep each check is. Every refusal is a TaskError naming the field.
"""

from __future__ import annotations

import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.conditions import parse

ROLES = ("liveness", "readiness", "deep")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")
METHOD_RE = re.compile(r"^[A-Z]{1,16}\Z")
# A path is appended to base_url as it is: it starts with /, and holds no space, control character or #.
PATH_RE = re.compile(r"^/[^\s\x00-\x1f\x7f#]{0,1024}\Z")


def _int(value, where, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise TaskError("health.%s must be an integer >= %d, not %r" % (where, minimum, value))
    return value


def _check(index, item):
    where = "checks[%d]" % index
    if not isinstance(item, dict):
        raise TaskError("health.%s must be a dict with name and path, not %r" % (where, item))
    name = item.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise TaskError("health.%s.name must be letters, digits, _, . and - (at most 64), not %r" % (where, name))
    where = "checks[%d] (%s)" % (index, name)
    path = item.get("path")
    if not isinstance(path, str) or not PATH_RE.match(path):
        raise TaskError("health.%s: path must start with / and hold no space, control character or #, not %r"
                        % (where, path))
    method = item.get("method") or "GET"
    if not isinstance(method, str) or not METHOD_RE.match(method.upper()):
        raise TaskError("health.%s: method must be an HTTP method such as GET, not %r" % (where, method))
    auth = item.get("auth")
    if auth is not None and not isinstance(auth, str):
        raise TaskError("health.%s: auth must be the name of an entry of the auth section or none, not %r" % (where, auth))
    expect_status = item.get("expect_status", 200)
    expect_status = 200 if expect_status is None else _int(expect_status, where + ".expect_status", 100)
    max_latency_ms = item.get("max_latency_ms")
    if max_latency_ms is not None:
        max_latency_ms = _int(max_latency_ms, where + ".max_latency_ms", 1)
    texts = item.get("conditions") or []
    if not isinstance(texts, list):
        raise TaskError("health.%s: conditions must be a list of strings like 'status == healthy', not %r" % (where, texts))
    conditions = []
    for text in texts:
        try:
            conditions.append(parse(text))
        except ValueError as exc:
            raise TaskError("health.%s: %s" % (where, exc))
    return {"name": name, "path": path, "method": method.upper(), "auth": auth, "expect_status": expect_status,
            "max_latency_ms": max_latency_ms, "conditions": conditions}


def health_checks(health):
    """The health section's checks, normalised and checked for shape (name unique, path, conditions parse)."""
    if not isinstance(health, dict):
        raise TaskError("health must be a profile's health section (a dict with checks), not %r" % (health,))
    items = health.get("checks")
    if not isinstance(items, list) or not items:
        raise TaskError("health.checks must be a non-empty list of checks, each a dict with name and path")
    checks = [_check(index, item) for index, item in enumerate(items)]
    seen = set()
    for check in checks:
        if check["name"] in seen:
            raise TaskError("health.checks: two checks are named %s" % check["name"])
        seen.add(check["name"])
    for role in ROLES:
        named = health.get(role)
        if named is not None and (not isinstance(named, str) or named not in seen):
            raise TaskError("health.%s names check %r, which is not in health.checks (%s)"
                            % (role, named, ", ".join(c["name"] for c in checks)))
    return checks


def roles_of(health, name):
    """Which of liveness, readiness, deep the check named name is, in that order."""
    return [role for role in ROLES if health.get(role) == name]


def select(health, checks, wanted):
    """The names of the checks to run, in the profile's order: all of them when wanted is empty; otherwise each
    word is liveness, readiness or deep (the check the section names for it) or a check's name."""
    names = [check["name"] for check in checks]
    if not wanted:
        return names
    chosen = set()
    for word in wanted:
        if word in ROLES and health.get(word) is not None:
            chosen.add(health[word])
        elif word in names:
            chosen.add(word)
        elif word in ROLES:
            raise TaskError("select: the health section names no %s check (checks: %s); nothing was checked"
                            % (word, ", ".join(names)))
        else:
            roles = [role for role in ROLES if health.get(role) is not None]
            raise TaskError("select: unknown check %r; known: %s%s; nothing was checked"
                            % (word, ", ".join(names), " and the roles " + ", ".join(roles) if roles else ""))
    return [name for name in names if name in chosen]
