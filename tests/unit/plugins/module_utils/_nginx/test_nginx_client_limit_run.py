"""nginx_client_limit's run(): the three forms (clients, zone rate, connections), their results, and input refused before anything
is read."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.nginx_client_limit_run import run

SITE = "limit_req_zone $binary_remote_addr zone=cct:10m rate=30r/s;\n"


def params(path, **more):
    base = dict(path=str(path), clients=None, state="present", zone="cct", rate=None, variable=None,
                nginx_conf=str(path), nginx_prefix=None, nginx_binary="/usr/sbin/nginx", reload=False)
    base.update(more)
    return base


def ok(argv):
    return 0, ""


def test_clients_form_marks_them_with_the_variable_named_after_the_zone(tmp_path):
    offenders = tmp_path / "offenders.conf"
    offenders.write_text("")
    res = run(params(offenders, clients=["127.0.0.66"], zone="cct-off.x"), run_command=ok)
    assert res["limit"] == "clients" and res["limited_before"] == [] and res["limited"] == ["127.0.0.66"]
    assert "geo $cct_off_x {" in offenders.read_text() and "zone=cct-off.x:10m rate=5r/s" in offenders.read_text()


def test_zone_form_sets_and_reverts_the_rate(tmp_path):
    site = tmp_path / "site.conf"
    site.write_text(SITE)
    res = run(params(site, rate="10r/s"), run_command=ok)
    assert (res["limit"], res["rate_before"], res["rate"], res["original_rate"]) == ("zone_rate", "30r/s", "10r/s", "30r/s")
    back = run(params(site, state="absent"), run_command=ok)
    assert back["rate"] == "30r/s" and site.read_text() == SITE


@pytest.mark.parametrize("more, words", [
    (dict(clients=[]), "clients is empty"),
    (dict(clients=["127.0.0.1\n}"]), "want an IP address"),
    (dict(rate="10r/s; x"), "rate"),
    (dict(zone="a;b", rate="1r/s"), "zone"),
    (dict(), "give rate"),
    (dict(clients=["127.0.0.1"], variable="a-b"), "variable"),
])
def test_bad_input_is_refused_before_the_file_is_read(tmp_path, more, words):
    site = tmp_path / "site.conf"
    site.write_text(SITE)
    with pytest.raises(TaskError) as err:
        run(params(site, **more), run_command=lambda argv: pytest.fail("nginx ran"))
    assert words in err.value.msg and site.read_text() == SITE


CONN = SITE + "limit_conn_zone $binary_remote_addr zone=cct_conn:10m;\nserver {\n    limit_conn cct_conn 64;\n}\n"


def test_connections_form_lowers_the_limit_conn_and_absent_alone_finds_it_by_the_zone(tmp_path):
    site = tmp_path / "site.conf"
    site.write_text(CONN)
    res = run(params(site, zone="cct_conn", connections=8), run_command=ok)
    assert (res["limit"], res["connections_before"], res["connections"], res["original_connections"]) == \
        ("connections", 64, 8, 64)
    assert "limit_conn cct_conn 8; # mcpops nginx_client_limit: was connections=64\n" in site.read_text()
    again = run(params(site, zone="cct_conn", connections=8), run_command=ok)
    assert again["changed"] is False
    # check mode: the diff, nothing written
    dry = run(params(site, zone="cct_conn", state="absent"), check_mode=True,
              run_command=lambda argv: pytest.fail("nginx ran"))
    assert dry["changed"] is True and "connections=64" in dry["diff"]["before"] and "cct_conn 8" in site.read_text()
    back = run(params(site, zone="cct_conn", state="absent"), run_command=ok)
    assert back["limit"] == "connections" and back["connections"] == 64 and site.read_text() == CONN
    # the rate zone in the same file still reverts as a rate
    assert run(params(site, state="absent"), run_command=ok)["limit"] == "zone_rate"


@pytest.mark.parametrize("more, words", [
    (dict(zone="cct_conn", connections=0), "from 1 to 1000000"),
    (dict(zone="cct_conn", connections=True), "whole number"),
    (dict(zone="cct_conn", connections=8, rate="1r/s"), "without clients and rate"),
    (dict(zone="cct_conn", connections=8, clients=["127.0.0.1"]), "without clients and rate"),
])
def test_bad_connections_are_refused_before_the_file_is_read(tmp_path, more, words):
    site = tmp_path / "site.conf"
    site.write_text(CONN)
    with pytest.raises(TaskError) as err:
        run(params(site, **more), run_command=lambda argv: pytest.fail("nginx ran"))
    assert words in err.value.msg and site.read_text() == CONN


def test_a_limit_conn_sharing_its_line_is_refused_the_note_would_comment_out_the_rest(tmp_path):
    site = tmp_path / "site.conf"
    one_line = "server { limit_conn cct_conn 64; }\n"
    site.write_text(one_line)
    with pytest.raises(TaskError) as err:
        run(params(site, zone="cct_conn", connections=8), run_command=lambda argv: pytest.fail("nginx ran"))
    assert "put it on a line of its own" in err.value.msg and site.read_text() == one_line
