# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which lines of a block of JSON-lines log can matter to app_log_scan, found with byte searches, not JSON parsing.

LinePrefilter(...).candidates(segment) -> the start offsets of the lines that may be an error, slow, an auth failure,
a rate-limit hit or a message match, each with the checks it may matter to: a superset for each check (a line it
does not name for a check cannot be one of its findings), so the caller parses only those lines and judges each for
the checks it is named for. It is only asked about an ASCII segment without a \\u escape (log_fast_scan checks that): there
every JSON string is its bytes, except for the escapes \\" \\\\ \\/ \\b \\f \\n \\r \\t, and bytes.lower()
is str.lower(). What makes a line a candidate:

- errors: a level key holds a text that names an error level (log_tokens: the forms the level is written in,
  counted; the usual case, a few counts of a block); when counting cannot tell (a form not seen before that the
  block does not account for, a number), the old way: an error level's name is a substring of the lowered line,
  or the level key is followed by a digit, or digits as text (pino: 50 error, 60 fatal);
- slow: the latency key followed by a string, or by a number with as many integer digits as slow_ms or more, or
  with an exponent;
- auth_failures, rate_limited: an event name is a substring of the lowered line (the event, error_type or message
  equals it); a status key followed by a string, one of the statuses or a number with an exponent;
- message_contains: the longest run of the text that JSON never escapes (no ", \\, /, control or non-ASCII
  character) is in the line (lowered, with message_ignore_case); a text with no such run takes every line.

