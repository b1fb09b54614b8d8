"""The lab's rule copies an alert drill's Prometheus evaluates (mcpops.drill.alert_chain): ranges cut to the lab's,
the approval variant's label dropped; thresholds and everything else as the collection's rule files say."""

import pytest
import yaml

from mcpops.drill import alert_chain
from mcpops.drill.scenarios import DrillError
from mcpops.lab.fixtures.alerting_config import RULES_DIR, write_lab_rules


def lab_copies(tmp_path):
    paths = write_lab_rules(tmp_path)
    for path in paths:
        alert_chain.with_lab_range(path)
    return {rule["alert"]: rule for path in paths for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule}


def test_every_range_looks_back_over_the_lab_s_window_and_nothing_else_changes(tmp_path):
    original = {rule["alert"]: rule for path in sorted(RULES_DIR.glob("*.rules.yml"))
                for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]}
    copies = lab_copies(tmp_path)
    assert set(copies) == set(original)
    rate = copies["OnecGatewayRateLimited"]["expr"]
    assert "[30s]" in rate and "[5m]" not in rate and rate.rstrip().endswith("> 20")  # the rule's own threshold
    assert copies["OnecGatewayDown"]["expr"] == original["OnecGatewayDown"]["expr"]  # no range: untouched
    for name, rule in copies.items():
        assert "[5m]" not in rule["expr"] and "[30m]" not in rule["expr"], name
        assert rule["labels"] == original[name]["labels"], name
        assert alert_chain.RANGE_SELECTOR.sub("[X]", rule["expr"]) \
            == alert_chain.RANGE_SELECTOR.sub("[X]", original[name]["expr"]), name


def test_a_range_selector_is_a_duration_in_brackets_never_a_subquery_or_a_character_class(tmp_path):
    path = tmp_path / "x.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"alert": "A", "expr": 'rate(x{code=~"[45].."}[1h30m]) > 0 and max_over_time(y[5m:1m]) > 0'},
        {"alert": "B", "expr": "up == 0"}]}]}))
    assert alert_chain.with_lab_range(path, "10s") == ["A"]
    [a, b] = yaml.safe_load(path.read_text())["groups"][0]["rules"]
    assert a["expr"] == 'rate(x{code=~"[45].."}[10s]) > 0 and max_over_time(y[5m:1m]) > 0'
    assert b["expr"] == "up == 0"


def test_the_approval_variant_drops_the_label_of_that_alert_only(tmp_path):
    paths = write_lab_rules(tmp_path)
    [onec] = [p for p in paths if p.name == "onec-gateway.rules.yml"]
    assert alert_chain.without_auto_remediate(onec, "OnecGatewayDown")
    rules = {r["alert"]: r for g in yaml.safe_load(onec.read_text())["groups"] for r in g["rules"]}
    assert "auto_remediate" not in rules["OnecGatewayDown"]["labels"]
    assert rules["OnecGatewayBackupStale"]["labels"]["auto_remediate"] == "true"
    assert not alert_chain.without_auto_remediate(onec, "OnecGatewayRateLimited")  # it never had the label
    assert "OnecGatewayRateLimited" in alert_chain.alert_names(paths)


# -- the probe jobs: which the drilled alert needs, and the blackbox exporter's config and scrape job ---------------

def test_the_chain_knows_the_jobs_each_alert_s_rule_selects_on():
    rules = sorted(RULES_DIR.glob("*.rules.yml"))
    assert alert_chain.rule_jobs(rules, "OnecGatewayDown") == ["onec-gateway"]
    assert alert_chain.rule_jobs(rules, "OnecGatewayCertificateExpiring") == [alert_chain.GATEWAY_TLS_JOB]
    assert alert_chain.rule_jobs(rules, "NoSuchAlert") == []
    assert alert_chain.GATEWAY_TLS_JOB == "onec-gateway-tls" and alert_chain.PROBE_JOBS == ("onec-gateway-tls",)


def test_a_job_matcher_is_an_equality_on_job_only(tmp_path):
    path = tmp_path / "x.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"alert": "A", "expr": 'up{job="a"} == 0 or probe_success{ job = "b-tls"} == 0 or up{job=~"c.*"} == 0 '
                               'or up{job!="d"} == 0 or up{cronjob="e"} == 0'}]}]}))
    assert alert_chain.rule_jobs([path], "A") == ["a", "b-tls"]


