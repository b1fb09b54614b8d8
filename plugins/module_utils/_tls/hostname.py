# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Does a certificate cover a host name? RFC 6125 rules on the SAN list (DNS and IP entries).

`ssl.match_hostname` is gone since Python 3.12, and cert_check checks names itself so that a
certificate whose chain verifies but whose names do not match is reported as such, not as a
handshake failure.
"""

from __future__ import annotations

import ipaddress


def _ip(text):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _dns_match(pattern, name):
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    # one wildcard, the whole left-most label, never for a bare TLD: *.example.com
    if pattern.startswith("*.") and pattern.count("*") == 1 and pattern.count(".") >= 2:
        head, rest = name.partition(".")[0], name.partition(".")[2]
        return bool(head) and rest == pattern[2:]
    return False


def hostname_matches(name, sans):
    """sans: strings as cert_facts gives them ('DNS:x', 'IP:1.2.3.4')."""
    wanted_ip = _ip(name)
    for san in sans or []:
        kind, value = san.partition(":")[0], san.partition(":")[2]
        if wanted_ip is not None and kind == "IP" and _ip(value) == wanted_ip:
            return True
        if wanted_ip is None and kind == "DNS" and _dns_match(value, name):
            return True
    return False


def uncovered_names(names, sans):
    """The names of `names` the SAN list does not cover, in order."""
    return [n for n in names if not hostname_matches(n, sans)]
