"""The LEGO MCP drills on the Kubernetes lab (`mcpops drill <lego runbook> --lab kubernetes`): the table's LEGO rows
name real faults and symptoms, the CLI picks the lab and its service, and the pure checks of mcpops.drill.lego_checks
pass what a repaired lab shows and fail what a broken one shows. The drills themselves run in
tests/integration/lego/test_lego_drills.py."""

import argparse
from types import SimpleNamespace

import pytest

from mcpops.drill import checks, command, lego_checks, scenarios
from mcpops.drill.kube_drill_lab import KubeDrillLab
from mcpops.drill.scenarios import KUBERNETES, LEGO, LOCAL, DrillError, choose
from mcpops.lab.lego.faults import FAULTS as LEGO_FAULTS
from mcpops.lab.lego.faults import manifest_replicas
from mcpops.lab.lego.stack import MANIFESTS

LEGO_RUNBOOKS = ("lego-service-outage", "lego-hsm-unavailable", "lego-full-recovery", "lego-security-incident",
                 "lego-morning-health-check", "lego-scale-high-load")


def test_every_lego_scenario_is_the_kubernetes_lab_s_with_a_real_fault_and_symptom():
    for runbook_id in LEGO_RUNBOOKS:
        assert runbook_id in scenarios.DRILLS and runbook_id not in scenarios.NOT_DRILLABLE, runbook_id
        for s in scenarios.DRILLS[runbook_id]:
            assert s.labs == (KUBERNETES,) and s.services == (LEGO,), runbook_id
            assert s.fault in LEGO_FAULTS or s.fault in KubeDrillLab.OWN_FAULTS, (runbook_id, s.fault)
            assert s.symptom in checks.SYMPTOMS, (runbook_id, s.symptom)
            if s.expect_exit == 0:
                assert s.symptom in checks.LEGO_SYMPTOMS, (runbook_id, s.symptom)
            else:
                assert s.symptom in checks.NAMED_PATTERNS and s.healthy_after is False, runbook_id
    assert scenarios.LAB_SERVICES[KUBERNETES] == (LEGO,)
    # the LEGO runbook without a drill says why, and no longer that the lab is missing
    for runbook_id in ("lego-shift-handover",):
        assert "issue 18, next" not in scenarios.NOT_DRILLABLE[runbook_id]
        assert "tests/integration/lego/" in scenarios.NOT_DRILLABLE[runbook_id]


def test_a_lego_drill_needs_the_kubernetes_lab_and_says_so():
    assert choose("lego-service-outage", None, KUBERNETES, LEGO).fault == "bad-image"
    assert choose("lego-service-outage", "scaled-to-zero", KUBERNETES, LEGO).extra_vars == {"replicas": 2}
    with pytest.raises(DrillError, match=r"drilled for lego-mcp only \(--lab kubernetes\)"):
        choose("lego-service-outage", None, LOCAL, scenarios.ONEC)
    with pytest.raises(DrillError, match=r"the local lab cannot run it; it is drilled on the kubernetes lab "
                                         r"\(--lab kubernetes\) only"):
        choose("lego-service-outage", None, LOCAL, LEGO)
    with pytest.raises(DrillError, match="read-only and ends green"):
        choose("lego-shift-handover", None, KUBERNETES, LEGO)
    # the scale drill's undo run scales down to the lab's healthy size (the shipped manifests'), a step at a time
    scale = choose("lego-scale-high-load", None, KUBERNETES, LEGO)
    assert scale.fault == "high-load" and scale.fault in LEGO_FAULTS
    assert scale.undo_vars["scale_down"] is True
    shipped = manifest_replicas(SimpleNamespace(manifests=MANIFESTS))
    assert (scale.undo_vars["dashboard_floor"], scale.undo_vars["worker_floor"], scale.undo_vars["replica_floor"]) \
        == (shipped[("Deployment", "dashboard")], shipped[("Deployment", "celery-worker")],
            shipped[("StatefulSet", "postgresql-replica")]) == (2, 2, 1)
    assert all(scale.extra_vars[var] > floor for var, floor in (("dashboard_replicas", 2), ("worker_replicas", 2),
                                                                ("replica_replicas", 1)))


