"""nginx_client_limit's run(): the two forms (clients, zone rate), their results, and input refused before anything
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
    assert res["mode"] == "clients" and res["limited_before"] == [] and res["limited"] == ["127.0.0.66"]
    assert "geo $cct_off_x {" in offenders.read_text() and "zone=cct-off.x:10m rate=5r/s" in offenders.read_text()


def test_zone_form_sets_and_reverts_the_rate(tmp_path):
    site = tmp_path / "site.conf"
    site.write_text(SITE)
    res = run(params(site, rate="10r/s"), run_command=ok)
    assert (res["mode"], res["rate_before"], res["rate"], res["original_rate"]) == ("zone_rate", "30r/s", "10r/s", "30r/s")
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
