"""What both nginx modules do around their edit: the diff, check mode that writes and runs nothing, the conf that
already fails nginx -t left alone, a rejected text undone, a reload only after a change."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx import conf_change


class FakeNginx:
    """run_command for Nginx: -t refuses a file holding BAD (or a main conf holding BROKEN); reload is recorded."""

    def __init__(self, site, main):
        self.site, self.main, self.calls = site, main, []

    def __call__(self, argv):
        self.calls.append(argv[1:])
        if "-t" in argv:
            if "BROKEN" in self.main.read_text():
                return 1, "nginx: [emerg] unknown directive \"BROKEN\" in %s:1" % self.main
            if "BAD" in self.site.read_text():
                return 1, "nginx: [emerg] unknown directive \"BAD\" in %s:1" % self.site
        return 0, ""


@pytest.fixture
def files(tmp_path):
    site, main = tmp_path / "site.conf", tmp_path / "nginx.conf"
    site.write_text("a 1;\n")
    main.write_text("include site.conf;\n")
    return site, main, FakeNginx(site, main)


def params(site, main, **more):
    return dict(path=str(site), nginx_conf=str(main), nginx_prefix=None, nginx_binary="/usr/sbin/nginx", **more)


def edit(new):
    return lambda text: (new, dict(seen=text))


def test_a_change_is_written_tested_and_reloaded_with_its_diff(files):
    site, main, nginx = files
    res = conf_change.change(params(site, main, reload=True), False, edit("a 2;\n"), "t", nginx)
    assert res["changed"] and res["reloaded"] and res["seen"] == "a 1;\n" and site.read_text() == "a 2;\n"
    assert res["diff"] == dict(before="a 1;\n", after="a 2;\n", before_header=str(site), after_header=str(site))
    assert [c[0] for c in nginx.calls] == ["-t", "-t", "-c"] and nginx.calls[-1][-2:] == ["-s", "reload"]
    same = conf_change.change(params(site, main, reload=True), False, edit("a 2;\n"), "t", nginx)
    assert not same["changed"] and not same["reloaded"] and len(nginx.calls) == 3


def test_check_mode_writes_tests_and_reloads_nothing(files):
    site, main, nginx = files
    res = conf_change.change(params(site, main, reload=True), True, edit("a 2;\n"), "t", nginx)
    assert res["changed"] and not res["reloaded"] and "diff" in res
    assert site.read_text() == "a 1;\n" and nginx.calls == []


def test_a_rejected_text_is_undone_and_a_broken_conf_is_not_touched(files):
    site, main, nginx = files
    with pytest.raises(TaskError) as err:
        conf_change.change(params(site, main, reload=True), False, edit("BAD 1;\n"), "t", nginx)
    assert "nginx -t rejected the new" in err.value.msg and 'unknown directive "BAD"' in err.value.msg
    assert site.read_text() == "a 1;\n" and not any("reload" in c for c in nginx.calls)
    main.write_text("BROKEN;\n")
    with pytest.raises(TaskError) as err:
        conf_change.change(params(site, main), False, edit("a 2;\n"), "t", nginx)
    assert "fails nginx -t before any change" in err.value.msg and site.read_text() == "a 1;\n"


def test_a_failed_reload_says_the_file_changed(files):
    site, main, _ = files

    def no_master(argv):
        return (1, "nginx: [error] open() \"/run/nginx.pid\" failed (2: No such file or directory)") if "-s" in argv else (0, "")

    with pytest.raises(TaskError) as err:
        conf_change.change(params(site, main, reload=True), False, edit("a 2;\n"), "t", no_master)
    assert "was changed and passes nginx -t, but nginx -s reload failed" in err.value.msg and "nginx.pid" in err.value.msg
    assert err.value.result["changed"] is True and site.read_text() == "a 2;\n"


def test_not_utf8_and_missing_files_are_refused(files, tmp_path):
    site, main, nginx = files
    site.write_bytes(b"\xff\xfe;\n")
    with pytest.raises(TaskError, match="is not UTF-8 text"):
        conf_change.change(params(site, main), False, edit("x;\n"), "t", nginx)
    with pytest.raises(TaskError, match="is not a regular file"):
        conf_change.change(params(tmp_path / "gone.conf", main), False, edit("x;\n"), "t", nginx)
