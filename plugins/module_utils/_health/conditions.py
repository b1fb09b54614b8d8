# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Conditions on a health check's JSON body, as a profile writes them: ``status == healthy``, ``stores.*.ok == true``.

Grammar: ``<path> exists`` or ``<path> <op> <value>``.
  path   dotted keys (``database.status``); ``*`` stands for every key of an object or item of a list, and the
         condition must hold for each of them (and there must be at least one).
  op     ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``
  value  a JSON literal (``true``, ``3``, ``"a b"``, ``null``) or a bare word (``healthy``), taken as a string.
Ordering operators compare numbers only. No Ansible here: the profile schema and service_health both use it.
"""

from __future__ import annotations

import json
import math
import re

OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_SEGMENT = re.compile(r"^(\*|[A-Za-z0-9_-]{1,64})\Z")
_CONDITION = re.compile(r"^\s*(?P<path>[^\s]+)\s+(?:(?P<exists>exists)|(?P<op>==|!=|<=|>=|<|>)\s+(?P<value>.+?))\s*\Z")
_MISSING = object()


class Condition:
    """One parsed condition: its text, path segments, operator ('exists' or a comparison) and expected value."""

    def __init__(self, text, path, op, value):
        self.text = text
        self.path = path
        self.op = op
        self.value = value

    def __repr__(self):
        return "Condition(%r)" % self.text


def parse(text):
    """A Condition from its text; ValueError saying what is wrong otherwise."""
    if not isinstance(text, str):
        raise ValueError("a condition must be a string like 'status == healthy', not %r" % (text,))
    match = _CONDITION.match(text)
    if not match:
        raise ValueError("condition %r is not '<path> <op> <value>' or '<path> exists' (ops: %s)" % (text, " ".join(OPERATORS)))
    path = match.group("path").split(".")
    for segment in path:
        if not _SEGMENT.match(segment):
            raise ValueError("condition %r: path segment %r must be * or letters, digits, _ and -" % (text, segment))
    if match.group("exists"):
        return Condition(text.strip(), path, "exists", None)
    raw = match.group("value")
    try:
        value = json.loads(raw)
    except ValueError:
        if re.search(r"\s", raw) or raw[:1] in "\"'[{":
            raise ValueError("condition %r: value %r is neither a JSON literal nor one bare word" % (text, raw))
        value = raw
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("condition %r: value must be a finite number" % text)  # json reads NaN and Infinity
    if isinstance(value, (list, dict)):
        raise ValueError("condition %r: value must be a string, number, true, false or null" % text)
    op = match.group("op")
    if op not in ("==", "!=") and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError("condition %r: %s compares numbers, and %r is not one" % (text, op, value))
    return Condition(text.strip(), path, op, value)


def _resolve(body, path, prefix=""):
    """[(dotted path, value or _MISSING)] for every match of path in body (``*`` fans out)."""
    if not path:
        return [(prefix, body)]
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(body, dict):
            items = [(str(k), v) for k, v in sorted(body.items())]
        elif isinstance(body, list):
            items = [(str(i), v) for i, v in enumerate(body)]
        else:
            return [(prefix + ".*" if prefix else "*", _MISSING)]
        if not items:
            return [(prefix + ".*" if prefix else "*", _MISSING)]
        out = []
        for key, value in items:
            out.extend(_resolve(value, rest, prefix + "." + key if prefix else key))
        return out
    where = prefix + "." + head if prefix else head
    if isinstance(body, dict) and head in body:
        return _resolve(body[head], rest, where)
    if isinstance(body, list) and head.isdigit() and int(head) < len(body):
        return _resolve(body[int(head)], rest, where)
    return [(where + ("." + ".".join(rest) if rest else ""), _MISSING)]


def _holds(op, actual, wanted):
    if op == "==":
        if isinstance(actual, bool) or isinstance(wanted, bool):
            return actual is wanted  # 1 is not true, 0 is not false
        return actual == wanted
    if op == "!=":
        return not _holds("==", actual, wanted)
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        return False
    return {"<": actual < wanted, "<=": actual <= wanted, ">": actual > wanted, ">=": actual >= wanted}[op]


def evaluate(condition, body):
    """None when condition holds for body (a decoded JSON value), else why not: 'status is "degraded"'."""
    for where, actual in _resolve(body, condition.path):
        if actual is _MISSING:
            return "%s is missing" % where
        if condition.op == "exists":
            continue
        if not _holds(condition.op, actual, condition.value):
            return "%s is %s" % (where, json.dumps(actual)[:80])
    return None
