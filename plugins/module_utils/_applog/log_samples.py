# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a log line may show in a result: secrets taken out, every text cut short, the object kept small.

Scrubber(secrets) cleans one text: each given secret value replaced by ******** (before any cut, so no secret is
half shown), then whatever looks like one masked as the audit export masks it (_audit/redaction.py: Bearer values,
password=..., mcp_ token secrets, long base64 or hex runs). sample_record() turns a parsed line into a small object:
the value of a key that names a secret (Authorization, X-API-Key, token, password, secret, cookie, credentials, ...)
is ********, texts are scrubbed and cut to TEXT_LIMIT characters, at most MAX_KEYS keys an object, MAX_ITEMS items a
list, MAX_DEPTH levels. No Ansible here.
"""

from __future__ import annotations

import json
import math
import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.redaction import redact_text

MASK = "********"
TEXT_LIMIT = 200
KEY_LIMIT = 100
MAX_KEYS = 40
MAX_ITEMS = 10
MAX_DEPTH = 4
_SECRET_KEY = re.compile(r"authorization|cookie|passw(?:or)?d|^pwd$|secret|api_?key|credential|private_?key|session_?id")
_NOT_SECRET_TOKEN = ("prefix", "id", "type", "count", "total", "expires_at", "expiry")


def secret_key(name):
    """Whether a JSON key names a secret: its value is never shown."""
    low = str(name).lower().replace("-", "_")
    if _SECRET_KEY.search(low):
        return True
    return "token" in low and not low.endswith(_NOT_SECRET_TOKEN)


class Scrubber:
    """scrub(text) -> text without the given secrets nor anything that looks like one; clip(text) also cuts it."""

    def __init__(self, secrets=()):
        self.secrets = sorted({s for s in secrets or () if isinstance(s, str) and s}, key=len, reverse=True)

    def values(self, text):
        """Only the given secret values out (cheap: for keys and names)."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def scrub(self, text):
        return redact_text(self.values(text))

    def clip(self, text, limit=TEXT_LIMIT, scrub=True):
        text = self.scrub(text) if scrub else self.values(text)
        return text if len(text) <= limit else text[:limit] + "..."

    def key(self, value, limit=TEXT_LIMIT):
        """A counter key from a field's value: text as it is, anything else as JSON, None stays None; a text over
        limit is scrubbed, then cut (so that no secret is cut in half: a whole one is scrubbed when shown)."""
        if value is None:
            return None
        if not isinstance(value, str):
            value = json.dumps(value, sort_keys=True, default=str)
        if len(value) > limit:
            value = self.scrub(value)[:limit] + "..."
        return value


def sample_record(value, scrubber, depth=0):
    """value (a parsed log line or a part of it) made fit to show; see the module docstring."""
    if isinstance(value, str):
        return scrubber.clip(value)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)  # NaN and Infinity are not JSON
    if depth >= MAX_DEPTH:
        return "(nested deeper than %d levels, not shown)" % MAX_DEPTH
    if isinstance(value, dict):
        out = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= MAX_KEYS:
                out["(more keys)"] = len(value) - MAX_KEYS
                break
            name = scrubber.clip(str(key), KEY_LIMIT)
            if secret_key(key) and item not in (None, ""):
                out[name] = MASK
            else:
                out[name] = sample_record(item, scrubber, depth + 1)
        return out
    if isinstance(value, list):
        out = [sample_record(item, scrubber, depth + 1) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            out.append("(%d more items)" % (len(value) - MAX_ITEMS))
        return out
    return scrubber.clip(str(value))


def sample(path, lineno, record, scrubber):
    """One sample of a finding: the file, the line number (1-based) and the line, made fit to show."""
    return {"file": scrubber.values(path), "line": lineno, "record": sample_record(record, scrubber)}
