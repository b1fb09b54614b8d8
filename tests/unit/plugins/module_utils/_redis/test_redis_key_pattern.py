"""The SCAN pattern guard: a pattern with no literal character outside wildcards could match every key and is
refused unless forced; malformed patterns are refused always."""

import re

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.connection import RedisError
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.key_pattern import (
    check_pattern,
    could_match_every_key,
    literal_characters,
    literal_prefix,
    pattern_tokens,
)

MATCH_ALL = ["*", "**", "?*", "*?*", "[a-z]*", "[^x]*", "*[abc]*", "?", "???", "[]*", "[\\]]*"]
NARROW = ["ratelimit:*", "*:77", "a*", "[a-z]x*", "\\*", "\\?*", "*\\[*", "ratelimit:1?.0.0.*", "\\", "ünï*"]


@pytest.mark.parametrize("pattern", MATCH_ALL)
def test_wildcard_only_patterns_are_refused_unless_forced(pattern):
    assert could_match_every_key(pattern)
    with pytest.raises(RedisError) as err:
        check_pattern(pattern)
    assert "no literal character" in err.value.msg and "force=true" in err.value.msg and repr(pattern) in err.value.msg
    assert check_pattern(pattern, force=True) == pattern


@pytest.mark.parametrize("pattern", NARROW)
def test_patterns_with_a_literal_pass(pattern):
    assert not could_match_every_key(pattern)
    assert check_pattern(pattern) == pattern


def glob_regex(pattern):
    """Redis glob semantics as a regex, from our tokens (for the soundness check below)."""
    out = []
    for tok in pattern_tokens(pattern):
        if tok[0] == "literal":
            out.append(re.escape(tok[1]))
        elif tok[0] == "star":
            out.append(".*")
        elif tok[0] == "any":
            out.append(".")
        else:
            body = tok[1][1:-1]
            neg = body.startswith("^")
            body = body[1:] if neg else body
            out.append("[%s%s]" % ("^" if neg else "", body.replace("]", "\\]")) if body else "(?!)")
    return re.compile("".join(out) + r"\Z", re.S)


@pytest.mark.parametrize("pattern", NARROW)
def test_sound_a_pattern_that_passes_misses_some_key(pattern):
    """A pattern with a literal c matches no key lacking c: it never covers the whole keyspace."""
    literal = literal_characters(pattern)[0]
    other = "Q" if literal != "Q" else "R"
    probe = glob_regex(pattern)
    assert not probe.match(other * 3) or literal in other * 3


def test_tokens_escapes_classes_and_prefix():
    assert pattern_tokens("a\\*[x\\]y]?*") == [("literal", "a"), ("literal", "*"), ("class", "[x\\]y]"), ("any",), ("star",)]
    assert literal_characters("ratelimit:\\**") == "ratelimit:*"
    assert literal_prefix("ratelimit:10.*") == "ratelimit:10."
    assert literal_prefix("*x") == ""


@pytest.mark.parametrize("pattern,words", [
    ("", "empty"), (None, "empty"), ("ratelimit:[0-9", "no closing ']'"), ("[abc", "no closing ']'"), ("x[\\]", "no closing"),
])
def test_empty_and_malformed_patterns_are_refused_even_forced(pattern, words):
    with pytest.raises(RedisError) as err:
        check_pattern(pattern, force=True)
    assert words in err.value.msg
