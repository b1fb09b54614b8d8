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
  that of random bytes (generated passwords, url-safe tokens), which backup ids, sha256 hex digests
  and file paths never reach.
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
# Bits per character above which a run of 20+ token characters is taken for random: sha256 hex
# (at most 4.0) and backup ids (about 3.5) stay below, url-safe and alphanumeric secrets are above.
ENTROPY_BITS = 4.2


def shannon_bits(text):
    counts = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    total = float(len(text))
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def looks_like_token(text):
    """Whether a run of token characters is random enough to be a secret."""
    if len(text) < 20:
        return False
    classes = sum(bool(re.search(p, text)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return classes >= 2 and shannon_bits(text) >= ENTROPY_BITS


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
