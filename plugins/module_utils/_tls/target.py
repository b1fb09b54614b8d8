# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cert_check connects to: `host:port` strings or dicts with host, port and server_name.

parse_targets() checks every entry before any connection is made and raises TargetError naming the
entry; bad input is refused as a whole.
"""

from __future__ import annotations

import ipaddress
import re

# a DNS name or an IPv4 address; IPv6 literals are written in brackets: [::1]:443
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


class TargetError(ValueError):
    pass


class TlsTarget(object):
    """One endpoint: where to connect and which name to ask for (SNI) and check the certificate against."""

    def __init__(self, host, port, server_name=None):
        self.host = host
        self.port = port
        self.server_name = server_name or host

    @property
    def label(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d" % (host, self.port)

    def as_dict(self):
        return {"target": self.label, "host": self.host, "port": self.port, "server_name": self.server_name}


def _check_host(host, entry):
    if not isinstance(host, str) or not host:
        raise TargetError("target %r: host must be a non-empty string" % (entry,))
    if ":" in host:  # IPv6 literal
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise TargetError("target %r: %r is not a host name or an IP address" % (entry, host))
        return host
    if not _HOST.match(host):
        raise TargetError("target %r: %r is not a host name or an IP address" % (entry, host))
    return host


def _check_port(port, entry):
    if isinstance(port, bool):
        raise TargetError("target %r: port must be a number from 1 to 65535" % (entry,))
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise TargetError("target %r: port must be a number from 1 to 65535" % (entry,))
    if not 0 < port < 65536:
        raise TargetError("target %r: port %d is out of range 1-65535" % (entry, port))
    return port


def parse_target(entry, default_port=443):
    if isinstance(entry, dict):
        unknown = sorted(set(entry) - set(["host", "port", "server_name"]))
        if unknown:
            raise TargetError("target %r: unknown keys %s (host, port, server_name)" % (entry, ", ".join(unknown)))
        host = _check_host(entry.get("host"), entry)
        port = _check_port(entry.get("port", default_port), entry)
        name = entry.get("server_name")
        if name is not None:
            name = _check_host(name, entry)
        return TlsTarget(host, port, name)
    if not isinstance(entry, str) or not entry.strip():
        raise TargetError("target %r: give host:port or {host, port, server_name}" % (entry,))
    text = entry.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else default_port
        if not sep or (rest and not rest.startswith(":")):
            raise TargetError("target %r: an IPv6 address is written [addr]:port" % (entry,))
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, default_port
    return TlsTarget(_check_host(host, entry), _check_port(port, entry))


def parse_targets(entries, default_port=443):
    targets = [parse_target(e, default_port) for e in entries or []]
    seen = set()
    for target in targets:
        key = (target.host, target.port, target.server_name)
        if key in seen:
            raise TargetError("target %s (server_name %s) is listed twice" % (target.label, target.server_name))
        seen.add(key)
    return targets
