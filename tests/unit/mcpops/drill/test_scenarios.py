"""The drill table (mcpops.drill.scenarios) and the drill's plan (mcpops.drill.command.plan), without a lab."""

import pytest

from mcpops.drill import checks, scenarios
from mcpops.drill.command import plan
from mcpops.drill.scenarios import DrillError, choose
from mcpops.lab.fleet.faults import FAULTS as FLEET_FAULTS
from mcpops.lab.local.faults import FAULTS as LOCAL_FAULTS
from mcpops.run.runbooks import discover

RUNBOOKS = {r.id: r for r in discover()}


def test_the_table_names_real_runbooks_real_faults_and_declared_extra_vars():
    assert {"inc-001-gateway-down", "inc-003-restore", "inc-004-upstream-degraded"} <= set(scenarios.DRILLS)
    for runbook_id, drills in scenarios.DRILLS.items():
        runbook = RUNBOOKS[runbook_id]
        assert drills, runbook_id
        for s in drills:
            assert s.symptom in checks.SYMPTOMS, (runbook_id, s)
            assert not s.symptom.startswith("named_") or s.symptom in checks.NAMED_PATTERNS
            assert set(s.extra_vars) <= set(runbook.extra_vars), (runbook_id, s.extra_vars)
            assert s.expect_exit in (0, 2)
            # A repairing drill needs a runbook that changes things; a read-only one can only name the fault.
            assert s.expect_exit == 2 or runbook.changes, runbook_id
            if scenarios.LOCAL in s.labs:
                assert s.fault in LOCAL_FAULTS, (runbook_id, s.fault)
            if scenarios.FLEET in s.labs:
                assert s.fault in FLEET_FAULTS, (runbook_id, s.fault)
            assert s.why


def test_every_runbook_is_either_drillable_or_has_a_reason():
    assert set(scenarios.DRILLS).isdisjoint(scenarios.NOT_DRILLABLE)
    assert set(RUNBOOKS) == set(scenarios.DRILLS) | set(scenarios.NOT_DRILLABLE)


def test_choose_defaults_to_the_first_scenario_the_lab_has():
    assert choose("inc-003-restore").fault == "corrupt-store"
    assert choose("inc-003-restore", "bad-migration").symptom == "schema_supported"
    assert choose("inc-001-gateway-down", lab=scenarios.FLEET).fault == "stop"


@pytest.mark.parametrize("args, words", [
    (("triage",), ["triage cannot be drilled", "diagnostics bundle", "drillable: inc-001-gateway-down"]),
    (("no-such-runbook",), ["no-such-runbook cannot be drilled", "drillable:"]),
    (("inc-003-restore", "crash"), ["no drill with --fault crash", "corrupt-store, bad-migration"]),
    (("inc-004-upstream-degraded", None, scenarios.FLEET), ["cannot be drilled on the fleet lab", "local lab only"]),
    (("inc-004-upstream-degraded", "upstream-down", scenarios.FLEET), ["fleet lab has no upstream-down"]),
])
def test_refusals_are_one_line_and_name_what_is_drillable(args, words):
    with pytest.raises(DrillError) as err:
        choose(*args)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_plan_refuses_an_unknown_runbook_with_the_known_ones():
    with pytest.raises(DrillError, match="unknown runbook 'inc-999'"):
        plan("inc-999")
    runbook, scenario = plan("inc-001-gateway-down", "corrupt-store")
    assert runbook.id == "inc-001-gateway-down" and scenario.extra_vars == {"escalate_to_restore": True}


def test_plan_refuses_a_table_entry_the_metadata_does_not_declare(monkeypatch):
    broken = scenarios.Scenario("stop", "service_running", {"no_such_var": 1}, why="x")
    monkeypatch.setitem(scenarios.DRILLS, "inc-001-gateway-down", (broken,))
    with pytest.raises(DrillError, match="passes no_such_var, which its metadata does not declare"):
        plan("inc-001-gateway-down")
