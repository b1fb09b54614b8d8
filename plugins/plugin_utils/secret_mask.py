# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Masks secrets in what the incident report keeps (standard library only: the `mcpops report`
command loads this file without Ansible).

Four rules, applied to every string of a value, recursively:
- known secret values (the run's secret extra vars, values Ansible hid with no_log, the credentials an
  environment carries: `add_environment`) are replaced wherever they occur;
- the value of a key that names a secret (`*token`, `*password`, `*secret`, `authorization`, ...)
  is replaced whole;
- a password written into a string is replaced: a URL's (`scheme://user:PASSWORD@host`, also
  `redis://:PASSWORD@host`) and a connection string's (`password=PASSWORD`);
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
from urllib.parse import unquote

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
# A CamelCase name made of words (OnecGatewayRateLimited, an alert's name): an identifier, never a secret.
_CAMEL_WORDS = re.compile(r"(?:[A-Z][a-z]{2,})+")
# A pod's generated name (dashboard-5c9f7b8d6d-x2kqz: <deployment>-<template hash>-<suffix>), from Kubernetes' own
# alphabet of consonants and digits with no vowel, 0, 1 or 3: an identifier the report must show.
_K8S_POD_NAME = re.compile(r"[a-z][a-z0-9]{2,}(?:-[a-z0-9]+)*-[bcdfghjklmnpqrstvwxz2456789]{6,10}"
                           r"-[bcdfghjklmnpqrstvwxz2456789]{5}")

# A URL's password: scheme://user:PASSWORD@host. Found from each "://" (the scheme at most 32 characters
# back, so a long run of letters is never rescanned); the user has no ':', '/', '?', '#' or '@'; the password
# runs to the next '@' (a raw '/' in it is taken as part of it: masking too much beats showing a password).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{0,31}://")
_URL_USER = re.compile(r"[^\s:/?#@]*:")
_AT_OR_BLANK = re.compile(r"[\s@]")
# A connection string's password: libpq's `password=...` (also quoted), a query's `&password=`. (Not `pwd=`: the
# shell's PWD=/some/dir is everywhere.)
_CONNINFO_PASSWORD = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(?:password|passwd)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|\"([^\"]*)\"|([^\s;&,'\"]+))")

# Environment variables that hold a credential, by name: libpq, MySQL, Redis, AWS, sshpass, and every
# `*_PASSWORD`, `*_TOKEN`, `*_SECRET`, `*_AUTH`, ... (`PWD` and `OLDPWD` are directories: `_PWD` needs its `_`).
# `*_FILE`, `*_PATH` and `*_ID` names (a file holding the secret, an identifier) are not credentials.
_CREDENTIAL_ENV = re.compile(
    r"^(?:PGPASSWORD|MYSQL_PWD|REDISCLI_AUTH|SSHPASS|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AWS_SECURITY_TOKEN"
    r"|PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|SECRET_?KEY"
    r"|[A-Z0-9_]*_(?:PASSWORD|PASSWD|PASS|PWD|PASSPHRASE|SECRET|TOKEN|AUTH|AUTH_TOKEN|CREDENTIALS?|API_?KEY"
    r"|(?:SECRET|PRIVATE|ACCESS|AUTH|SIGNING|ENCRYPTION|MASTER|SESSION|CLIENT)_KEY))$",
    re.IGNORECASE,
)
# Any other `*_KEY` holds a credential when its value is random (a license key, an HMAC key), not a path or a name.
_ANY_KEY_ENV = re.compile(r"^(?:[A-Z0-9_]*_)?KEY$", re.IGNORECASE)
# Values of credential variables too common to hide wherever they occur (`REDIS_AUTH=none` keeps nothing secret;
# the variable's own value is still masked in place).
_NOT_SECRETS = frozenset(["true", "false", "yes", "no", "none", "null", "on", "off"])


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
    if _CAMEL_WORDS.fullmatch(text) or _K8S_POD_NAME.fullmatch(text):
        return False
    if _HEX.match(text):
        return len(text) >= 32  # token_hex secrets; the report keeps no digests that long
    bits = min(ENTROPY_BITS, 0.75 * math.log2(len(text)))
    return class_changes(text) >= MIN_CLASS_CHANGES and shannon_bits(text) >= bits


def is_secret_key(key):
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


