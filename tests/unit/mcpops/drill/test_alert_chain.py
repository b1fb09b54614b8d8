"""The lab's rule copies an alert drill's Prometheus evaluates (mcpops.drill.alert_chain): ranges cut to the lab's,
the approval variant's label dropped; thresholds and everything else as the collection's rule files say."""

import yaml

from mcpops.drill import alert_chain
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
