# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A series selector as PromQL writes one, `name{label="v", label=~"re", label!="v", label!~"re"}`: which samples of a
/metrics page a threshold adds up. Label regexes are anchored, as in PromQL."""

from __future__ import annotations

import re

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|\})')
_OPS = ("=", "!=", "=~", "!~")


class Selector:
    """name and matchers [(label, op, value)]; matches(labels) says whether a sample's labels pass all of them."""

    def __init__(self, name, matchers=()):
        self.name = name
        self.matchers = list(matchers)
        self._regexes = {}
        for label, op, value in self.matchers:
            if op not in _OPS:
                raise ValueError("unknown matcher %s" % op)
            if op in ("=~", "!~"):
                try:
                    self._regexes[(label, value)] = re.compile("(?:%s)\\Z" % value)
                except re.error as exc:
                    raise ValueError("label %s: bad regex %r: %s" % (label, value, exc))

    def matches(self, labels):
        for label, op, value in self.matchers:
            have = labels.get(label, "")
            if op == "=" and have != value or op == "!=" and have == value:
                return False
            if op in ("=~", "!~") and bool(self._regexes[(label, value)].match(have)) != (op == "=~"):
                return False
        return True

    def __str__(self):
        if not self.matchers:
            return self.name
        return "%s{%s}" % (self.name, ",".join('%s%s"%s"' % m for m in self.matchers))


def parse_selector(text):
    """A Selector from its text; ValueError saying what is wrong and where."""
    text = (text or "").strip()
    name = _NAME.match(text)
    if not name:
        raise ValueError("a selector starts with a metric name: %r" % text)
    rest, matchers = text[name.end():].strip(), []
    if rest:
        if not rest.startswith("{"):
            raise ValueError("after the metric name comes {label=\"value\", ...}: %r" % text)
        pos = 1
        if rest[1:].strip() != "}":
            while pos < len(rest):
                found = _MATCHER.match(rest, pos)
                if not found:
                    raise ValueError("cannot read the label matcher at %r in %r" % (rest[pos:], text))
                value = re.sub(r"\\(.)", r"\1", found.group(3))
                matchers.append((found.group(1), found.group(2), value))
                pos = found.end()
                if found.group(4) == "}":
                    break
            if pos != len(rest):
                raise ValueError("text after the closing brace in %r" % text)
    return Selector(name.group(0), matchers)
