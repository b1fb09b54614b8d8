"""The drill table and the verdict logic (mcpops.drills), without a lab."""

import json

import pytest

from mcpops import drills
from mcpops.drill import plan
from mcpops.drills import (Check, DrillError, Verdict, check_health, check_named, check_runbook_exit,
                           check_storage_meta, check_tokens, choose)
from mcpops.lab.faults import FAULTS as LOCAL_FAULTS
from mcpops.lab.fleet.faults import FAULTS as FLEET_FAULTS
from mcpops.runbooks import discover

RUNBOOKS = {r.id: r for r in discover()}


def test_the_table_names_real_runbooks_real_faults_and_declared_extra_vars():
    assert {"inc-001-gateway-down", "inc-003-restore", "inc-004-upstream-degraded"} <= set(drills.DRILLS)
    for runbook_id, scenarios in drills.DRILLS.items():
        runbook = RUNBOOKS[runbook_id]
        assert scenarios, runbook_id
        for s in scenarios:
            assert s.symptom in drills.SYMPTOMS, (runbook_id, s)
            assert not s.symptom.startswith("named_") or s.symptom in drills.NAMED_PATTERNS
            assert set(s.extra_vars) <= set(runbook.extra_vars), (runbook_id, s.extra_vars)
            assert s.expect_exit in (0, 2)
            # A repairing drill needs a runbook that changes things; a read-only one can only name the fault.
            assert s.expect_exit == 2 or runbook.changes, runbook_id
            if drills.LOCAL in s.labs:
                assert s.fault in LOCAL_FAULTS, (runbook_id, s.fault)
            if drills.FLEET in s.labs:
                assert s.fault in FLEET_FAULTS, (runbook_id, s.fault)
            assert s.why


def test_every_runbook_is_either_drillable_or_has_a_reason():
    assert set(drills.DRILLS).isdisjoint(drills.NOT_DRILLABLE)
    assert set(RUNBOOKS) == set(drills.DRILLS) | set(drills.NOT_DRILLABLE)


def test_choose_defaults_to_the_first_scenario_the_lab_has():
    assert choose("inc-003-restore").fault == "corrupt-store"
    assert choose("inc-003-restore", "bad-migration").symptom == "schema_supported"
    assert choose("inc-001-gateway-down", lab=drills.FLEET).fault == "stop"


