"""The drill table (mcpops.drill.scenarios) and the drill's plan (mcpops.drill.command.plan), without a lab."""

import pytest

from mcpops.drill import checks, scenarios
from mcpops.drill.command import plan
from mcpops.drill.scenarios import CCTELEGRAM, CONNECTOR, FLEET, LOCAL, ONEC, DrillError, choose
from mcpops.lab.fleet import services as fleet_services
from mcpops.lab.fleet.cctelegram_controller import FAULTS as LB_FAULTS
from mcpops.lab.fleet.faults import faults_for
from mcpops.lab.local.faults import FAULTS as LOCAL_FAULTS
from mcpops.lab.local.service_catalog import spec as service_spec
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
            # A repairing drill needs a runbook that changes things; a read-only one can only name the fault (it ends
            # red, or green like triage with the fault named in its bundle: a bundle_* symptom).
            assert s.expect_exit == 2 or runbook.changes or s.symptom.startswith("bundle_"), runbook_id
            assert s.services and set(s.services) <= set(scenarios.SERVICES), (runbook_id, s.services)
            assert s.targets in (scenarios.ALL, scenarios.FIRST, scenarios.LAB)
            assert s.undo_vars is None or set(s.undo_vars) <= set(runbook.extra_vars), (runbook_id, s.undo_vars)
            for service in s.services:
                # Every lab of the scenario runs its services and has its fault (the fleet's: that service's; the
                # local lab's: the 1C gateway's, or the service lab's of that service).
                for lab in s.labs:
                    assert service in scenarios.LAB_SERVICES[lab], (runbook_id, service, lab)
                if LOCAL in s.labs:
                    local_faults = LOCAL_FAULTS if service == ONEC else service_spec(service).faults
                    assert s.fault in local_faults, (runbook_id, service, s.fault)
                if FLEET in s.labs:
                    assert service in fleet_services.SERVICES
                    # a fault into the lab is the load balancer's (`mcpops fleet break lb FAULT`), else a host's
                    fleet_faults = LB_FAULTS if s.targets == scenarios.LAB else faults_for(service)
                    assert s.fault in fleet_faults, (runbook_id, service, s.fault)
            assert s.why


def test_every_runbook_is_either_drillable_or_has_a_reason():
    assert set(RUNBOOKS) == set(scenarios.DRILLS) | set(scenarios.NOT_DRILLABLE)
    # A runbook in both is drillable in part only: some service has no drill of it, and its line says what not.
    for runbook_id in set(scenarios.DRILLS) & set(scenarios.NOT_DRILLABLE):
        drilled = {service for s in scenarios.DRILLS[runbook_id] for service in s.services}
        assert drilled < set(scenarios.SERVICES), runbook_id
    assert set(scenarios.DRILLS) & set(scenarios.NOT_DRILLABLE) == {"service-outage", "db-connection-exhaustion"}


def test_choose_defaults_to_the_first_scenario_the_lab_has():
    assert choose("inc-003-restore").fault == "corrupt-store"
    assert choose("inc-003-restore", "bad-migration").symptom == "schema_supported"
    assert choose("inc-001-gateway-down", lab=scenarios.FLEET).fault == "stop"


def test_every_1c_drill_is_what_it_was():
    """The 1C gateway's table, service given or not: every scenario for onec-gateway only, its fault into every
    target, and the same choice as before --service existed."""
    for drills in scenarios.DRILLS.values():
        for s in drills:
            if ONEC in s.services:
                assert s.services == (ONEC,) and s.targets == scenarios.ALL
    for runbook_id, fault, lab in [("inc-001-gateway-down", None, LOCAL), ("inc-001-gateway-down", "crash", FLEET),
                                   ("inc-003-restore", None, FLEET), ("inc-004-upstream-degraded", None, LOCAL),
                                   ("inc-005-rate-limit", None, LOCAL), ("rolling-restart", None, LOCAL)]:
        assert choose(runbook_id, fault, lab) is choose(runbook_id, fault, lab, ONEC)
    assert choose("rolling-restart").fault == "not-ready"


