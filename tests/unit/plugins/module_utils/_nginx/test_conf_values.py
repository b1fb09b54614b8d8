"""Values written into nginx conf are checked whole: nothing that ends a directive or opens a block gets in."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx import conf_values
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError


@pytest.mark.parametrize("good", ["127.0.0.1:8080", "mcp-01.example.internal:8080", "[::1]:8080", "unix:/run/app.sock"])
def test_server_addresses_nginx_takes(good):
    assert conf_values.server_address(good) == good


@pytest.mark.parametrize("bad", ["127.0.0.1:8080;", "a:1 down", "a:1\n", "a:1}", "a:{1", "a:0", "a:65536", "a",
                                 "a..b:1", "unix:/x;y", "'a':1", None, 8080])
def test_hostile_or_malformed_server_addresses_are_refused(bad):
    with pytest.raises(ConfError):
        conf_values.server_address(bad)


def test_clients_are_addresses_or_networks_in_normal_form_and_compare_as_networks():
    assert conf_values.client("127.0.0.66") == "127.0.0.66"
    assert conf_values.client("2001:DB8::1") == "2001:db8::1"
    assert conf_values.client("10.0.0.0/8") == "10.0.0.0/8"
    for bad in ("10.0.0.1/8", "127.0.0.66\n", "127.0.0.66;", "any", "", None):
        with pytest.raises(ConfError):
            conf_values.client(bad)
    assert conf_values.same_client("127.0.0.66", "127.0.0.66/32")
    assert not conf_values.same_client("127.0.0.66", "127.0.0.0/24")
    assert not conf_values.same_client("default", "127.0.0.1")


def test_rates_times_counts_and_names():
    assert conf_values.rate("10r/s") == "10r/s" and conf_values.rate("300r/m") == "300r/m"
    assert conf_values.fail_timeout("10s") == "10s" and conf_values.fail_timeout(None) is None
    assert conf_values.max_fails(0) == 0 and conf_values.variable("$x_1", "v") == "x_1"
    assert conf_values.name("cctelegram_mcp", "upstream") == "cctelegram_mcp"
    for call, value in ((conf_values.rate, "10r/s;"), (conf_values.rate, "0r/s"), (conf_values.fail_timeout, "10 s"),
                        (conf_values.max_fails, True), (conf_values.max_fails, 1001), (conf_values.max_fails, "2"),
                        (lambda v: conf_values.name(v, "zone"), "a{b"), (lambda v: conf_values.variable(v, "v"), "a-b")):
        with pytest.raises(ConfError):
            call(value)
