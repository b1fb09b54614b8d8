"""nginx_upstream_server's run(): input refused before anything is read, the result's facts, the file edited."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.nginx_upstream_server_run import run

SITE = "upstream u {\n    server 127.0.0.1:81;\n    server 127.0.0.1:82;\n}\n"


def params(site, **more):
    base = dict(path=str(site), upstream="u", server="127.0.0.1:82", state="drained", max_fails=None, fail_timeout=None,
                force=False, nginx_conf=str(site), nginx_prefix=None, nginx_binary="/usr/sbin/nginx", reload=False)
    base.update(more)
    return base


def test_drain_reports_the_server_and_the_active_ones(tmp_path):
    site = tmp_path / "site.conf"
    site.write_text(SITE)
    res = run(params(site), run_command=lambda argv: (0, ""))
    assert res["changed"] and res["active"] == ["127.0.0.1:81"] and res["after"]["down"] is True
    assert site.read_text() == SITE.replace(":82;", ":82 down;")


@pytest.mark.parametrize("more, words", [
    (dict(server="127.0.0.1:82;\n}"), "want host:port"),
    (dict(upstream="u {"), "upstream 'u {'"),
    (dict(state="absent", max_fails=2), "not with state=absent"),
    (dict(fail_timeout="5 s"), "fail_timeout"),
])
def test_bad_input_is_refused_before_the_file_is_read(tmp_path, more, words):
    site = tmp_path / "site.conf"
    site.write_text(SITE)
    with pytest.raises(TaskError) as err:
        run(params(site, **more), run_command=lambda argv: pytest.fail("nginx ran"))
    assert words in err.value.msg and "Nothing was changed" in err.value.msg and site.read_text() == SITE
