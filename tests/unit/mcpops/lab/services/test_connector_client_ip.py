"""client_ip: the client's address behind trusted proxies only."""

import pytest

from mcpops.lab.services.client_ip import client_ip, parse_trusted_proxies


def headers(**values):
    named = {k.replace("_", "-").lower(): v for k, v in values.items()}
    return lambda name: named.get(name.lower())


def test_parse_trusted_proxies():
    assert parse_trusted_proxies("") == ()
    nets = parse_trusted_proxies(" 127.0.0.1, 10.0.0.0/8 ,")
    assert [str(n) for n in nets] == ["127.0.0.1/32", "10.0.0.0/8"]
    with pytest.raises(ValueError, match="'nginx' is not an IP"):
        parse_trusted_proxies("127.0.0.1,nginx")


def test_a_trusted_peer_forwards_the_client():
    trusted = parse_trusted_proxies("127.0.0.1")
    assert client_ip("127.0.0.1", headers(X_Forwarded_For="198.51.100.7, 10.0.0.1", X_Real_IP="203.0.113.1"),
                     trusted) == "198.51.100.7"
    assert client_ip("127.0.0.1", headers(X_Real_IP="203.0.113.1"), trusted) == "203.0.113.1"
    assert client_ip("127.0.0.1", headers(X_Forwarded_For="not-an-ip", X_Real_IP="203.0.113.1"), trusted) == "203.0.113.1"
    assert client_ip("127.0.0.1", headers(X_Forwarded_For="garbage"), trusted) == "127.0.0.1"
    assert client_ip("127.0.0.1", headers(), trusted) == "127.0.0.1"


def test_an_untrusted_peer_is_the_client():
    assert client_ip("127.0.0.77", headers(X_Forwarded_For="198.51.100.7"), parse_trusted_proxies("127.0.0.1")) == (
        "127.0.0.77")
    assert client_ip("127.0.0.1", headers(X_Forwarded_For="198.51.100.7"), ()) == "127.0.0.1"
    assert client_ip("10.1.2.3", headers(X_Real_IP="198.51.100.7"), parse_trusted_proxies("10.0.0.0/8")) == (
        "198.51.100.7")
