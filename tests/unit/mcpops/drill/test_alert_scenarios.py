"""The alert drills' table: every scenario an alert starts (Scenario.alert) names an alert the collection's rules
define, labelled with that scenario's runbook, on the scrape job the lab's chain scrapes; and `mcpops drill
--via-alert` is refused before anything starts where no alert can start the runbook or the runbook needs a person."""

import pytest
import yaml

from mcpops.drill import scenarios
from mcpops.drill.alert_chain import alert_names
from mcpops.drill.alert_drill import SCRAPE_JOB, approval_inputs, plan_alert_drill
from mcpops.drill.scenarios import LOCAL, ONEC, DrillError
from mcpops.lab.fixtures.alerting_config import RULES_DIR
from mcpops.run.runbooks import discover

RUNBOOKS = {r.id: r for r in discover()}
RULES = {rule["alert"]: rule for path in sorted(RULES_DIR.glob("*.rules.yml"))
         for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule}
ALERT_SCENARIOS = [(runbook_id, s) for runbook_id, drills in scenarios.DRILLS.items() for s in drills if s.alert]


def scenario(runbook_id, fault):
    return next(s for s in scenarios.DRILLS[runbook_id] if s.fault == fault)


def test_the_alert_drills_are_inc_001_inc_003_and_inc_005():
    assert [(r, s.fault, s.alert) for r, s in ALERT_SCENARIOS] == [
        ("inc-001-gateway-down", "stop", "OnecGatewayDown"),
        ("inc-003-restore", "corrupt-store-live", "OnecGatewayStorageNotReady"),
        ("inc-005-rate-limit", "rate-storm", "OnecGatewayRateLimited")]
    assert scenarios.alert_drillable() == ["inc-001-gateway-down --fault stop",
                                           "inc-003-restore --fault corrupt-store-live",
                                           "inc-005-rate-limit --fault rate-storm"]


@pytest.mark.parametrize("runbook_id, drill", ALERT_SCENARIOS, ids=[f"{r}-{s.fault}" for r, s in ALERT_SCENARIOS])
def test_the_alert_of_a_scenario_starts_that_scenario_s_runbook_on_the_lab(runbook_id, drill):
    rule = RULES.get(drill.alert)
    assert rule is not None, f"{drill.alert} is in no rule file of {RULES_DIR}"
    assert rule["labels"]["runbook"] == runbook_id
    assert drill.alert in alert_names(sorted(RULES_DIR.glob("*.rules.yml")))
    # the lab's chain scrapes the service under the job the rule selects on, on the local lab
    assert LOCAL in drill.labs and ONEC in drill.services
    assert 'job="%s"' % SCRAPE_JOB[ONEC] in rule["expr"]
    runbook = RUNBOOKS[runbook_id]
    # auto_remediate on the rule only where the runbook's metadata allows it (else the label only asks)
    assert (rule["labels"].get("auto_remediate") == "true") == runbook.auto_remediate
    # what the approver gives (`mcpops approve -e`) is declared by the runbook
    assert set(drill.extra_vars) <= set(runbook.extra_vars)


def test_the_rules_naming_a_drilled_runbook_include_the_alert_its_scenario_waits_for():
    rules_of = {}
    for name, rule in RULES.items():
        rules_of.setdefault(rule["labels"]["runbook"], set()).add(name)
    for runbook_id, drill in ALERT_SCENARIOS:
        assert drill.alert in rules_of.get(runbook_id, set()), (runbook_id, rules_of.get(runbook_id))
        # and no other runbook's rule carries that alert name (the drill waits for a decision on it)
        assert [r for r, names in rules_of.items() if drill.alert in names] == [runbook_id]


def test_a_changing_runbook_without_auto_remediation_is_drilled_through_an_approval():
    inc005, drill = RUNBOOKS["inc-005-rate-limit"], scenario("inc-005-rate-limit", "rate-storm")
    with pytest.raises(DrillError, match="does not allow auto-remediation: drill it with --approval"):
        plan_alert_drill(inc005, drill, LOCAL, ONEC)
    plan_alert_drill(inc005, drill, LOCAL, ONEC, "approve")
    plan_alert_drill(inc005, drill, LOCAL, ONEC, "deny")
    # the new rateLimit is not in the alert: the approver gives it, as an operator would
    assert approval_inputs(drill) == ["-e", "rate_limit=2"]
    assert approval_inputs(scenario("inc-001-gateway-down", "stop")) == []


@pytest.mark.parametrize("runbook_id, fault, lab, approval, reason", [
    ("inc-003-restore", "corrupt-store", LOCAL, "approve", "has no alert that fires on the lab"),
    ("inc-001-gateway-down", "stop", scenarios.FLEET, None, "on the local lab only"),
    ("inc-001-gateway-down", "stop", LOCAL, "maybe", "approve or deny"),
    ("inc-004-upstream-degraded", "upstream-down", LOCAL, "approve", "has no alert that fires on the lab"),
])
def test_a_drill_no_alert_can_start_is_refused_before_anything_starts(runbook_id, fault, lab, approval, reason):
    with pytest.raises(DrillError, match=reason):
        plan_alert_drill(RUNBOOKS[runbook_id], scenario(runbook_id, fault), lab, ONEC, approval)
