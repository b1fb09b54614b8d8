"""The controller side of a CCTelegram fleet without root or a boot: the load balancer's confs (the layout the
runbooks edit, and `nginx -t` on them), Prometheus's scrape config (each host's key as a file, never its value), the
inventory's controller vars and standby group, and a controller-side daemon started, recognised and stopped by PID."""

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from mcpops.lab.fleet import controller_process, fleet_prometheus, inventory, services
from mcpops.lab.loopback import free_port
from mcpops.lab.fleet.errors import FleetError
from mcpops.lab.fleet.host import FleetHost
from mcpops.lab.fleet.load_balancer import FleetLoadBalancer

UPSTREAMS = ["127.0.20.11:8080", "127.0.20.12:8080", "127.0.20.13:8080"]


@pytest.fixture
def lb(tmp_path):
    return FleetLoadBalancer(tmp_path / "lb", 18080, UPSTREAMS, binary=shutil.which("nginx") or "/usr/sbin/nginx")


def test_the_site_has_the_upstream_limits_offenders_and_status(lb):
    lb.render()
    site = lb.site_conf.read_text()
    for address in UPSTREAMS:
        assert f"server {address} max_fails=2 fail_timeout=5s;" in site
    assert "limit_req_zone $binary_remote_addr zone=cctelegram:10m rate=30r/s;" in site
    assert f"include {lb.offenders_conf};" in site
    assert "location = /nginx_status" in site and "stub_status;" in site
    assert "proxy_next_upstream error timeout http_502 http_503 http_504;" in site
    assert f"include {lb.site_conf};" in lb.conf.read_text()
    assert "geo $cctelegram_offender" in lb.offenders_conf.read_text()
    assert '"upstream_addr":"$upstream_addr"' in lb.conf.read_text() and "$remote_addr" in lb.conf.read_text()


def test_a_drained_server_is_marked_down_and_render_undoes_drains_and_offenders(lb):
    assert "server 127.0.20.12:8080 max_fails=2 fail_timeout=5s down;" in lb.render_site(drained={"127.0.20.12:8080"})
    lb.render()
    lb.site_conf.write_text(lb.render_site(drained={"127.0.20.12:8080"}))
    lb.offenders_conf.write_text(lb.offenders_conf.read_text().replace("default 0;", "default 0;\n    127.0.0.66 1;"))
    lb.render()
    assert " down;" not in lb.site_conf.read_text()
    assert "127.0.0.66" not in lb.offenders_conf.read_text()


@pytest.mark.skipif(not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")),
                    reason="nginx is not installed (scripts/bootstrap installs it as root)")
def test_nginx_t_accepts_the_confs_with_a_drain_and_an_offender(lb):
    lb.render()
    lb.site_conf.write_text(lb.render_site(drained={"127.0.20.13:8080"}))
    lb.offenders_conf.write_text(lb.offenders_conf.read_text().replace("default 0;", "default 0;\n    127.0.0.66 1;"))
    ok, said = lb.test_conf()
    assert ok, said
    lb.site_conf.write_text(lb.site_conf.read_text().replace("rate=30r/s;", "rate=30r/s"))
    assert not lb.test_conf()[0]  # a broken edit is caught before a reload