def url_password_spans(text):
    """(start, end) of every URL password in text (scheme://user:PASSWORD@host), in order."""
    spans = []
    pos = 0
    stop = None  # (index of the next '@' or blank, whether it is an '@'), shared by every "://" before it
    while True:
        scheme = _SCHEME.search(text, pos)
        if scheme is None:
            return spans
        start = scheme.end()
        if stop is None or start > stop[0]:
            found = _AT_OR_BLANK.search(text, start)
            stop = (found.start(), found.group() == "@") if found else (len(text), False)
        end, at = stop
        if not at:
            pos = end  # no '@' before the next blank: no URL that starts before it has a password
            continue
        user = _URL_USER.match(text, start, end)
        if user and user.end() < end:
            spans.append((user.end(), end))
            pos = end + 1
        else:
            pos = start  # not a user:password (a path, a port): a URL may start later in the same word


def credentials_in(text):
    """The passwords written into text: URL passwords and connection-string passwords, as they appear."""
    found = [text[start:end] for start, end in url_password_spans(text)]
    for match in _CONNINFO_PASSWORD.finditer(text):
        value = next(group for group in match.groups() if group is not None)
        if value:
            found.append(value)
    return found


def _mask_credentials_in(text):
    spans = url_password_spans(text)
    for start, end in reversed(spans):
        text = text[:start] + MASK + text[end:]

    def conninfo(match):
        group = next(i for i, g in enumerate(match.groups(), 1) if g is not None)
        if not match.group(group):
            return match.group(0)
        start, end = match.span(group)
        return match.string[match.start():start] + MASK + match.string[end:match.end()]

    return _CONNINFO_PASSWORD.sub(conninfo, text)


def _looks_random(value):
    """A `*_KEY` value worth hiding: a token by the heuristic, or 16+ characters of high entropy that is not a path."""
    if looks_like_token(value):
        return True
    return (len(value) >= 16 and not value.startswith(("/", "~", "./", "../")) and not any(c.isspace() for c in value)
            and shannon_bits(value) >= 3.5)


def is_credential_env(name, value=""):
    """Whether the environment variable `name` (with this value) holds a credential."""
    if not isinstance(name, str):
        return False
    if _CREDENTIAL_ENV.match(name):
        return True
    return bool(_ANY_KEY_ENV.match(name)) and isinstance(value, str) and _looks_random(value)


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

    def add_environment(self, environ):
        """Remember the credentials an environment carries, by value: the value of every credential variable
        (is_credential_env: PGPASSWORD, MYSQL_PWD, REDISCLI_AUTH, AWS_SECRET_ACCESS_KEY, *_TOKEN, *_PASSWORD, ...),
        and every password written into a value (a URL's, a connection string's), whatever the variable's name;
        each is then masked wherever it occurs (another variable, a command line, a message).
        Returns the names of the variables that hold one."""
        names = []
        for name, value in sorted(environ.items()):
            if not isinstance(value, str) or not value:
                continue
            found = []
            if is_credential_env(name, value) or is_secret_key(name):
                found.append(value)
            for password in credentials_in(value):
                found.append(password)
                decoded = _percent_decoded(password)
                if decoded != password:
                    found.append(decoded)
            if found:
                names.append(name)
                for secret in found:
                    if secret.lower() not in _NOT_SECRETS and secret != MASK:  # MASK: a record masked already
                        self.add(secret)
        return names

    def known_values(self):
        """The secret values remembered, longest first."""
        return sorted(self._known, key=len, reverse=True)

    def replace_known(self, text):
        """text with the remembered secret values replaced, and nothing else (no heuristics)."""
        # Longest first, so that a secret containing another is replaced whole.
        for secret in self.known_values():
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def text(self, text):
        text = self.replace_known(text)
        text = _mask_credentials_in(text)
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

    def environment(self, environ):
        """A copy of an environment fit to record: a credential variable's value replaced whole, every other value
        through text() (known values, URL and connection-string passwords, tokens). Call add_environment first so
        that a credential found under one name is masked under every other too."""
        masked = {}
        for name, value in environ.items():
            if isinstance(value, str) and value and (is_credential_env(name, value) or is_secret_key(name)):
                masked[name] = MASK
            else:
                masked[name] = self.value(value, key=name)
        return masked


def _percent_decoded(text):
    """%XX escapes decoded (a URL's password as the program using it sees it)."""
    return unquote(text) if "%" in text else text