@pytest.mark.parametrize("args, words", [
    (("triage",), ["triage cannot be drilled", "diagnostics bundle", "drillable: inc-001-gateway-down"]),
    (("no-such-runbook",), ["no-such-runbook cannot be drilled", "drillable:"]),
    (("inc-003-restore", "crash"), ["no drill with --fault crash", "corrupt-store, bad-migration"]),
    (("inc-004-upstream-degraded", None, drills.FLEET), ["cannot be drilled on the fleet lab", "local lab only"]),
    (("inc-004-upstream-degraded", "upstream-down", drills.FLEET), ["fleet lab has no upstream-down"]),
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
    broken = drills.Scenario("stop", "service_running", {"no_such_var": 1}, why="x")
    monkeypatch.setitem(drills.DRILLS, "inc-001-gateway-down", (broken,))
    with pytest.raises(DrillError, match="passes no_such_var, which its metadata does not declare"):
        plan("inc-001-gateway-down")


def test_health_needs_both_probes():
    assert check_health("h", (200, {}), (200, {})).ok
    bad = check_health("h", (200, {}), (503, {"status": "not_ready", "checks": {"index": "missing"}}))
    assert not bad.ok and "/readyz 503" in bad.detail and "index" in bad.detail
    assert not check_health("h", (None, {"error": "refused"}), (None, {})).ok


def test_storage_meta_wants_the_supported_schema_and_every_store_ok():
    good = {"schemaVersion": 3, "stores": {"tokens": {"ok": True}, "profiles": {"ok": True}}}
    assert check_storage_meta("h", 200, good).ok
    assert not check_storage_meta("h", 200, good, expected=4).ok
    assert "expected 4" in check_storage_meta("h", 200, good, expected=4).detail
    broken = dict(good, stores={"tokens": {"ok": False}, "profiles": {"ok": True}})
    assert "stores not ok: tokens" in check_storage_meta("h", 200, broken).detail
    assert not check_storage_meta("h", 503, None).ok


def test_tokens_lost_added_or_revoked_fail_and_say_which():
    before = {"tok_a": False, "tok_b": True}
    assert check_tokens("h", before, dict(before)).ok
    lost = check_tokens("h", before, {"tok_a": False})
    assert not lost.ok and "lost: tok_b" in lost.detail
    added = check_tokens("h", before, dict(before, tok_c=False))
    assert not added.ok and "added: tok_c" in added.detail
    flipped = check_tokens("h", before, {"tok_a": True, "tok_b": True})
    assert not flipped.ok and "revoked state changed: tok_a" in flipped.detail
    assert not check_tokens("h", before, None).ok
    assert check_tokens("h", None, {"tok_a": False}).ok  # no baseline: said, not failed


def test_named_symptoms_read_the_runs_output():
    out = "ok: [lab-gateway] => msg: ['erp-prod: FAILED: upstream; upstream FAILED (http: HTTP 500)']"
    assert check_named("named_upstream", out).ok
    assert not check_named("named_certificate", out).ok


def test_verdict_passes_only_with_the_expected_exit_and_every_check():
    v = Verdict(runbook="inc-003-restore", fault="corrupt-store", lab="local", targets=["lab-gateway"],
                runbook_exit=0, expected_exit=0, run_dir="/tmp/x",
                checks=[check_runbook_exit(0, 0), Check("healthy", True, "/healthz 200, /readyz 200", "lab-gateway")])
    assert v.passed and "PASSED" in v.summary()
    v.checks.append(Check("storage-meta", False, "schemaVersion 3 (expected 4)", "lab-gateway"))
    assert not v.passed and "FAILED (storage-meta)" in v.summary()
    md = v.markdown()
    assert "**Verdict: FAILED**" in md and "- FAIL storage-meta [lab-gateway]: schemaVersion 3 (expected 4)" in md
    doc = json.loads(json.dumps(v.as_dict()))
    assert doc["passed"] is False and doc["checks"][2]["name"] == "storage-meta"
    # A runbook that ended otherwise than the drill expects fails it, whatever the checks say.
    assert not Verdict(runbook="r", fault="f", lab="local", targets=[], runbook_exit=2, expected_exit=0,
                       checks=[Check("healthy", True, "")]).passed
    assert not Verdict(runbook="r", fault="f", lab="local", targets=[], runbook_exit=0, expected_exit=0).passed
    assert not check_runbook_exit(0, 2).ok and check_runbook_exit(2, 2).ok


# -- the symptom checks that read a target's data dir (mcpops.drill_labs) ------------------------------

def _target(tmp_path):
    from mcpops.drill_labs import Target

    return Target("gw", "http://127.0.0.1:9", tmp_path / "admin_token", tmp_path)


def test_store_parses_and_schema_supported_read_the_data_dir(tmp_path):
    from mcpops.drill_labs import symptom_check

    target = _target(tmp_path)
    (tmp_path / "tokens.json").write_text('{"tokens": [ {"id": "tok_broken", \n')
    broken = symptom_check(None, target, "store_parses", {}, "")
    assert not broken.ok and broken.target == "gw" and "tokens.json" in broken.detail
    (tmp_path / "tokens.json").write_text('{"tokens": []}')
    assert symptom_check(None, target, "store_parses", {}, "").ok

    meta = {"schemaVersion": 99, "appliedMigrations": ["001_init", "002_tokens_org", "003_rate_limits", "099_future"]}
    (tmp_path / "storage-meta.json").write_text(json.dumps(meta))
    assert not symptom_check(None, target, "schema_supported", {}, "").ok
    meta = {"schemaVersion": 3, "appliedMigrations": meta["appliedMigrations"][:3]}
    (tmp_path / "storage-meta.json").write_text(json.dumps(meta))
    assert symptom_check(None, target, "schema_supported", {}, "").ok


def test_service_running_asks_the_lab_and_named_symptoms_read_the_output(tmp_path):
    from mcpops.drill_labs import symptom_check

    class Lab:
        def __init__(self, state):
            self.state = state

        def service_state(self, target):
            return self.state

    target = _target(tmp_path)
    assert symptom_check(Lab("RUNNING"), target, "service_running", {}, "").ok
    assert symptom_check(Lab("active"), target, "service_running", {}, "").ok
    stopped = symptom_check(Lab("STOPPED"), target, "service_running", {}, "")
    assert not stopped.ok and stopped.detail == "service state STOPPED"
    said = "Rolling restart stopped at gw (batch 1): /readyz 503"
    assert symptom_check(None, target, "named_gate", {}, said).ok
    with pytest.raises(DrillError, match="no check for symptom"):
        symptom_check(None, target, "no_such_symptom", {}, "")