A key is searched by its last part and, when dotted, whole (a nested "res": {"statusCode": ...} holds
"statusCode"); a key name with a character JSON may escape makes every line a candidate. Substrings are found by
log_needles (by a rare byte of theirs where the block has one), key patterns by regexes that start at a rare byte
of the key's name (anchored). No Ansible here.
"""

from __future__ import annotations

import re
import sys

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_levels import level_name
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_needles import ByteCounts, lines_holding
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_tokens import KeyTokens

_ESCAPABLE = re.compile(r'["\\/\x00-\x1f]|[^\x00-\x7f]')
# possessive repeats (Python 3.11 on; the same matches here, where what follows a repeat can never be what it
# repeats): the regex engine does not back off through them, a third off the latency pattern's time
_ONCE = b"+" if sys.version_info >= (3, 11) else b""
_WS = rb"[ \t\r]*" + _ONCE
_PLAIN_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789 ")


def plain_run(text):
    """The longest part of text that JSON never escapes and ASCII holds (bytes); b'' when there is none."""
    parts = [part for part in _ESCAPABLE.split(text) if part]
    return max(parts, key=len).encode("ascii") if parts else b""


def key_names(paths):
    """The quoted names to look for a field under: each path's last part and, when dotted, the whole path.
    None when a name holds a character JSON may escape (so a byte search could miss it)."""
    names = []
    for path in paths:
        for name in (path, path.split(".")[-1]) if "." in path else (path,):
            if _ESCAPABLE.search(name):
                return None
            quoted = b'"' + name.encode("ascii") + b'"'
            if quoted not in names:
                names.append(quoted)
    return names


def anchored(quoted, rest):
    """A regex for quoted (a key name in quotes, bytes) followed by rest, whose search starts at the first byte of the
    name that is not a lowercase letter, a digit or a space (the _ of "duration_ms", the T of "responseTime"), the
    bytes before it checked behind: the regex engine stops at that byte's places only, not at every quote of every
    line (about twice as fast). A name of only such bytes is searched from its opening quote."""
    for index in range(1, len(quoted) - 1):
        if quoted[index] not in _PLAIN_BYTES:
            return re.compile(re.escape(quoted[index:]) + b"(?<=" + re.escape(quoted) + b")" + rest)
    return re.compile(re.escape(quoted) + rest)


_ERE_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-:'\",;=@#%&~`!<>/")


def ere_literal(text, fold=False):
    """text (bytes) as a POSIX extended regex for grep (log_grep) that matches exactly it, in any ASCII case with
    fold: letters as [aA], every other character outside the plain ones in brackets ([.] [*] [\\]), ^ as \\^."""
    out = []
    for code in text:
        char = bytes((code,))
        if fold and char.isalpha():
            out.append(b"[" + char.lower() + char.upper() + b"]")
        elif code in _ERE_PLAIN:
            out.append(char)
        elif char == b"^":
            out.append(b"\\^")
        else:
            out.append(b"[" + char + b"]")
    return b"".join(out)


# what a line is a candidate for: each search is a superset for its own check alone, so the judge of a line looks
# only at the checks it was named for (a 429 line is not looked at as an error, a slow request or a message)
ERRORS, SLOW, EVENTS, MESSAGES = 1, 2, 4, 8
EVERY_CHECK = ERRORS | SLOW | EVENTS | MESSAGES


class LinePrefilter:
    """A superset of the lines that may matter (see the module docstring); everything is True when no byte search
    can be trusted for these options (every line is then a candidate for every check)."""

    def __init__(self, fields, checks, slow_ms, error_levels, auth_events, rate_limit_events, auth_statuses,
                 rate_limit_statuses, messages, ignore_case):
        self.everything = False
        self.lowered = set()   # event names, searched in the lowered segment (EVENTS)
        self.messages_lowered = set()  # message texts with message_ignore_case (MESSAGES)
        self.raw = set()       # message texts, searched in the segment as it is (MESSAGES)
        self.patterns = []     # (regex searched in the segment as it is, what a line it finds is a candidate for)
        # the errors: by counting the level's forms (level_tokens) or, when that cannot tell, by these
        self.level_tokens = []
        self.level_lowered = set()
        self.level_patterns = []
        self.ere = []          # the same searches as one POSIX extended regex's alternatives, for grep (log_grep)
        if "errors" in checks:
            wanted = frozenset(filter(None, (level_name(level) for level in error_levels)))
            for level in error_levels:
                name = level_name(level)
                if name:
                    self._needle(name.lower(), self.level_lowered, None)
            self.level_patterns = self._key_patterns(
                fields["level"], rb'"?' + _ONCE + rb'(?:[ \t\r]|\\[tnrf])*' + _ONCE + rb'[0-9]',
                b'"?([ \t\r]|\\\\[tnrf])*[0-9]')  # grep's: no \\t in brackets, a real tab
            names = key_names(fields["level"])
            if names is not None:
                self.level_tokens = [KeyTokens(name, lambda value: isinstance(value, str) and level_name(value) in wanted)
                                     for name in names]
        if "slow" in checks:
            digits = len(str(int(slow_ms))) if slow_ms >= 1 else 1
            self.patterns += [(pattern, SLOW) for pattern in self._key_patterns(
                fields["latency"], rb'(?:"|[0-9]{%d}|[0-9.]+%s[eE])' % (digits, _ONCE),
                rb'("|[0-9]{%d}|[0-9.]+[eE])' % digits)]
        statuses = set()
        for check, names, codes in (("auth_failures", auth_events, auth_statuses),
                                    ("rate_limited", rate_limit_events, rate_limit_statuses)):
            if check in checks:
                for name in names:
                    self._needle(str(name).strip().lower(), self.lowered, None)
                statuses.update(int(code) for code in codes)
        if statuses:
            codes = b"|".join(b"%d" % code for code in sorted(statuses))
            self.patterns += [(pattern, EVENTS) for pattern in self._key_patterns(
                fields["status"], rb'(?:"|(?:%s)(?![0-9])|[0-9.]+%s[eE])' % (codes, _ONCE),
                rb'("|(%s)([^0-9]|$)|[0-9.]+[eE])' % codes)]
        for text in messages:
            if ignore_case:
                self._needle(text.lower(), self.messages_lowered, None)
            else:
                self._needle(text, None, self.raw)

    def _needle(self, text, lowered, raw):
        needle = plain_run(text)
        if not needle:
            self.everything = True
        elif lowered is not None:
            lowered.add(needle.lower())
            self.ere.append(ere_literal(needle, fold=True))
        else:
            raw.add(needle)
            self.ere.append(ere_literal(needle))

    def _key_patterns(self, paths, value, ere_value):
        """The regexes of a key (paths: its names) followed by value; ere_value: the same as a POSIX extended regex
        (grep's), kept in self.ere."""
        names = key_names(paths)
        if names is None:
            self.everything = True
            return []
        self.ere += [ere_literal(name) + b"[ \t\r]*:[ \t\r]*" + ere_value for name in names]
        return [anchored(name, _WS + b":" + _WS + value) for name in names]

    def grep_pattern(self):
        """The lines candidates() may name for any check, as one POSIX extended regex (bytes) for grep -E (log_grep),
        or None when every line is a candidate or there is nothing to search for. The error levels are its level
        names in any case and the level key followed by digits (candidates()' way when counting cannot tell): a
        superset of what counting names. A line it names is judged for every check."""
        if self.everything or not self.ere:
            return None
        return b"|".join(dict.fromkeys(self.ere))

    def candidates(self, segment):
        """{start offset: what it is a candidate for (ERRORS | SLOW | EVENTS | MESSAGES)} for the candidate lines of
        segment (lines joined by newlines)."""
        found = {}
        get = found.get

        def adder(check):
            def add(start):
                found[start] = get(start, 0) | check
            return add

        rfind = segment.rfind
        raw_counts = ByteCounts(segment)
        lowered_needles = [(needle, EVENTS) for needle in self.lowered]
        lowered_needles += [(needle, MESSAGES) for needle in self.messages_lowered]
        patterns = self.patterns
        if self.level_tokens or self.level_lowered or self.level_patterns:
            errors = adder(ERRORS)
            told = True
            for tokens in self.level_tokens:
                if tokens.lines(segment, errors, raw_counts) is None:
                    told = False
                    break
            if not told or not self.level_tokens:
                lowered_needles += [(needle, ERRORS) for needle in self.level_lowered]
                patterns = patterns + [(pattern, ERRORS) for pattern in self.level_patterns]
        if lowered_needles:
            lowered = segment.lower()
            lowered_counts = ByteCounts(lowered)
            for needle, check in lowered_needles:
                lines_holding(lowered, needle, adder(check), lowered_counts)
            del lowered
        messages = adder(MESSAGES)
        for needle in self.raw:
            lines_holding(segment, needle, messages, raw_counts)
        for pattern, check in patterns:
            add = adder(check)
            for match in pattern.finditer(segment):
                add(rfind(b"\n", 0, match.start()) + 1)
        return found
