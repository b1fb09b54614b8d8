# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which lines of a block of JSON-lines log can matter to app_log_scan, found with byte searches, not JSON parsing.

LinePrefilter(...).candidates(segment, lowered) -> the sorted start offsets of the lines that may be an error, slow,
an auth failure, a rate-limit hit or a message match: a superset (a line it does not name cannot be one), so the
caller parses only those. It is only asked about an ASCII segment without a \\u escape (log_fast_scan checks that):
there every JSON string is its bytes, except for the escapes \\" \\\\ \\/ \\b \\f \\n \\r \\t, and bytes.lower()
is str.lower(). What makes a line a candidate:

- errors: a text level names an error level (the name is a substring of the lowered line), or a level is a number,
  or digits as text (pino: 50 error, 60 fatal): the level key followed by a digit;
- slow: the latency key followed by a string, or by a number with as many integer digits as slow_ms or more, or
  with an exponent;
- auth_failures, rate_limited: an event name is a substring of the lowered line (the event, error_type or message
  equals it); a status key followed by a string, one of the statuses or a number with an exponent;
- message_contains: the longest run of the text that JSON never escapes (no ", \\, /, control or non-ASCII
  character) is in the line (lowered, with message_ignore_case); a text with no such run takes every line.

A key is searched by its last part and, when dotted, whole (a nested "res": {"statusCode": ...} holds
"statusCode"); a key name with a character JSON may escape makes every line a candidate. No Ansible here.
"""

from __future__ import annotations

import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_levels import level_name

_ESCAPABLE = re.compile(r'["\\/\x00-\x1f]|[^\x00-\x7f]')
_WS = rb"[ \t\r]*"


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


class LinePrefilter:
    """A superset of the lines that may matter (see the module docstring); everything is True when no byte search
    can be trusted for these options (every line is then a candidate)."""

    def __init__(self, fields, checks, slow_ms, error_levels, auth_events, rate_limit_events, auth_statuses,
                 rate_limit_statuses, messages, ignore_case):
        self.everything = False
        self.lowered = set()   # searched in the lowered segment
        self.raw = set()       # searched in the segment as it is
        self.patterns = []     # regexes searched in the segment as it is
        if "errors" in checks:
            for level in error_levels:
                name = level_name(level)
                if name:
                    self._needle(name.lower(), lowered=True)
            self._key_pattern(fields["level"], rb'"?(?:[ \t\r]|\\[tnrf])*[0-9]')
        if "slow" in checks:
            digits = len(str(int(slow_ms))) if slow_ms >= 1 else 1
            self._key_pattern(fields["latency"], rb'(?:"|[0-9]{%d}|[0-9.]+[eE])' % digits)
        statuses = set()
        for check, names, codes in (("auth_failures", auth_events, auth_statuses),
                                    ("rate_limited", rate_limit_events, rate_limit_statuses)):
            if check in checks:
                for name in names:
                    self._needle(str(name).strip().lower(), lowered=True)
                statuses.update(int(code) for code in codes)
        if statuses:
            self._key_pattern(fields["status"], rb'(?:"|(?:%s)(?![0-9])|[0-9.]+[eE])'
                              % b"|".join(b"%d" % code for code in sorted(statuses)))
        for text in messages:
            self._needle(text.lower() if ignore_case else text, lowered=ignore_case)

    def _needle(self, text, lowered):
        needle = plain_run(text)
        if not needle:
            self.everything = True
        elif lowered:
            self.lowered.add(needle.lower())
        else:
            self.raw.add(needle)

    def _key_pattern(self, paths, value):
        names = key_names(paths)
        if names is None:
            self.everything = True
            return
        for name in names:
            self.patterns.append(re.compile(re.escape(name) + _WS + b":" + _WS + value))

    def candidates(self, segment, lowered):
        """The sorted start offsets of the candidate lines of segment (lines joined by newlines); lowered is
        segment.lower()."""
        starts = set()
        add = starts.add
        rfind = segment.rfind
        find = segment.find
        for haystack, needles in ((lowered, self.lowered), (segment, self.raw)):
            for needle in needles:
                at = haystack.find(needle)
                while at >= 0:
                    add(rfind(b"\n", 0, at) + 1)
                    end = find(b"\n", at)
                    if end < 0:
                        break
                    at = haystack.find(needle, end)
        for pattern in self.patterns:
            for match in pattern.finditer(segment):
                add(rfind(b"\n", 0, match.start()) + 1)
        return sorted(starts)
