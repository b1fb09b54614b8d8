import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.hostname import hostname_matches, uncovered_names

SANS = ["DNS:gw.example.com", "DNS:*.api.example.com", "IP:127.0.0.1", "IP:::1"]


@pytest.mark.parametrize("name, ok", [
    ("gw.example.com", True), ("GW.Example.COM.", True), ("x.api.example.com", True),
    ("api.example.com", False), ("a.b.api.example.com", False), ("127.0.0.1", True), ("::1", True),
    ("127.0.0.2", False), ("example.com", False),
])
def test_match(name, ok):
    assert hostname_matches(name, SANS) is ok


def test_ip_never_matches_a_dns_entry_and_bare_wildcards_are_ignored():
    assert not hostname_matches("127.0.0.1", ["DNS:127.0.0.1"])
    assert not hostname_matches("example.com", ["DNS:*.com"])
    assert uncovered_names(["gw.example.com", "other.example"], SANS) == ["other.example"]