def test_prometheus_scrapes_each_host_with_its_key_file_as_bearer(tmp_path):
    hosts = [FleetHost(tmp_path, i, net="127.0.20", service=services.CCTELEGRAM) for i in (1, 2, 3)]
    config = fleet_prometheus.config(hosts[:2], hosts[2:], 19113, ["/r/cctelegram-mcp.rules.yml"])
    jobs = {c["job_name"]: c for c in config["scrape_configs"]}
    assert set(jobs) == {"cctelegram-mcp-fleet1", "cctelegram-mcp-fleet2", "cctelegram-mcp-standby-fleet3", "nginx"}
    one = jobs["cctelegram-mcp-fleet1"]
    assert one["authorization"] == {"type": "Bearer", "credentials_file": str(hosts[0].api_key_file)}
    assert one["static_configs"] == [{"targets": ["127.0.20.11:9090"]}]
    assert {"target_label": "job", "replacement": "cctelegram-mcp"} in one["relabel_configs"]
    assert {"target_label": "instance", "replacement": "fleet1"} in one["relabel_configs"]
    standby = jobs["cctelegram-mcp-standby-fleet3"]["relabel_configs"]
    assert {"target_label": "job", "replacement": "cctelegram-mcp-standby"} in standby
    assert jobs["nginx"]["static_configs"] == [{"targets": ["127.0.0.1:19113"], "labels": {"instance": "lb"}}]
    assert config["global"]["scrape_interval"] == "2s" and config["rule_files"] == ["/r/cctelegram-mcp.rules.yml"]


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool is not installed (Debian prometheus)")
def test_promtool_accepts_the_written_config_and_rules(tmp_path):
    hosts = [FleetHost(tmp_path, i, net="127.0.20", service=services.CCTELEGRAM) for i in (1, 2)]
    for host in hosts:
        host.cctelegram_etc.mkdir(parents=True)
        host.api_key_file.write_text("cctg_canary\n")
    path = fleet_prometheus.write(tmp_path, hosts, [], 19113)
    proc = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cctelg_canary" not in path.read_text()


def test_the_inventory_has_the_controller_vars_and_the_standby_group(tmp_path):
    hosts = [FleetHost(tmp_path / "state", i, net="127.0.20", service=services.CCTELEGRAM) for i in (1, 2, 3)]
    names = {"cctelegram_lb_url": "http://127.0.0.1:1234", "prometheus_url": "http://127.0.0.1:9999"}
    inventory.write(tmp_path / "inv", tmp_path / "state", hosts[:2], services.CCTELEGRAM, standby=hosts[2:],
                    controller_vars=names)
    groups = yaml.safe_load((tmp_path / "inv" / "hosts.yml").read_text())["all"]["children"]
    assert sorted(groups["gateways"]["hosts"]) == ["fleet1", "fleet2"]
    assert groups["cctelegram_standby"]["hosts"] == {"fleet3": {"ansible_host": "127.0.20.13"}}
    all_vars = yaml.safe_load((tmp_path / "inv" / "group_vars" / "all.yml").read_text())
    assert {k: all_vars[k] for k in names} == names
    assert "lookup('ansible.builtin.file'" in all_vars["cctelegram_telegram_bot_token"]
    standby_vars = (tmp_path / "inv" / "group_vars" / "cctelegram_standby.yml").read_text()
    assert standby_vars == (tmp_path / "inv" / "group_vars" / "gateways.yml").read_text()
    # the same inventory dir written for a fleet of another service: the CCTelegram-only files go
    inventory.write(tmp_path / "inv", tmp_path / "state", hosts[:2])
    assert sorted(p.name for p in (tmp_path / "inv" / "group_vars").iterdir()) == ["gateways.yml"]


def test_a_controller_daemon_is_ours_by_its_marker_and_stopped_by_pid(tmp_path):
    port = free_port()
    argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port), "--directory", str(tmp_path)]
    record = controller_process.start("http.server", argv, str(tmp_path / "log" / "d.log"),
                                      f"http://127.0.0.1:{port}/", marker=str(tmp_path / "marker"))
    try:
        assert record["port"] == port and controller_process.running_pid(record) == record["pid"]
        assert not controller_process.is_ours(dict(record, marker=str(tmp_path / "another")))
        assert not controller_process.is_ours(dict(record, pid=os.getpid()))  # alive, but not that daemon
    finally:
        stopped = controller_process.stop(record)
    assert stopped == record["pid"] and not controller_process.is_ours(record)
    assert controller_process.stop(record) is None


def test_a_daemon_that_exits_at_start_is_a_fleet_error_with_its_log(tmp_path):
    argv = [sys.executable, "-c", "import sys; print('no such config'); sys.exit(3)"]
    with pytest.raises(FleetError, match="(?s)exited 3 at start.*no such config"):
        controller_process.start("broken", argv, str(tmp_path / "b.log"), "http://127.0.0.1:9/", marker="m",
                                 timeout=30)
