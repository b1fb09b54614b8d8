"""The drill's checks (mcpops.drill.checks): the pure ones, and the symptom checks that read a target's data
dir, without a lab."""

import json

import pytest

from mcpops.drill.checks import (LAB_WIDE, SYMPTOMS, check_breakers, check_count_zero, check_health,
                                 check_memory_released, check_named, check_named_instances, check_release,
                                 check_restarted_where_needed, check_runbook_exit, check_service_health,
                                 check_storage_meta, check_storm_blocked, check_tokens, check_unit_restarted,
                                 probe_problem, symptom_check)
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


# -- ConnectorMCP's symptoms (what lab_adapters.ConnectorDrillLab reads, judged) ------------------------


def test_an_instance_is_restarted_where_it_had_to_be_and_left_alone_elsewhere():
    needed = check_restarted_where_needed("exhausted_restarted", "backend-1", 100, 200, True, "pool exhausted")
    assert needed.ok and needed.detail == "pool exhausted: restarted (PID 100 -> 200)"
    assert not check_restarted_where_needed("s", "b", 100, 100, True, "x").ok
    assert not check_restarted_where_needed("s", "b", 100, None, True, "x").ok  # not running: not restarted
    alone = check_restarted_where_needed("s", "backend-2", 101, 101, False, "pool not exhausted")
    assert alone.ok and "left alone (PID 101 -> 101)" in alone.detail
    needless = check_restarted_where_needed("s", "backend-2", 101, 300, False, "pool not exhausted")
    assert not needless.ok and "though it had no need" in needless.detail
    # A stopped instance (no PID after the fault) that runs again counts as restarted.
    assert check_restarted_where_needed("instances_restarted", "b", None, 400, True, "STOPPED").ok


def test_breakers_must_all_be_closed():
    closed = {"mcp_connectors": {"slack": {"circuit": "closed"}, "github": {"circuit": "closed"}}}
    assert check_breakers("b", 200, closed).ok
    half = {"mcp_connectors": {"slack": {"circuit": "half_open"}, "github": {"circuit": "closed"}}}
    bad = check_breakers("b", 200, half)
    assert not bad.ok and bad.detail == "2 breakers, not closed: slack half_open"
    assert not check_breakers("b", None, {"error": "refused"}).ok


def test_memory_is_released_by_a_restart_of_the_instance_over_the_threshold_only():
    over = check_memory_released("backend-1", {"pid": 1, "rss_mb": 140.0}, {"pid": 2, "rss_mb": 60.0}, 120)
    assert over.ok and over.detail == ("RSS 140.0 MB at the fault, over 120 MB: restarted (PID 1 -> 2), "
                                       "RSS now 60.0 MB")
    assert not check_memory_released("b", {"pid": 1, "rss_mb": 140.0}, {"pid": 1, "rss_mb": 150.0}, 120).ok
    assert not check_memory_released("b", {"pid": 1, "rss_mb": 140.0}, {"pid": 2, "rss_mb": 200.0}, 120).ok
    under = check_memory_released("backend-2", {"pid": 3, "rss_mb": 44.0}, {"pid": 3, "rss_mb": 45.0}, 120)
    assert under.ok and "under 120 MB: left alone" in under.detail
    assert not check_memory_released("backend-2", {"pid": 3, "rss_mb": 44.0}, {"pid": 4, "rss_mb": 40.0}, 120).ok


def test_a_release_is_rolled_back_when_the_link_and_the_instance_say_the_old_version():
    good = check_release("backend-1", {"current": "1.0.0", "previous": "1.0.1"}, "1.0.0", 200, {"version": "1.0.0"})
    assert good.ok and "releases/current -> 1.0.0 (before the fault: 1.0.0)" in good.detail
    assert not check_release("b", {"current": "1.0.1"}, "1.0.0", 503, {"version": "1.0.1"}).ok
    assert not check_release("b", {"current": "1.0.0"}, "1.0.0", 503, {"version": "1.0.1"}).ok  # not restarted


