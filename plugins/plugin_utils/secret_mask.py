# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Masks secrets in what the incident report keeps (standard library only: the `mcpops report`
command loads this file without Ansible).

Three rules, applied to every string of a value, recursively:
- known secret values (the run's secret extra vars, values Ansible hid with no_log) are replaced
  wherever they occur;
- the value of a key that names a secret (`*token`, `*password`, `*secret`, `authorization`, ...)
  is replaced whole;
- anything that looks like a token is replaced: `Bearer <x>`, an MCP token secret
  (`mcp_` + 4 hex + 40 url-safe characters), and any long run of token characters whose entropy is
  that of random bytes (generated passwords, url-safe and hex tokens); backup ids and run dirs (they
  carry a UTC timestamp) and names made of words are kept. The last rule is a heuristic: it lets through
  about 0.4 % of random 20-character strings and none of 43 (tests/unit/plugins/plugin_utils/test_incident_report.py measures it),
  which is why the first two rules come first.
"""

from __future__ import annotations

import math
import re

MASK = "********"

# Keys whose string value is a secret: the last word of the key names one.
_SECRET_KEY = re.compile(
    r"(?:^|[_\-.])(?:token|secret|password|passwd|passphrase|api_?key|authorization|credentials?|salt|private_key)$",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_MCP_SECRET = re.compile(r"mcp_[0-9a-f]{4}[A-Za-z0-9_-]{40}")
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_-]{20,}")
# A run of 20+ token characters is taken for random when its characters change kind often and its
# entropy is near the most its length allows (capped: long url-safe secrets reach 4.8 bits a character).
ENTROPY_BITS = 4.2
MIN_CLASS_CHANGES = 0.3
# Backup ids and run dirs carry a UTC timestamp: identifiers, never secrets.
_TIMESTAMPED_ID = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_HEX = re.compile(r"^[0-9a-f]+$")


def shannon_bits(text):
    counts = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    total = float(len(text))
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _class_of(ch):
    return "d" if ch.isdigit() else "u" if ch.isupper() else "l"


def class_changes(text):
    """Share of neighbouring characters (separators left out) of different kinds (lower, upper, digit):
    about 0.6 in random url-safe or hex text, under 0.2 in names made of words."""
    chars = [ch for ch in text if ch not in "_-"]
    if len(chars) < 2:
        return 0.0
    return sum(_class_of(a) != _class_of(b) for a, b in zip(chars, chars[1:])) / float(len(chars) - 1)


def looks_like_token(text):
    """Whether a run of 20+ token characters is random enough to be a secret."""
    if len(text) < 20 or _TIMESTAMPED_ID.search(text):
        return False
    if _HEX.match(text):
        return len(text) >= 32  # token_hex secrets; the report keeps no digests that long
    bits = min(ENTROPY_BITS, 0.75 * math.log2(len(text)))
    return class_changes(text) >= MIN_CLASS_CHANGES and shannon_bits(text) >= bits


def is_secret_key(key):
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


class SecretMasker:
    """Masks the known secret values and anything that looks like one."""

    def __init__(self, known=()):
        self._known = set()
        for value in known:
            self.add(value)

    def add(self, value):
        """Remember a secret value (strings of 4+ characters; dicts and lists: their leaves)."""
        if isinstance(value, dict):
            for item in value.values():
                self.add(item)
        elif isinstance(value, (list, tuple, set)):
            for item in value:
                self.add(item)
        elif value is not None and not isinstance(value, bool):
            text = str(value)
            if len(text) >= 4:
                self._known.add(text)

    def text(self, text):
        # Longest first, so that a secret containing another is replaced whole.
        for secret in sorted(self._known, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        text = _BEARER.sub(lambda m: m.group(1) + " " + MASK, text)
        text = _MCP_SECRET.sub(MASK, text)
        return _TOKEN_RUN.sub(lambda m: MASK if looks_like_token(m.group(0)) else m.group(0), text)

    def value(self, value, key=None):
        """A copy of value with every secret masked (dict keys are kept, their secret values masked)."""
        if isinstance(value, dict):
            return {k: self.value(v, key=k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v, key=key) for v in value]
        if isinstance(value, str):
            if is_secret_key(key) and value:
                return MASK
            return self.text(value)
        return value
