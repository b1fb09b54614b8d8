"""The alert drill's clock (mcpops.drill.alert_timing), its refusals (alert_drill.plan_alert_drill), the approval
variant's rule copy (alert_chain.without_auto_remediate) and its verdict's words."""

import datetime

import pytest
import yaml

from mcpops.drill import alert_timing, scenarios
from mcpops.drill.alert_chain import without_auto_remediate
from mcpops.drill.alert_drill import plan_alert_drill
from mcpops.drill.checks import Check
from mcpops.drill.scenarios import DrillError
from mcpops.drill.verdict import Verdict
from mcpops.run.runbooks import find

UTC = datetime.timezone.utc


def at(seconds):
    return datetime.datetime(2026, 12, 5, 11, 20, 0, tzinfo=UTC) + datetime.timedelta(seconds=seconds)


def test_stamps_of_prometheus_alertmanager_and_ansible_runner_parse_to_utc():
    assert alert_timing.parse_time("2026-12-05T11:20:01.123456789Z") == at(1.123456)  # nanoseconds cut to micro
    assert alert_timing.parse_time("2026-12-05T12:20:03+01:00") == at(3)
    assert alert_timing.parse_time("2026-12-05T11:20:07.5") == at(7.5)  # ansible-runner: no zone, UTC
    assert alert_timing.parse_time("0001-01-01T00:00:00Z") is None  # Alertmanager's "not yet"
    assert alert_timing.parse_time("yesterday") is None and alert_timing.parse_time(None) is None


def test_the_parts_add_up_to_the_fault_to_healthy_time():
    parts = alert_timing.split(at(0), at(1.3), at(3.3), (at(7.8), 16.6), at(25.1), at(19.3))
    assert parts == {"detection": 3.3, "pending": 1.3, "for": 2.0, "dispatch": 4.5, "runbook": 16.6, "verify": 0.7,
                     "fault_to_healthy": 25.1, "resolved": 19.3}
    assert parts["detection"] + parts["dispatch"] + parts["runbook"] + parts["verify"] == pytest.approx(25.1)
    lines = alert_timing.lines(parts)
    assert lines[0] == "fault to verified healthy 25.1s"
    assert "detection 3.3s: fault -> alert pending 1.3s (scrape + evaluation), -> firing 2.0s" in lines[1]
    assert "the runbook's run started" in lines[2] and not [line for line in lines if "check run" in line]
    # what the drill did not see is a dash, never a made-up number
    assert alert_timing.split(at(0), None, at(3), (None, None), None, None)["pending"] is None
    assert "pending -" in alert_timing.lines(alert_timing.split(at(0), None, at(3), (None, None), None, None))[1]


def test_an_approved_drill_times_its_check_run_and_the_wait_for_approval():
    parts = alert_timing.split(at(0), at(1.5), at(3.5), (at(6.5), 5.3), at(22.6), at(19.6),
                               approved_run=(at(13.0), 9.1))
    assert (parts["dispatch"], parts["check_run"], parts["approval"], parts["runbook"], parts["verify"]) == \
        (3.0, 5.3, 1.2, 9.1, 0.5)
    assert "the check run started" in alert_timing.lines(parts)[2]


def test_a_denied_drill_has_no_runbook_or_healthy_time():
    parts = alert_timing.split(at(0), at(1.4), at(3.4), (at(7.7), 5.0), None, at(18.4), denied=True)
    assert set(parts) == {"detection", "pending", "for", "dispatch", "check_run", "resolved"}
    lines = alert_timing.lines(parts)
    assert not [line for line in lines if "runbook " in line or "healthy" in line or "approval " in line]


def test_the_approval_variant_drops_the_alerts_auto_remediate_label_only(tmp_path):
    path = tmp_path / "r.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"alert": "A", "expr": "up == 0", "labels": {"runbook": "x", "auto_remediate": "true"}},
        {"alert": "B", "expr": "up == 0", "labels": {"runbook": "y", "auto_remediate": "true"}}]}]}))
    assert without_auto_remediate(path, "A") is True
    rules = yaml.safe_load(path.read_text())["groups"][0]["rules"]
    assert rules[0]["labels"] == {"runbook": "x"} and rules[1]["labels"]["auto_remediate"] == "true"
    assert without_auto_remediate(path, "A") is False  # nothing left to take off


