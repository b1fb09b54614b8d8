"""What a CCTelegram fleet offers an alert drill's chain (FleetDrillLab.alert_targets), without root or a boot: each
serving host's metrics listener, job cctelegram-mcp, `instance` the inventory host, its own API key file as the
Bearer key (the one the fleet's own Prometheus uses); the chain makes a scrape config of each host (one
authorization a scrape config), relabelled to the one job the rules select on, and promtool accepts it with the key
in no line of it. A fleet of another service offers nothing; a denial's repair undoes a stop or a bridge-down only."""

import shutil
import subprocess
from types import SimpleNamespace

import pytest

from mcpops.drill import alert_chain
from mcpops.drill.lab_adapters import FleetDrillLab, Target
from mcpops.drill.scenarios import CCTELEGRAM, ONEC, DrillError
from mcpops.lab.fixtures import alerting_config
from mcpops.lab.fixtures.alerting_config import INVENTORY_HOST_LABEL, RULES_DIR
from mcpops.lab.fleet import fleet_prometheus, services
from mcpops.lab.fleet.host import FleetHost

NET = "127.0.20"


def fleet_lab(tmp_path, service=CCTELEGRAM, count=3, standby=1):
    """A FleetDrillLab never brought up: its fleet's serving hosts are FleetHosts of tmp_path (one standby beside)."""
    hosts = [FleetHost(tmp_path, i, net=NET, service=service) for i in range(1, count + standby + 1)]
    for host in hosts:
        host.cctelegram_etc.mkdir(parents=True)
        host.api_key_file.write_text("cctg_canary_%s_0123456789abcdef\n" % host.name)
    lab = FleetDrillLab.__new__(FleetDrillLab)
    lab.service = service
    lab.fleet = SimpleNamespace(serving_hosts=lambda: hosts[:count], standby_hosts=lambda: hosts[count:])
    return lab, hosts


def test_each_serving_host_is_scraped_on_its_metrics_listener_with_its_own_key_file(tmp_path):
    lab, hosts = fleet_lab(tmp_path)
    offered = lab.alert_targets(None)
    assert offered == [alert_chain.AlertTarget("cctelegram-mcp", "fleet%d" % n, "%s.1%d:9090" % (NET, n),
                                               bearer_token_file=str(hosts[n - 1].api_key_file)) for n in (1, 2, 3)]
    # the job the rules select on, and the key file the fleet's own Prometheus sends for that host
    assert FleetDrillLab.ALERT_JOB == fleet_prometheus.JOB
    assert alert_chain.rule_jobs(sorted(RULES_DIR.glob("*.rules.yml")), "CctelegramDown") == ["cctelegram-mcp"]
    assert alert_chain.rule_jobs(sorted(RULES_DIR.glob("*.rules.yml")), "CctelegramBridgeDown") == ["cctelegram-mcp"]
    for target, host in zip(offered, hosts):
        theirs = fleet_prometheus.host_scrape_config(host, fleet_prometheus.JOB)
        assert theirs["authorization"]["credentials_file"] == target.bearer_token_file
        assert theirs["static_configs"] == [{"targets": [target.address]}]
    # the standby host (units stopped: CctelegramDown would fire for it) is not offered
    assert "fleet4" not in {t.host for t in offered}


def test_the_chain_makes_a_scrape_config_of_each_host_relabelled_to_the_one_job(tmp_path):
    lab, hosts = fleet_lab(tmp_path)
    configs = alert_chain.scrape_configs(lab.alert_targets(None))
    assert [c["job_name"] for c in configs] == ["cctelegram-mcp-fleet1", "cctelegram-mcp-fleet2",
                                                "cctelegram-mcp-fleet3"]
    for n, config in enumerate(configs, 1):
        assert config["static_configs"] == [{"targets": ["%s.1%d:9090" % (NET, n)],
                                             "labels": {INVENTORY_HOST_LABEL: "fleet%d" % n}}]
        assert config["authorization"] == {"type": "Bearer", "credentials_file": str(hosts[n - 1].api_key_file)}
        assert config["relabel_configs"] == [{"source_labels": [INVENTORY_HOST_LABEL], "target_label": "instance"},
                                             {"target_label": "job", "replacement": "cctelegram-mcp"}]
        assert config["metrics_path"] == "/metrics" and "scheme" not in config
    # one key for every target (the Loyalty API's) is still one scrape config, named after the job, not relabelled
    shared = [alert_chain.AlertTarget("loyalty-api", "h%d" % n, "127.0.0.1:%d" % (3000 + n), bearer_token_file="/k")
              for n in (1, 2)]
    [one] = alert_chain.scrape_configs(shared)
    assert one["job_name"] == "loyalty-api" and len(one["static_configs"]) == 2
    assert one["relabel_configs"] == [{"source_labels": [INVENTORY_HOST_LABEL], "target_label": "instance"}]
    with pytest.raises(ValueError, match="same kind, scheme and path"):
        alert_chain.scrape_configs([shared[0], alert_chain.AlertTarget("loyalty-api", "h3", "127.0.0.1:1",
                                                                       metrics_path="/other")])


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool is not installed (Debian prometheus)")
def test_promtool_accepts_the_chain_s_config_of_a_fleet_and_no_key_is_in_it(tmp_path):
    lab, hosts = fleet_lab(tmp_path)
    rules = alerting_config.write_lab_rules(tmp_path / "rules")
    config = alerting_config.prometheus_config([], "127.0.0.1:9093", rules)
    config["scrape_configs"] = alert_chain.scrape_configs(lab.alert_targets(None))
    path = tmp_path / "prometheus.yml"
    alerting_config.write_yaml(str(path), config)
    proc = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = path.read_text()
    assert "cctg_canary" not in text and str(hosts[0].api_key_file) in text


def test_a_fleet_of_another_service_offers_nothing_and_a_denial_repairs_a_stop_or_a_bridge_down_only(tmp_path):
    onec, _ = fleet_lab(tmp_path / "onec", service=ONEC)
    with pytest.raises(DrillError, match="a fleet of onec-gateway offers an alert chain nothing to scrape"):
        onec.alert_targets(None)
    lab, _ = fleet_lab(tmp_path / "cct")
    target = Target("fleet1", "http://%s.11:8080" % NET, service=CCTELEGRAM)
    with pytest.raises(DrillError, match="cannot repair bad-release itself"):
        lab.repair(target, "bad-release")
    with pytest.raises(DrillError, match="cannot repair stop itself"):
        onec.repair(target, "stop")
    assert FleetDrillLab.REPAIR_UNITS == {"stop": services.MCP_UNIT, "bridge-down": services.BRIDGE_UNIT}