def test_the_cli_plans_a_lego_drill_on_the_kubernetes_lab_before_any_lab_starts():
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["drill", "lego-full-recovery", "--lab", "kubernetes"])
    assert command._lab_kind(args) == KUBERNETES
    runbook, scenario = command.plan(args.runbook, None, KUBERNETES, LEGO)
    assert runbook.id == "lego-full-recovery" and scenario.fault == "namespace-wiped"
    # every LEGO scenario's extra vars are declared by its playbook (the pod comes from the lab: run_vars)
    for runbook_id in LEGO_RUNBOOKS:
        for s in scenarios.DRILLS[runbook_id]:
            command.plan(runbook_id, s.fault, KUBERNETES, LEGO)


def test_the_lego_checks_pass_a_repaired_lab_and_fail_a_broken_one():
    good, bad = "ghcr.io/lego-mcp/dashboard:8.0.0", "ghcr.io/lego-mcp/dashboard:8.0.0-broken"
    assert lego_checks.check_image_rolled_back("c", good, good, True).ok
    assert not lego_checks.check_image_rolled_back("c", good, bad, True).ok
    assert not lego_checks.check_image_rolled_back("c", good, good, "dashboard: 1 Ready pods, want 2").ok

    assert lego_checks.check_scaled_back("c", 2, 2, True).ok
    assert not lego_checks.check_scaled_back("c", 2, 0, True).ok
    assert not lego_checks.check_scaled_back("c", None, 0, True).ok

    args = dict(pod="dashboard-1", pod_left=False, quarantined=[], policy_left=False, old_refused=True,
                new_accepted=True, healthy=True)
    assert lego_checks.check_contained_and_replaced("c", **args).ok
    for key, value in (("pod_left", True), ("quarantined", ["pod/dashboard-1"]), ("policy_left", True),
                       ("old_refused", False), ("new_accepted", False), ("healthy", "no pod")):
        check = lego_checks.check_contained_and_replaced("c", **dict(args, **{key: value}))
        assert not check.ok, key

    assert lego_checks.check_namespace_recovered("c", "Active", 7, 7, True).ok
    assert not lego_checks.check_namespace_recovered("c", "Active", 8, 7, True).ok  # the writes after the dump stay
    assert not lego_checks.check_namespace_recovered("c", None, 7, 7, True).ok
    assert not lego_checks.check_namespace_recovered("c", "Active", 0, None, True).ok


ASSESSED = ("Load (access logs of the dashboard pods, last 10 s): 412 requests, 41.2/s, p95 6.3 ms "
            "(dashboard-a 208, dashboard-b 204)")
SCALED = {"deployment/dashboard": 3, "deployment/celery-worker": 3, "statefulset/postgresql-replica": 2}


