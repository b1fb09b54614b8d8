"""The client's address behind trusted proxies: when the TCP peer is one of TRUSTED_PROXIES (a load balancer), the
client is the first address of `X-Forwarded-For` (else `X-Real-IP`); otherwise the peer itself. A header from a
peer that is not trusted is ignored (anyone can send one), and so is a header value that is not an IP address."""

import ipaddress


def parse_trusted_proxies(text):
    """'127.0.0.1, 10.0.0.0/8' -> a tuple of networks (a bare address is a /32 or /128); ValueError naming the
    entry that is neither."""
    networks = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError("%r is not an IP address or network" % item)
    return tuple(networks)


def _address(text):
    try:
        return str(ipaddress.ip_address((text or "").strip()))
    except ValueError:
        return None


def is_trusted(peer, trusted):
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted)


def client_ip(peer, header, trusted):
    """The client's IP for a request from `peer`; header(name) gives a request header (or None)."""
    if not trusted or not is_trusted(peer, trusted):
        return peer
    forwarded = header("X-Forwarded-For")
    if forwarded:
        first = _address(forwarded.split(",")[0])
        if first:
            return first
    return _address(header("X-Real-IP")) or peer
