# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secret text taken out of what a module returns: a server can echo a token back, an error can quote a header."""

from __future__ import annotations


def redact_text(text, secret):
    """text with secret replaced by ********; anything that is not text is returned as it is."""
    if text and secret and isinstance(text, str):
        return text.replace(secret, "********")
    return text


def redact(value, secrets):
    """Belt and braces: no token text in anything returned (a server could echo it back)."""
    if isinstance(value, str):
        for secret in secrets:
            value = redact_text(value, secret)
        return value
    if isinstance(value, list):
        return [redact(item, secrets) for item in value]
    if isinstance(value, dict):
        return {redact(k, secrets): redact(v, secrets) for k, v in value.items()}
    return value


def secret_values(secrets):
    """Every non-empty secret value of a secrets mapping as text, longest first (so that no secret is left
    half-redacted)."""
    values = set()
    for value in (secrets or {}).values():
        if value is None or isinstance(value, (dict, list)):
            continue
        text = value if isinstance(value, str) else str(value)
        if text:
            values.add(text)
    return sorted(values, key=lambda v: (-len(v), v))