def test_only_a_scenario_with_an_alert_on_the_local_lab_is_drilled_via_alert():
    inc001, inc003 = find("inc-001-gateway-down"), find("inc-003-restore")
    stop = scenarios.choose("inc-001-gateway-down", "stop")
    plan_alert_drill(inc001, stop, scenarios.LOCAL, scenarios.ONEC)
    plan_alert_drill(inc001, stop, scenarios.LOCAL, scenarios.ONEC, "deny")
    assert {"inc-001-gateway-down --fault stop", "inc-002-auth-failures --fault auth-spike",
            "backup-scheduled --fault stale-backup"} <= set(scenarios.alert_drillable())
    with pytest.raises(DrillError, match="local lab only"):
        plan_alert_drill(inc001, stop, scenarios.FLEET, scenarios.ONEC)
    with pytest.raises(DrillError, match="fault crash has no alert .*inc-001-gateway-down --fault stop"):
        plan_alert_drill(inc001, scenarios.choose("inc-001-gateway-down", "crash"), scenarios.LOCAL, scenarios.ONEC)
    with pytest.raises(DrillError, match="has no alert"):
        plan_alert_drill(inc003, scenarios.choose("inc-003-restore"), scenarios.LOCAL, scenarios.ONEC)


def test_the_verdict_of_an_alert_drill_says_so():
    checks = [Check("denied_changed_nothing", True, "service STOPPED")]
    denied = Verdict(runbook="inc-001-gateway-down", fault="stop", lab="local", targets=["lab-gateway"],
                     expected_exit=None, checks=checks, via_alert={"alert": "OnecGatewayDown", "approval": "deny",
                                                                    "timing_lines": ["detection 3.4s"]})
    assert denied.passed
    assert denied.summary() == ("drill inc-001-gateway-down (stop, local lab, via alert OnecGatewayDown, denied): "
                                "PASSED, denied: the lab was left as it was")
    md = denied.markdown()
    assert "## From the alert OnecGatewayDown" in md and "    detection 3.4s" in md
    assert "| runbook exit | - (denied: nothing ran for real) |" in md
    denied.checks.append(Check("check_run_denied", False, "approval pending"))
    assert not denied.passed and "FAILED (check_run_denied)" in denied.summary()


def test_a_read_only_runbook_s_clock_ends_at_its_verified_diagnosis_not_a_healthy_service():
    parts = alert_timing.split(at(0), at(1.2), at(3.2), (at(6.0), 4.0), at(10.5), at(31.0), read_only=True)
    assert "fault_to_healthy" not in parts and parts["fault_to_named"] == 10.5
    assert parts["runbook"] == 4.0 and parts["verify"] == 0.5 and parts["resolved"] == 31.0
    lines = alert_timing.lines(parts)
    assert lines[0].startswith("fault to the read-only runbook's verified diagnosis 10.5s")
    assert not [line for line in lines if "verified healthy" in line]
    assert [line for line in lines if "verify    0.5s" in line and "(the fault named)" in line]


def test_a_read_only_runbook_that_ends_green_names_the_fault_it_does_not_recover_from_it():
    checks = [Check("named_errors", True, "the bundle counts 40 errors")]
    named = Verdict(runbook="triage", fault="server-errors", lab="local", targets=["lab-gateway"],
                    runbook_exit=0, expected_exit=0, checks=checks, recover_seconds=12.0, read_only=True,
                    via_alert={"alert": "OnecGatewayServerErrors", "approval": None})
    assert named.passed and not named.repairs
    assert named.summary().endswith("PASSED, the runbook named the fault in 12.0s")
    assert "| time to diagnose | 12.0s |" in named.markdown()
    changed = Verdict(runbook="inc-001-gateway-down", fault="stop", lab="local", targets=["lab-gateway"],
                      runbook_exit=0, expected_exit=0, checks=checks, recover_seconds=12.0)
    assert changed.repairs and "recovered in 12.0s" in changed.summary()
