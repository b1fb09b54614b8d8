"""The drill's checks (mcpops.drill.checks): the pure ones, and the symptom checks that read a target's data
dir, without a lab."""

import json

import pytest

from mcpops.drill.checks import (check_health, check_named, check_runbook_exit, check_service_health,
                                 check_storage_meta, check_tokens, check_unit_restarted, probe_problem, symptom_check)
from mcpops.drill.lab_adapters import Target
from mcpops.drill.scenarios import DrillError


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


def test_runbook_exit_must_be_the_one_the_drill_expects():
    assert check_runbook_exit(2, 2).ok
    wrong = check_runbook_exit(0, 2)
    assert not wrong.ok and wrong.detail == "exit 0 (ok), expected 2 (some host failed)"


def test_named_symptoms_read_the_runs_output():
    out = "ok: [lab-gateway] => msg: ['erp-prod: FAILED: upstream; upstream FAILED (http: HTTP 500)']"
    assert check_named("named_upstream", out).ok
    assert not check_named("named_certificate", out).ok


# -- the symptom checks that read a target's data dir -------------------------------------------------

def _target(tmp_path):
    return Target("gw", "http://127.0.0.1:9", tmp_path / "admin_token", tmp_path)


def test_store_parses_and_schema_supported_read_the_data_dir(tmp_path):
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


# -- a service's checks (CCTelegram on the fleet) ------------------------------------------------------

def _units(pid, invocation, state="active", bridge="active"):
    return {"cctelegram-mcp": {"MainPID": str(pid), "InvocationID": invocation, "ActiveState": state},
            "cctelegram-bridge": {"MainPID": "77", "ActiveState": bridge}}


def test_unit_restarted_wants_a_new_main_pid_an_active_unit_and_its_dependencies_active():
    before = _units(100, "aaa", bridge="inactive")
    ok = check_unit_restarted("fleet1", "cctelegram-mcp", before, _units(200, "bbb"), ("cctelegram-bridge",))
    assert ok.ok and ok.name == "unit_restarted" and ok.target == "fleet1"
    assert ok.detail == "cctelegram-mcp restarted (main PID 100 -> 200), active; cctelegram-bridge active"
    same = check_unit_restarted("fleet1", "cctelegram-mcp", before, _units(100, "aaa"), ("cctelegram-bridge",))
    assert not same.ok and "not restarted (main PID 100 -> 100)" in same.detail
    # A new invocation with the same PID number is a restart too; a unit that is not active is not recovered.
    assert check_unit_restarted("f", "cctelegram-mcp", before, _units(100, "ccc"), ()).ok
    assert not check_unit_restarted("f", "cctelegram-mcp", before, _units(0, "ccc", state="failed"), ()).ok
    bridge_down = check_unit_restarted("f", "cctelegram-mcp", before, _units(200, "bbb", bridge="inactive"),
                                       ("cctelegram-bridge",))
    assert not bridge_down.ok and "cctelegram-bridge inactive" in bridge_down.detail
    assert not check_unit_restarted("f", "cctelegram-mcp", {}, _units(200, "bbb"), ()).ok  # no baseline: unproven


def test_unit_restarted_compares_with_the_snapshot_taken_before_the_fault():
    class Lab:
        def unit_snapshot(self, target):
            return _units(300, "new")

    target = Target("fleet2", "http://127.0.0.1:9", service="cctelegram-mcp", unit="cctelegram-mcp",
                    profile={"runtime": {"depends_on": ["cctelegram-bridge"]}, "features": []})
    facts = {"units_before": {"fleet2": _units(100, "old", bridge="inactive")}}
    check = symptom_check(Lab(), target, "unit_restarted", facts, "")
    assert check.ok and check.target == "fleet2" and "main PID 100 -> 300" in check.detail
    assert not symptom_check(Lab(), target, "unit_restarted", {}, "").ok


def test_probe_problem_checks_the_status_then_each_condition():
    from mcpops.drill.profiles import evaluate

    spec = {"name": "health", "path": "/health", "expect_status": 200, "conditions": ["status == healthy"]}
    assert probe_problem(spec, 200, {"status": "healthy"}, evaluate) is None
    assert probe_problem(spec, 503, {"status": "unhealthy"}, evaluate) == "/health 503, expected 200"
    assert probe_problem(spec, 200, None, evaluate).startswith("/health: 'status == healthy' fails")
    answers = [(spec, 200, {"status": "healthy"})]
    assert check_service_health("h", answers, evaluate).ok
    assert not check_service_health("h", [], evaluate).ok  # no check answered: not healthy
