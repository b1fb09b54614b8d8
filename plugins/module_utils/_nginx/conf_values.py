# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The values a module writes into nginx conf text, checked whole: nothing that could end a directive or open a
block (`;`, `{`, `}`, a quote, a newline, a `#`) ever gets in."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_HOST_PORT = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\]):([0-9]{1,5})\Z")
_UNIX = re.compile(r"unix:/[A-Za-z0-9_./-]{1,200}\Z")
_TIME = re.compile(r"[0-9]{1,6}(ms|s|m|h)?\Z")
_RATE = re.compile(r"[1-9][0-9]{0,6}r/[sm]\Z")


def _shown(value):
    return repr(value)[:80]


def name(value, what):
    """An upstream or zone name."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfError("%s %s: want letters, digits, `_`, `.` or `-` (at most 128), nothing else" % (what, _shown(value)))
    return value


def variable(value, what):
    """An nginx variable name, without its `$`."""
    text = value[1:] if isinstance(value, str) and value.startswith("$") else value
    if not isinstance(text, str) or not _VARIABLE.match(text):
        raise ConfError("%s %s: want a variable name (letters, digits, `_`)" % (what, _shown(value)))
    return text


def server_address(value):
    """`host:port`, `[v6]:port` or `unix:/path`, as `server` takes it (a port from 1 to 65535)."""
    if isinstance(value, str) and _UNIX.match(value):
        return value
    match = _HOST_PORT.match(value) if isinstance(value, str) else None
    if not match or not 0 < int(match.group(2)) < 65536 or ".." in match.group(1):
        raise ConfError("server %s: want host:port, [v6]:port or unix:/path, nothing else on the line" % _shown(value))
    return value


def max_fails(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
        raise ConfError("max_fails %s: want a whole number from 0 to 1000" % _shown(value))
    return value


def fail_timeout(value):
    if value is None:
        return None
    text = str(value)
    if not _TIME.match(text):
        raise ConfError("fail_timeout %s: want a time like 10s, 500ms, 1m" % _shown(value))
    return text


def rate(value):
    if not isinstance(value, str) or not _RATE.match(value):
        raise ConfError("rate %s: want requests per second or minute, like 10r/s or 300r/m" % _shown(value))
    return value


def connections(value):
    """A limit_conn number: the concurrent connections one key (a client) may hold."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000000:
        raise ConfError("connections %s: want a whole number from 1 to 1000000" % _shown(value))
    return value


def client(value):
    """One IPv4 or IPv6 address or network, written back in its normal form (a network's host bits zero)."""
    text = value if isinstance(value, str) else ""
    try:
        if "/" in text:
            return str(ipaddress.ip_network(text, strict=True))
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ConfError("client %s: want an IP address or a network (CIDR, host bits zero)" % _shown(value)) from None


def same_client(a, b):
    """True when two geo keys name the same network (127.0.0.66 and 127.0.0.66/32 do)."""
    try:
        return ipaddress.ip_network(a, strict=False) == ipaddress.ip_network(b, strict=False)
    except ValueError:
        return a == b