def test_the_scale_check_wants_every_workload_at_its_size_ready_and_the_load_on_every_pod_and_assessed():
    now = {workload: (n, n) for workload, n in SCALED.items()}
    load = {"requests": 900, "errors": 0, "pods": ["dashboard-a", "dashboard-b", "dashboard-c"],
            "per_pod": {"dashboard-a": 400, "dashboard-b": 398, "dashboard-c": 102}}
    check = lego_checks.check_scaled_for_load("c", SCALED, now, True, load, ASSESSED)
    assert check.ok, check.detail
    assert "answered by all 3 dashboard pods; the run assessed 412 requests in 10 s" in check.detail
    # a workload not scaled, or scaled but not Ready
    for workload in SCALED:
        spec = dict(now, **{workload: (SCALED[workload] - 1, SCALED[workload] - 1)})
        assert not lego_checks.check_scaled_for_load("c", SCALED, spec, True, load, ASSESSED).ok, workload
        ready = dict(now, **{workload: (SCALED[workload], SCALED[workload] - 1)})
        assert not lego_checks.check_scaled_for_load("c", SCALED, ready, True, load, ASSESSED).ok, workload
    assert not lego_checks.check_scaled_for_load("c", SCALED, now, "dashboard-c /health: 503", load, ASSESSED).ok
    # the new pod never served the load; no load at all
    unserved = dict(load, per_pod={"dashboard-a": 400, "dashboard-b": 398})
    check = lego_checks.check_scaled_for_load("c", SCALED, now, True, unserved, ASSESSED)
    assert not check.ok and "no answer from dashboard-c" in check.detail
    assert not lego_checks.check_scaled_for_load("c", SCALED, now, True, None, ASSESSED).ok
    # the run's assessment did not see the load, or saw only the readiness probes
    assert not lego_checks.check_scaled_for_load("c", SCALED, now, True, load, "Metrics: not available").ok
    idle = ASSESSED.replace("412 requests, 41.2/s", "3 requests, 0.3/s")
    assert not lego_checks.check_scaled_for_load("c", SCALED, now, True, load, idle).ok
    # no size asked for
    assert not lego_checks.check_scaled_for_load("c", {}, now, True, load, ASSESSED).ok


def test_after_the_undo_run_the_check_wants_the_size_before_the_load_and_the_load_gone():
    before = {"deployment/dashboard": 2, "deployment/celery-worker": 2, "statefulset/postgresql-replica": 1}
    now = {workload: (n, n) for workload, n in before.items()}
    assert lego_checks.check_back_to_size("c", before, now, True, False).ok
    assert not lego_checks.check_back_to_size("c", before, now, True, True).ok  # the load still runs
    assert not lego_checks.check_back_to_size("c", before, dict(now, **{"deployment/dashboard": (3, 3)}), True,
                                              False).ok
    assert not lego_checks.check_back_to_size("c", before, now, "2 Ready dashboard pods, want 3", False).ok
    assert not lego_checks.check_back_to_size("c", {}, {}, True, False).ok


def test_the_fallback_check_wants_it_off_and_the_chain_verified_with_the_fallback_s_record():
    said = ("Audit chain: 12 records, verified end to end (every hash, link and signature); signed in software "
            "fallback: 1 (ids 11; 2026-01-01T00:00:00Z .. 2026-01-01T00:00:00Z)")
    on = {"HSM_FALLBACK_ENABLED": "true"}
    off = {"HSM_FALLBACK_ENABLED": "false"}
    assert lego_checks.check_fallback_off("c", off, True, said, 11).ok
    assert not lego_checks.check_fallback_off("c", on, True, said, 11).ok
    assert not lego_checks.check_fallback_off("c", off, True, said, 12).ok
    assert not lego_checks.check_fallback_off("c", off, True, said.replace("verified end to end", "BROKEN"), 11).ok
    none_signed = said.replace("fallback: 1 (ids 11", "fallback: 0 (")
    assert not lego_checks.check_fallback_off("c", off, True, none_signed, None).ok


def test_the_morning_check_s_named_symptom_matches_its_red_ending_only_with_the_database_out_of_slots():
    red = ("[ERROR]: Task failed: Action failed: ['Morning health check of LEGO MCP found:', 'dashboard dashboard-abc: "
           "HTTP 503, expected 200', 'PostgreSQL 127.0.0.1:45581: no session as lego_mcp: could not connect as user "
           "lego_mcp: FATAL:  remaining connection slots are reserved for non-replication superuser connections. "
           "Next: the server is out of connection slots (the incident itself): connect as a superuser']")
    assert checks.check_named("named_lego_db_slots", red).ok
    assert not checks.check_named("named_lego_db_slots", red.split(", 'PostgreSQL")[0]).ok  # the dashboard only
    assert not checks.check_named("named_lego_db_slots", "Nothing wrong found").ok
