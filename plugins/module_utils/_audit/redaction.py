# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Masking anything in an audit line that looks like a secret, and optional ip hashing, for exports.

The audit contract says lines never carry a secret; an export leaves the host anyway, so whatever looks
like one is masked on the serialized line (the JSON stays valid: masks never contain a quote or a backslash):

- an MCP token secret: `mcp_` + 4 hex + 20 or more token characters -> `mcp_ab12[REDACTED]` (the prefix is
  not a secret and is what operators search for);
- `Bearer <value>` -> `Bearer [REDACTED]`;
- `password=...`, `secret=...`, `token=...`, `api_key=...` (also with `:`) -> `password=[REDACTED]`;
- the value of a JSON key that names a secret (`password`, `secret`, `authorization`, `apiKey`,
  `credential`, `token` but not `tokenPrefix`/`tokenId`, nor names ending in `Env`);
- long base64- or hex-like runs (32 characters or more, letters and digits mixed) -> `[REDACTED]`.

With an ip salt, IPv4 literals and the values of `ip`-like keys become `ip_<16 hex>` (HMAC-SHA256 of the
address under the salt): the same address always gives the same hash under one salt, so who did what
can still be followed in the export. No Ansible here.
"""

from __future__ import annotations

import hashlib
import hmac
import re

MASK = "[REDACTED]"

_MCP_SECRET = re.compile(r"\b(mcp_[0-9a-fA-F]{4})[A-Za-z0-9_\-]{20,}")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+|%20|\+)[^\s\"\\,;&]+")
_ASSIGNED = re.compile(
    r"(?i)\b(pass(?:word|wd)?|pwd|secret|client_secret|api[_-]?key|access[_-]?token|refresh[_-]?token|token|auth)"
    r"(=|:(?!\"))(?!\[REDACTED\])[^\s\"\\&;,]+"
)
_SECRET_KEY_VALUE = re.compile(
    r"(?i)(\"(?!token(?:prefix|id)\")[A-Za-z0-9_\-]*(?:pass(?:word|wd)?|secret|authorization|api_?key|credential"
    r"|(?<![a-z])token)(?<!env)\"\s*:\s*\")((?:[^\"\\]|\\.)*)(\")"
)
_LONG_RUN = re.compile(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/_\-]{32,}={0,2}(?![A-Za-z0-9+/=_\-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IP_KEY_VALUE = re.compile(r"(?i)(\"(?:ip|clientIp|remoteAddr|remote_addr|sourceIp|x-forwarded-for)\"\s*:\s*\")([^\"\\]*)(\")")


def _mask_long_run(match):
    text = match.group(0)
    if not (re.search(r"\d", text) and re.search(r"[A-Za-z]", text)):
        return text
    if "/" in text and max(len(part) for part in text.split("/")) < 24:
        return text  # a path like /api/mcp-tokens/tok_7f3a9c/revoke
    if text.startswith("mcp_") and MASK in text:
        return text
    return MASK


def redact_text(text):
    """Mask what looks like a secret in one line of text (see the module docstring)."""
    text = _MCP_SECRET.sub(lambda m: m.group(1) + MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    text = _SECRET_KEY_VALUE.sub(lambda m: m.group(1) + (MASK if m.group(2) else "") + m.group(3), text)
    text = _ASSIGNED.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    text = _LONG_RUN.sub(_mask_long_run, text)
    return text


class IpHasher:
    """ip -> 'ip_' + 16 hex of HMAC-SHA256(salt, ip); the same ip and salt give the same hash."""

    def __init__(self, salt):
        self.key = salt.encode("utf-8") if not isinstance(salt, bytes) else salt
        self.cache = {}

    def __call__(self, ip):
        found = self.cache.get(ip)
        if found is None:
            found = "ip_" + hmac.new(self.key, ip.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
            if len(self.cache) < 100000:
                self.cache[ip] = found
        return found

    def text(self, text):
        text = _IP_KEY_VALUE.sub(lambda m: m.group(1) + (self(m.group(2)) if m.group(2) else "") + m.group(3), text)
        return _IPV4.sub(lambda m: self(m.group(0)), text)


class Redactor:
    """redact(line bytes) -> the export's line (bytes, no newline): secrets masked, ips hashed when a
    salt is given. A line that is not UTF-8 is decoded with replacement characters first."""

    def __init__(self, ip_salt=None):
        self.hasher = IpHasher(ip_salt) if ip_salt else None

    def redact(self, line):
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        text = redact_text(text)
        if self.hasher is not None:
            text = self.hasher.text(text)
        return text.encode("utf-8")