def test_the_storm_source_is_blocked_and_others_are_not():
    assert check_storm_blocked("127.0.0.77", 403, 200).ok
    assert not check_storm_blocked("127.0.0.77", 200, 200).ok
    assert not check_storm_blocked("127.0.0.77", 403, 403).ok  # everyone blocked is not a repair
    assert check_storm_blocked("127.0.0.77", 403, 200).target == ""  # the lab's symptom, not an instance's


def test_counts_must_be_zero_and_a_silent_database_fails():
    assert check_count_zero("expired_states_gone", 0, "expired rows").ok
    assert not check_count_zero("expired_states_gone", 5000, "expired rows").ok
    silent = check_count_zero("expired_states_gone", None, "expired rows")
    assert not silent.ok and "did not answer" in silent.detail


def test_the_skew_must_name_the_instance_the_fault_skewed():
    said = "fatal: [backend-2]: FAILED! => msg: Clock sync: backend-2 is more than 30 s off the controller's"
    assert check_named_instances("named_skew", said, ["backend-2"]).ok
    wrong = check_named_instances("named_skew", said.replace("backend-2 is", "backend-1 is"), ["backend-2"])
    assert not wrong.ok and "does not name backend-2" in wrong.detail
    assert not check_named_instances("named_skew", "Clock sync: every instance within 30 s", ["backend-2"]).ok


class _ConnectorLab:
    """What symptom_check asks a connector adapter, answered from a dict (the adapter itself: the integration test)."""

    def __init__(self, **answers):
        self.answers = answers
        self.asked = []

    def program_pid(self, target):
        return self.answers["pid"][target.name]

    def rss_mb(self, target):
        return self.answers["rss"][target.name]

    def service_state(self, target):
        return "RUNNING"

    def lb_status(self, path, source, expect=None):
        return self.answers["lb"][source]

    def sql_count(self, statement, args=None):
        self.asked.append((statement, args))
        return self.answers["count"]


def _instance(name):
    return Target(name, "http://127.0.0.1:9", service="connector-mcp", unit="connectormcp-" + name, profile={})


def test_connector_symptoms_compare_with_what_the_adapter_saw_right_after_the_fault():
    lab = _ConnectorLab(pid={"backend-1": 20, "backend-2": 11}, rss={"backend-1": 50.0, "backend-2": 44.0},
                        lb={"127.0.0.77": 403, "127.0.0.1": 200}, count=0)
    after = {"backend-1": {"pid": 10, "rss_mb": 140.0, "pool_exhausted": True},
             "backend-2": {"pid": 11, "rss_mb": 44.0, "pool_exhausted": False}}
    facts = {"after_fault": after, "memory_limit_mb": 150, "storm_source": "127.0.0.77", "kill_users": ["filler"]}
    for name in ("backend-1", "backend-2"):
        for symptom in ("exhausted_restarted", "memory_released"):
            check = symptom_check(lab, _instance(name), symptom, facts, "")
            assert check.ok and check.target == name, check.line()
    assert symptom_check(lab, _instance("backend-1"), "storm_blocked", facts, "").ok
    killed = symptom_check(lab, _instance("backend-1"), "idle_sessions_killed", facts, "")
    assert killed.ok and killed.detail == "0 sessions of filler left"
    # the user is a bound value, never SQL text
    assert lab.asked[-1] == ("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER IN (%s)", ["filler"])
    assert not symptom_check(lab, _instance("backend-1"), "idle_sessions_killed", dict(facts, kill_users=[]), "").ok
    assert set(LAB_WIDE) <= set(SYMPTOMS)


def test_the_undo_of_the_storms_block_is_checked_through_nginx():
    from mcpops.drill.checks import undone_check

    facts = {"storm_source": "127.0.0.77"}
    undone = undone_check(_ConnectorLab(lb={"127.0.0.77": 200}), "storm_blocked", facts)
    assert undone.ok and undone.name == "undone" and "from 127.0.0.77: 200 (expected 200)" in undone.detail
    assert not undone_check(_ConnectorLab(lb={"127.0.0.77": 403}), "storm_blocked", facts).ok
    assert undone_check(_ConnectorLab(), "breakers_closed", facts) is None  # nothing to undo
