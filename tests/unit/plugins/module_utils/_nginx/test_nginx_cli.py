"""nginx -t and nginx -s reload with the operator's prefix and conf: the argv, what nginx said without its chatter,
and the real Debian binary judging a good and a bad conf."""

import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.nginx_cli import Nginx

NGINX = "/usr/sbin/nginx"


def test_argv_and_output_of_test_and_reload():
    calls = []

    def run_command(argv):
        calls.append(argv)
        if "-t" in argv:
            return 1, ("nginx: [emerg] unknown directive \"bogus\" in /p/conf/site.conf:3\n"
                       "nginx: configuration file /p/conf/nginx.conf test failed")
        return 0, ""

    nginx = Nginx("/opt/nginx/sbin/nginx", "/p/conf/nginx.conf", "/p", run_command)
    ok, said = nginx.test()
    assert not ok and said.startswith('nginx: [emerg] unknown directive "bogus"') and "test failed" in said
    assert nginx.reload() == (True, "", None)
    assert calls == [["/opt/nginx/sbin/nginx", "-t", "-p", "/p/", "-c", "/p/conf/nginx.conf"],
                     ["/opt/nginx/sbin/nginx", "-p", "/p/", "-c", "/p/conf/nginx.conf", "-s", "reload"]]
    quiet = Nginx("/x/nginx", "/etc/nginx/nginx.conf", None, lambda argv: (0, "nginx: the configuration file x syntax "
                                                                           "is ok\nnginx: configuration file x test is successful"))
    assert quiet.test() == (True, "")


def test_a_missing_binary_is_named():
    with pytest.raises(ConfError, match="no-such-nginx-binary not found"):
        Nginx("no-such-nginx-binary", "/etc/nginx/nginx.conf")


@pytest.mark.skipif(not os.access(NGINX, os.X_OK), reason="Debian's nginx is not installed (/usr/sbin/nginx)")
def test_the_real_binary_judges_a_conf(tmp_path):
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text("pid %s/logs/nginx.pid;\nerror_log %s/logs/error.log;\nevents {}\n" % (tmp_path, tmp_path))
    nginx = Nginx("nginx", str(conf), str(tmp_path))
    assert nginx.test() == (True, "")
    conf.write_text(conf.read_text() + "bogus_directive on;\n")
    ok, said = nginx.test()
    assert not ok and 'unknown directive "bogus_directive"' in said


def test_a_reload_is_confirmed_by_a_worker_of_the_new_generation(monkeypatch):
    generations = iter([{11}, {11}, {11, 12}])
    nginx = Nginx("/x/nginx", "/p/nginx.conf", "/p", lambda argv: (0, ""))
    monkeypatch.setattr(nginx, "master_pid", lambda: 10)
    monkeypatch.setattr(nginx, "workers", lambda master: next(generations))
    assert nginx.reload() == (True, "", True)
    monkeypatch.setattr("ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.nginx_cli.RELOAD_WAIT_SECONDS", 0)
    monkeypatch.setattr(nginx, "workers", lambda master: {11})
    assert nginx.reload() == (True, "", False)


def test_the_master_comes_from_the_pid_file_the_conf_names_and_must_be_nginx(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\n")
    assert Nginx("/x/nginx", str(conf), str(tmp_path)).master_pid() is None
    conf.write_text("pid logs/nginx.pid;\nevents {}\n")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "nginx.pid").write_text("%d\n" % os.getpid())
    assert Nginx("/x/nginx", str(conf), str(tmp_path)).master_pid() is None  # this pytest process is no nginx
    assert Nginx("/x/nginx", str(conf), None).master_pid() is None  # relative, and no prefix to read it from
