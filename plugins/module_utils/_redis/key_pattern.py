# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SCAN MATCH patterns (Redis glob: *, ?, [...] classes with ^ and ranges, \\ escapes): parse, and refuse those
that could match every key.

"Could match every key" is decided soundly by a simple rule: a pattern with no literal character outside its
wildcards. A literal is any character that is not *, ?, or part of a [...] class, including an escaped one (\\*
is a literal star). A pattern with a literal c matches no key without c, so it never matches the whole keyspace;
a pattern without one ('*', '**', '?*', '*?*', '[a-z]*', '[^x]*', '?', ...) is refused unless forced. The rule is
conservative: it also refuses a few wildcard-only patterns that match less than everything ('???', '[a]*');
write the literal instead ('a*') or set force.
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.connection import RedisError


def pattern_tokens(pattern):
    """The pattern as tokens: ('literal', char) | ('star',) | ('any',) | ('class', text). RedisError when malformed."""
    tokens = []
    i = 0
    n = len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            tokens.append(("star",))
        elif char == "?":
            tokens.append(("any",))
        elif char == "[":
            j = i + 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            if j >= n:
                raise RedisError("pattern %r has a '[' with no closing ']' at position %d: close the class, or write \\[ "
                                 "for a literal bracket" % (pattern, i))
            tokens.append(("class", pattern[i:j + 1]))
            i = j
        elif char == "\\" and i + 1 < n:
            i += 1
            tokens.append(("literal", pattern[i]))
        else:
            tokens.append(("literal", char))  # a trailing backslash matches itself, as in Redis
        i += 1
    return tokens


def literal_characters(pattern):
    """The literal characters of the pattern, in order (escaped ones unescaped)."""
    return "".join(tok[1] for tok in pattern_tokens(pattern) if tok[0] == "literal")


def literal_prefix(pattern):
    """The literal text the pattern starts with ('ratelimit:' for 'ratelimit:*')."""
    prefix = []
    for tok in pattern_tokens(pattern):
        if tok[0] != "literal":
            break
        prefix.append(tok[1])
    return "".join(prefix)


def could_match_every_key(pattern):
    """True when the pattern has no literal character outside wildcards (see the module docstring)."""
    return not literal_characters(pattern)


def check_pattern(pattern, force=False):
    """The pattern when it may be scanned; RedisError for an empty, malformed or match-all (unforced) pattern."""
    if pattern is None or pattern == "":
        raise RedisError("pattern is empty: give a SCAN pattern such as 'ratelimit:*'")
    if not isinstance(pattern, str):
        raise RedisError("pattern must be text, got %s" % type(pattern).__name__)
    if could_match_every_key(pattern) and not force:
        raise RedisError("pattern %r is refused: it has no literal character outside wildcards (*, ?, [...]), so it "
                         "could match every key of the database. Give a narrower pattern such as 'ratelimit:*', or set "
                         "force=true to work on the whole keyspace" % pattern)
    return pattern
