"""Offending clients marked in the offenders geo (a scaffold first when there is none) and unmarked again; a zone's
rate set with a note of its first rate, and put back from it byte for byte; the same for a limit_conn's number."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx import client_limit_edit as cle
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError

SITE = "limit_req_zone $binary_remote_addr zone=cctelegram:10m rate=30r/s;\nserver { listen 80; }\n"


def test_clients_are_marked_in_a_new_scaffold_and_unmarked_back_to_it():
    text, before, after = cle.plan_clients("", ["127.0.0.66", "10.0.0.0/8"], "present", "off", "offz", "2r/s")
    assert before == [] and after == ["127.0.0.66", "10.0.0.0/8"]
    assert "geo $off {\n    default 0;\n    127.0.0.66 1;\n    10.0.0.0/8 1;\n}\n" in text
    assert "map $off $off_key {" in text and "limit_req_zone $off_key zone=offz:10m rate=2r/s;" in text
    again = cle.plan_clients(text, ["127.0.0.66/32"], "present", "off", "offz")
    assert again[0] == text
    back = cle.plan_clients(text, ["127.0.0.66/32", "10.0.0.0/8"], "absent", "off", "offz")[0]
    assert back == cle.scaffold("off", "offz", "2r/s")
    assert cle.plan_clients("", ["127.0.0.66"], "absent", "off", "offz") == ("", [], [])


def test_an_unmarked_entry_is_marked_and_the_offenders_rate_can_change():
    text = cle.scaffold("off", "offz", "5r/s").replace("default 0;", "default 0;\n    192.0.2.1 0;")
    new, before, after = cle.plan_clients(text, ["192.0.2.1"], "present", "off", "offz", "1r/s")
    assert before == [] and after == ["192.0.2.1"] and "rate=1r/s;" in new and "    192.0.2.1 1;\n" in new
    with pytest.raises(ConfError, match="no limit_req_zone zone=other"):
        cle.plan_clients(text, ["192.0.2.1"], "present", "off", "other", "1r/s")


def test_a_zone_rate_change_keeps_the_first_rate_and_absent_restores_the_bytes():
    spike, before, after, original = cle.plan_zone_rate(SITE, "cctelegram", "present", "10r/s")
    assert (before, after, original) == ("30r/s", "10r/s", "30r/s")
    assert spike.startswith("limit_req_zone $binary_remote_addr zone=cctelegram:10m rate=10r/s; "
                            "# mcpops nginx_client_limit: was rate=30r/s\n")
    lower = cle.plan_zone_rate(spike, "cctelegram", "present", "5r/s")
    assert lower[3] == "30r/s" and "rate=5r/s; # mcpops nginx_client_limit: was rate=30r/s" in lower[0]
    assert cle.plan_zone_rate(lower[0], "cctelegram", "absent")[0] == SITE
    assert cle.plan_zone_rate(spike, "cctelegram", "present", "30r/s")[0] == SITE
    assert cle.plan_zone_rate(SITE, "cctelegram", "absent") == (SITE, "30r/s", "30r/s", None)
    with pytest.raises(ConfError, match=r"no limit_req_zone zone=x in this file \(zones here: cctelegram\)"):
        cle.plan_zone_rate(SITE, "x", "present", "1r/s")


CONN_SITE = ("limit_conn_zone $binary_remote_addr zone=cct_conn:10m;\n"
             "limit_req_zone $binary_remote_addr zone=cct:10m rate=30r/s;\n"
             "server {\n"
             "    limit_conn cct_conn 64;  # per client\n"
             "    location / {\n"
             "        limit_conn cct_conn 64;\n"
             "    }\n"
             "}\n")


def test_limit_conn_is_lowered_everywhere_with_its_first_number_noted_and_absent_restores_the_bytes():
    text, before, after, original = cle.plan_connections(CONN_SITE, "cct_conn", "present", 8)
    assert (before, after, original) == (64, 8, 64)
    assert text.count("limit_conn cct_conn 8; # mcpops nginx_client_limit: was connections=64") == 2
    # the comment after the first one stays after the note; nothing else moves
    assert "limit_conn cct_conn 8; # mcpops nginx_client_limit: was connections=64  # per client\n" in text
    assert "limit_conn_zone $binary_remote_addr zone=cct_conn:10m;" in text and "rate=30r/s;" in text
    # lowered again: the first number stays noted, not the 8 in between
    again, before2, after2, original2 = cle.plan_connections(text, "cct_conn", "present", 4)
    assert (before2, after2, original2) == (8, 4, 64) and again.count("was connections=64") == 2
    # the same number: no change
    assert cle.plan_connections(again, "cct_conn", "present", 4)[0] == again
    back, b, a, o = cle.plan_connections(again, "cct_conn", "absent")
    assert (b, a, o) == (4, 64, 64) and "limit_conn cct_conn 64;\n" in back and "mcpops" not in back
    assert back == CONN_SITE
    # absent on a file never changed: nothing to put back
    assert cle.plan_connections(CONN_SITE, "cct_conn", "absent") == (CONN_SITE, 64, 64, None)
    # set back to the first number by hand: no note is kept
    same, _, _, none = cle.plan_connections(text, "cct_conn", "present", 64)
    assert "mcpops" not in same and none is None


def test_the_zone_kind_comes_from_the_file_and_an_unknown_zone_names_what_is_there():
    assert cle.zone_kind(CONN_SITE, "cct") == "rate"
    assert cle.zone_kind(CONN_SITE, "cct_conn") == "connections"
    with pytest.raises(ConfError) as err:
        cle.plan_connections(CONN_SITE, "other", "present", 8)
    assert "limit_req zones here: cct; limit_conn zones here: cct_conn" in err.value.msg
    with pytest.raises(ConfError) as err:
        cle.plan_connections("server { limit_conn cct_conn $x; }\n", "cct_conn", "present", 8)
    assert "edit it by hand" in err.value.msg