def test_the_blackbox_exporter_trusts_the_lab_s_ca_only_and_must_see_tls():
    from mcpops.lab.fixtures.blackbox_exporter import TLS_MODULE, blackbox_config

    module = blackbox_config("/lab/gateway-tls/ca.crt")["modules"][TLS_MODULE]
    assert module["prober"] == "http" and module["http"]["fail_if_not_ssl"] is True
    assert module["http"]["tls_config"] == {"ca_file": "/lab/gateway-tls/ca.crt"}  # not insecure_skip_verify
    assert "valid_status_codes" not in module["http"]  # 2xx, blackbox's default


def test_the_probe_job_probes_the_gateway_s_tls_endpoint_through_the_exporter_as_the_inventory_host():
    from mcpops.lab.fixtures.alerting_config import INVENTORY_HOST_LABEL, prometheus_config
    from mcpops.lab.fixtures.blackbox_exporter import TLS_MODULE

    job = alert_chain.gateway_tls_probe("lab-gateway", "127.0.0.1:4443", "127.0.0.1:9115")
    assert job["job_name"] == "onec-gateway-tls" and job["metrics_path"] == "/probe"
    assert job["params"] == {"module": [TLS_MODULE]} and job["scrape_interval"] == "1s"
    assert job["static_configs"] == [{"targets": ["https://127.0.0.1:4443/healthz"],
                                      "labels": {INVENTORY_HOST_LABEL: "lab-gateway"}}]
    # the usual blackbox relabelling, in this order: the URL becomes ?target=, instance the inventory host (never
    # the exporter's address), and the scrape goes to the exporter
    assert job["relabel_configs"] == [
        {"source_labels": ["__address__"], "target_label": "__param_target"},
        {"source_labels": [INVENTORY_HOST_LABEL], "target_label": "instance"},
        {"target_label": "__address__", "replacement": "127.0.0.1:9115"}]
    # it goes next to the gateway's own job in the chain's prometheus.yml
    config = prometheus_config([], "127.0.0.1:9093", [])
    config["scrape_configs"].append(job)
    assert [j["job_name"] for j in config["scrape_configs"]] == ["onec-gateway-tls"]


# -- what each lab offers its chain (the adapters' alert_targets) and the scrape jobs the chain makes of it -----------

def test_a_service_s_own_metrics_are_scraped_as_its_inventory_host_with_its_bearer_key(tmp_path):
    from mcpops.lab.fixtures.alerting_config import INVENTORY_HOST_LABEL

    key = tmp_path / "metrics_token"
    [job] = alert_chain.scrape_configs([alert_chain.AlertTarget("loyalty-api", "loyalty-compose", "127.0.0.1:3001",
                                                                bearer_token_file=str(key))])
    assert job["job_name"] == "loyalty-api" and job["metrics_path"] == "/metrics" and "scheme" not in job
    assert job["static_configs"] == [{"targets": ["127.0.0.1:3001"],
                                      "labels": {INVENTORY_HOST_LABEL: "loyalty-compose"}}]
    assert job["relabel_configs"] == [{"source_labels": [INVENTORY_HOST_LABEL], "target_label": "instance"}]
    # the key from its file (Prometheus reads it at each scrape), never the key itself in prometheus.yml
    assert job["authorization"] == {"type": "Bearer", "credentials_file": str(key)}
    [tls] = alert_chain.scrape_configs([alert_chain.AlertTarget("x", "h", "127.0.0.1:1", scheme="https",
                                                                metrics_path="/m")])
    assert tls["scheme"] == "https" and tls["metrics_path"] == "/m" and "authorization" not in tls


def test_a_probe_target_is_a_blackbox_http_probe_of_its_url_as_its_inventory_host():
    from mcpops.lab.fixtures.alerting_config import INVENTORY_HOST_LABEL

    targets = [alert_chain.AlertTarget("connector-mcp-health", "backend-%d" % n,
                                       "http://127.0.0.1:800%d/api/health" % n, probe=True) for n in (1, 2)]
    [job] = alert_chain.scrape_configs(targets, "127.0.0.1:9115")
    assert job["job_name"] == "connector-mcp-health" and job["metrics_path"] == "/probe"
    assert job["params"] == {"module": [alert_chain.HTTP_MODULE]}
    assert job["static_configs"] == [
        {"targets": ["http://127.0.0.1:8001/api/health"], "labels": {INVENTORY_HOST_LABEL: "backend-1"}},
        {"targets": ["http://127.0.0.1:8002/api/health"], "labels": {INVENTORY_HOST_LABEL: "backend-2"}}]
    assert job["relabel_configs"][-1] == {"target_label": "__address__", "replacement": "127.0.0.1:9115"}
    # a plain GET that must answer 2xx: a stopped instance (refused) or a 503 fails the probe
    module = alert_chain.HTTP_PROBE
    assert module["prober"] == "http" and module["http"]["method"] == "GET"
    assert "valid_status_codes" not in module["http"] and "fail_if_not_ssl" not in module["http"]
    with pytest.raises(ValueError, match="no exporter address"):
        alert_chain.scrape_configs(targets)
    with pytest.raises(ValueError, match="same kind"):
        alert_chain.scrape_configs([targets[0], alert_chain.AlertTarget("connector-mcp-health", "b", "127.0.0.1:1")])


