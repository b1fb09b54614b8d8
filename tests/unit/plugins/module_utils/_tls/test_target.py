import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.target import TargetError, parse_target, parse_targets


@pytest.mark.parametrize("entry, host, port, name", [
    ("gw.example.com:8443", "gw.example.com", 8443, "gw.example.com"),
    ("gw.example.com", "gw.example.com", 443, "gw.example.com"),
    ("[::1]:4443", "::1", 4443, "::1"),
    ({"host": "10.0.0.5", "port": "8443", "server_name": "gw.example.com"}, "10.0.0.5", 8443, "gw.example.com"),
    ({"host": "127.0.0.1"}, "127.0.0.1", 443, "127.0.0.1"),
])
def test_parse(entry, host, port, name):
    target = parse_target(entry)
    assert (target.host, target.port, target.server_name) == (host, port, name)


@pytest.mark.parametrize("entry", ["", "host:0", "host:65536", "host:http", "bad host:443", "a:b:c",
                                   {"host": "x", "prot": 1}, {"port": 443}, 443, {"host": "x", "port": True},
                                   "[::1", "-lead.example:443"])
def test_refused(entry):
    with pytest.raises(TargetError):
        parse_target(entry)


def test_label_and_duplicates():
    assert parse_target("[::1]:443").label == "[::1]:443"
    with pytest.raises(TargetError, match="listed twice"):
        parse_targets(["a.example:443", {"host": "a.example", "port": 443}])
    assert len(parse_targets(["a.example:443", {"host": "a.example", "port": 443, "server_name": "b.example"}])) == 2