def test_choose_picks_the_services_scenario():
    outage = choose("service-outage", lab=FLEET, service=CCTELEGRAM)
    assert (outage.fault, outage.symptom, outage.extra_vars) == ("bridge-down", "unit_restarted", {"remedy": "restart"})
    assert outage.targets == scenarios.FIRST and outage.labs == (FLEET,) and outage.services == (CCTELEGRAM,)
    assert outage.expect_exit == 0 and outage.healthy_after and not outage.backup_first
    assert choose("service-outage", "bridge-down", FLEET, CCTELEGRAM) is outage
    rolling = choose("rolling-restart", lab=FLEET, service=CCTELEGRAM)
    assert rolling.fault == "bridge-down" and rolling.targets == scenarios.FIRST and rolling.extra_vars == {}
    # The same runbook keeps its 1C scenario for the 1C gateway.
    assert choose("rolling-restart", lab=LOCAL, service=ONEC).fault == "not-ready"
    runbook, scenario = plan("service-outage", None, FLEET, CCTELEGRAM)
    assert runbook.id == "service-outage" and scenario is outage


@pytest.mark.parametrize("args, words", [
    (("inc-006-secret-leak",), ["inc-006-secret-leak cannot be drilled", "rotates the admin token",
                                "drillable: backup-scheduled, ", "inc-001-gateway-down, inc-002-auth-failures"]),
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


@pytest.mark.parametrize("args, words", [
    # A service no lab runs, and a service/lab pair the labs cannot run.
    (("service-outage", None, FLEET, "no-such-mcp"),
     ["--service no-such-mcp: a drill runs one of onec-gateway, cctelegram-mcp"]),
    (("service-outage", None, FLEET, "lego-mcp"),
     ["--service lego-mcp: the fleet lab cannot run it", "drilled on the kubernetes lab (--lab kubernetes) only"]),
    (("service-outage", None, LOCAL, CCTELEGRAM),
     ["--service cctelegram-mcp: the local lab cannot run it", "drilled on the fleet lab (--fleet N) only"]),
    (("inc-003-restore", None, LOCAL, CCTELEGRAM), ["the local lab cannot run it"]),
    # service-outage for the 1C gateway: what still is not drillable, and how it is.
    (("service-outage",), ["service-outage cannot be drilled for onec-gateway", "rollback and scale",
                           "loyalty-api-down on the compose lab", "lego-service-outage on the Kubernetes lab",
                           "--fleet 3 --service cctelegram-mcp", "inc-001-gateway-down"]),
    (("service-outage", None, FLEET, ONEC), ["service-outage cannot be drilled for onec-gateway"]),
    # A 1C runbook has no CCTelegram drill; a CCTelegram drill's fault list is its own.
    (("inc-003-restore", None, FLEET, CCTELEGRAM),
     ["inc-003-restore cannot be drilled for cctelegram-mcp", "drilled for onec-gateway only"]),
    (("service-outage", "crash-loop", FLEET, CCTELEGRAM),
     ["service-outage has no drill for cctelegram-mcp with --fault crash-loop", "(its faults: bridge-down, stop)"]),
    (("rolling-restart", "not-ready", FLEET, CCTELEGRAM), ["no drill for cctelegram-mcp with --fault not-ready"]),
    (("rolling-restart", "bridge-down", FLEET, ONEC), ["rolling-restart has no drill with --fault bridge-down",
                                                       "(its faults: not-ready)"]),
])
def test_service_refusals_are_one_line(args, words):
    with pytest.raises(DrillError) as err:
        choose(*args)
    message = str(err.value)
    assert "\n" not in message, message
    for word in words:
        assert word in message, message


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


def test_the_fault_goes_into_every_target_or_the_first_only():
    from mcpops.drill.command import broken_targets

    hosts = ["fleet1", "fleet2", "fleet3"]
    assert broken_targets(choose("inc-001-gateway-down", lab=FLEET), hosts) == hosts
    assert broken_targets(choose("service-outage", lab=FLEET, service=CCTELEGRAM), hosts) == ["fleet1"]
    assert broken_targets(choose("rolling-restart", lab=FLEET, service=CCTELEGRAM), hosts) == ["fleet1"]


# -- ConnectorMCP (the connector lab, --service connector-mcp) ------------------------------------------

CONNECTOR_RUNBOOKS = sorted(r for r in RUNBOOKS if r.startswith("connector-"))


def test_every_connector_runbook_is_drilled_or_says_why():
    assert CONNECTOR_RUNBOOKS, "the ConnectorMCP playbooks (playbooks/connector-*.yml)"
    drilled = {r for r in CONNECTOR_RUNBOOKS if r in scenarios.DRILLS}
    assert drilled == {"connector-db-connections", "connector-connector-failures", "connector-rate-limits",
                       "connector-oauth-states", "connector-high-memory", "connector-restart", "connector-rollback"}
    assert set(CONNECTOR_RUNBOOKS) - drilled == {"connector-db-backup", "connector-db-recovery",
                                                 "connector-log-analysis", "connector-scale-out"}
    assert "test_connector_playbooks.py" in scenarios.NOT_DRILLABLE["connector-db-recovery"]
    for runbook_id in drilled:
        for s in scenarios.DRILLS[runbook_id]:
            # the lab's fault, once; on the local lab only; every instance checked
            assert s.services == (CONNECTOR,) and s.labs == (LOCAL,) and s.targets == scenarios.LAB, runbook_id


def test_connector_scenarios_are_the_playbook_tests_faults_and_extra_vars():
    got = {(runbook_id, s.fault): (s.symptom, s.extra_vars, s.expect_exit)
           for runbook_id in CONNECTOR_RUNBOOKS for s in scenarios.DRILLS.get(runbook_id, ())}
    assert got == {
        ("connector-db-connections", "pool-exhausted"): ("exhausted_restarted", {}, 0),
        ("connector-db-connections", "mysql-max-connections"):
            ("idle_sessions_killed", {"kill_idle_for": "1s", "kill_users": ["filler"]}, 0),
        ("connector-connector-failures", "datasource-failing"): ("breakers_closed", {"breaker_wait": 0}, 0),
        ("connector-rate-limits", "rate-limit-storm"): ("storm_blocked", {"block_ips": ["127.0.0.77"]}, 0),
        ("connector-oauth-states", "oauth-states-expired"): ("expired_states_gone", {}, 0),
        ("connector-oauth-states", "clock-skew"): ("named_skew", {"cleanup": False}, 2),
        ("connector-high-memory", "memory-leak"): ("memory_released", {"memory_limit_mb": 150}, 0),
        ("connector-restart", "stop"): ("instances_restarted", {}, 0),
        ("connector-rollback", "bad-deploy"): ("release_rolled_back", {}, 0),
    }
    # The storm's block is taken out again after the checks, the runbook's own way.
    storm = choose("connector-rate-limits", service=CONNECTOR)
    assert storm.undo_vars == {"block_ips": ["127.0.0.77"], "unblock": True}
    timer = choose("cctelegram-auto-recovery", lab=FLEET, service=CCTELEGRAM)  # its timer removed again
    p1 = choose("cctelegram-p1-response", lab=FLEET, service=CCTELEGRAM)  # its connection limit put back
    assert p1.undo_vars == {"contain_connections": 8, "contain_revert": True}
    scale = choose("lego-scale-high-load", lab=scenarios.KUBERNETES, service=scenarios.LEGO)  # scaled down after
    assert scale.undo_vars["scale_down"] is True
    assert all(s.undo_vars is None for r in scenarios.DRILLS for s in scenarios.DRILLS[r]
               if s not in (storm, timer, p1, scale))


def test_the_memory_limit_puts_only_the_leaking_instance_over_the_threshold():
    """memory-leak stops once backend-1's RSS passes the lab's MEMORY_WARN_MB: the runbook's threshold (80 % of the
    drill's memory_limit_mb) must lie under that, and far over an idle instance (about 40 MB)."""
    from mcpops.lab.local.service_catalog import CONNECTOR_LAB_ENV

    threshold = choose("connector-high-memory", service=CONNECTOR).extra_vars["memory_limit_mb"] * 0.8
    assert 80 <= threshold < int(CONNECTOR_LAB_ENV["MEMORY_WARN_MB"])


def test_connector_choice_and_refusals():
    assert choose("connector-db-connections", service=CONNECTOR).fault == "pool-exhausted"
    assert choose("connector-oauth-states", "clock-skew", LOCAL, CONNECTOR).expect_exit == 2
    runbook, scenario = plan("connector-connector-failures", None, LOCAL, CONNECTOR)
    assert runbook.id == "connector-connector-failures" and scenario.extra_vars == {"breaker_wait": 0}
    for args, words in [
        (("connector-db-connections",), ["cannot be drilled for onec-gateway",
                                         "drilled for connector-mcp only (--service connector-mcp)"]),
        (("connector-db-connections", None, FLEET, CONNECTOR),
         ["--service connector-mcp: the fleet lab cannot run it", "drilled on the local lab only"]),
        (("connector-db-recovery", None, LOCAL, CONNECTOR), ["connector-db-recovery cannot be drilled",
                                                             "recovery point"]),
        (("connector-rollback", "stop", LOCAL, CONNECTOR), ["no drill for connector-mcp with --fault stop",
                                                            "(its faults: bad-deploy)"]),
        (("inc-003-restore", None, LOCAL, CONNECTOR), ["inc-003-restore cannot be drilled for connector-mcp"]),
    ]:
        with pytest.raises(DrillError) as err:
            choose(*args)
        message = str(err.value)
        assert "\n" not in message, message
        for word in words:
            assert word in message, message


def test_the_1c_runbooks_are_listed_first():
    listed = scenarios.drillable()
    assert listed[:16] == ["backup-scheduled", "cert-renewal", "health-check", "inc-001-gateway-down",
                           "inc-002-auth-failures", "inc-003-restore", "inc-004-upstream-degraded",
                           "inc-005-rate-limit", "rolling-restart", "triage",
                           "cctelegram-auto-recovery", "cctelegram-bridge-recovery", "cctelegram-p0-response",
                           "cctelegram-p1-response", "cctelegram-post-incident-validation", "service-outage"]
    assert set(listed[16:]) == {r for r in scenarios.DRILLS if r.startswith(("connector-", "loyalty-", "lego-"))} | {
        "db-connection-exhaustion"}  # LEGO MCP's PostgreSQL


def test_a_lab_fault_goes_in_once_and_every_instance_is_checked():
    from mcpops.drill.command import broken_targets

    hosts = ["backend-1", "backend-2"]
    assert broken_targets(choose("connector-rollback", service=CONNECTOR), hosts) == hosts


@pytest.mark.parametrize("kind, service, fault, undo", [
    (LOCAL, ONEC, "stop", "`mcpops lab repair stop`"),
    (LOCAL, ONEC, "upstream-down", "`mcpops lab repair upstream-down`"),
    (LOCAL, ONEC, "corrupt-store", "its runbook, or `mcpops lab down` and `mcpops lab up`,"),
    (LOCAL, CONNECTOR, "mysql-down", "`mcpops lab break healthy`"),
    (FLEET, CCTELEGRAM, "stop", "`mcpops fleet up`"),
    (scenarios.COMPOSE, scenarios.LOYALTY, "postgres-down", "`mcpops lab repair postgres-down --platform compose`"),
])
def test_a_drill_that_leaves_its_fault_names_what_undoes_it_on_that_lab(kind, service, fault, undo):
    """The operator's lab keeps the fault; the line says what undoes it there (the 1C gateway's local lab has no
    `break healthy`: its repairs are `mcpops lab repair`'s, and its runbooks repair the rest)."""
    from types import SimpleNamespace

    from mcpops.drill.command import _undo_command

    assert _undo_command(SimpleNamespace(kind=kind, service=service), fault) == undo