def test_each_lab_offers_the_job_its_service_s_rules_select_on(tmp_path):
    """The adapters' alert_targets, on adapters that were never brought up (what they read is stubbed)."""
    from types import SimpleNamespace

    from mcpops.drill.compose_drill_lab import ComposeDrillLab
    from mcpops.drill.lab_adapters import ConnectorDrillLab, LocalDrillLab, Target

    rules = sorted(RULES_DIR.glob("*.rules.yml"))
    local = LocalDrillLab.__new__(LocalDrillLab)
    local.lab = SimpleNamespace(listen="127.0.0.1:3999")
    assert local.alert_targets(None) == [alert_chain.AlertTarget("onec-gateway", "lab-gateway", "127.0.0.1:3999")]
    assert alert_chain.rule_jobs(rules, "OnecGatewayDown") == ["onec-gateway"]

    connector = ConnectorDrillLab.__new__(ConnectorDrillLab)
    connector.targets = lambda: [Target("backend-1", "http://127.0.0.1:8001"),
                                 Target("backend-2", "http://127.0.0.1:8002")]
    offered = connector.alert_targets(None)
    assert [(t.job, t.host, t.address, t.probe) for t in offered] == [
        ("connector-mcp-health", "backend-1", "http://127.0.0.1:8001/api/health", True),
        ("connector-mcp-health", "backend-2", "http://127.0.0.1:8002/api/health", True)]
    assert alert_chain.rule_jobs(rules, "ConnectorMcpHealthFailing") == ["connector-mcp-health"]
    # an alert on its MariaDB: the lab's mysqld_exporter alone (its start: test_mysqld_exporter.py), as backend-1
    from mcpops.drill.scenarios import CONNECTOR, choose

    connector.mysql_exporter = lambda: SimpleNamespace(address="127.0.0.1:9104")
    mysql = choose("connector-db-connections", "mysql-max-connections", service=CONNECTOR)
    [db] = connector.alert_targets(mysql)
    assert db == alert_chain.AlertTarget("connector-mysql", "backend-1", "127.0.0.1:9104", scrape_interval="5s")
    assert alert_chain.rule_jobs(rules, mysql.alert) == [ConnectorDrillLab.DB_ALERT_JOB]
    # every 5 s (each scrape a login into the slot a full server keeps), the other jobs at the lab's 1 s
    configs = alert_chain.scrape_configs([db, alert_chain.AlertTarget("onec-gateway", "lab-gateway", "127.0.0.1:1")])
    assert [(c["job_name"], c["scrape_interval"], c["scrape_timeout"]) for c in configs] == [
        ("connector-mysql", "5s", "5s"), ("onec-gateway", "1s", "1s")]

    compose = ComposeDrillLab.__new__(ComposeDrillLab)
    compose.lab = SimpleNamespace(url="http://127.0.0.1:36193", metrics_token_file=tmp_path / "metrics_token")
    assert compose.alert_targets(None) == [alert_chain.AlertTarget(
        "loyalty-api", "loyalty-compose", "127.0.0.1:36193", bearer_token_file=str(tmp_path / "metrics_token"))]
    assert alert_chain.rule_jobs(rules, "LoyaltyApiDown") == ["loyalty-api"]


def test_an_alert_whose_job_the_lab_does_not_offer_is_refused_before_anything_starts(tmp_path):
    chain = alert_chain.AlertChain([alert_chain.AlertTarget("loyalty-api", "loyalty-compose", "127.0.0.1:1")],
                                   tmp_path / "inventory.yml", tmp_path / "runs", {},
                                   "LoyaltyPostgresConnectionsExhausted", base=str(tmp_path))
    with pytest.raises(DrillError, match="selects on job loyalty-postgres, which the lab's chain does not scrape "
                                         r"\(it scrapes loyalty-api\)"):
        chain.start(out=lambda line: None)
    assert chain.watch is None and chain.prometheus is None  # nothing was started
    with pytest.raises(DrillError, match="offers its alert chain nothing to scrape"):
        alert_chain.AlertChain([], tmp_path, tmp_path, {}, "X")
