"""The LEGO MCP drills on the Kubernetes lab (`mcpops drill <lego runbook> --lab kubernetes`): the table's LEGO rows
name real faults and symptoms, the CLI picks the lab and its service, and the pure checks of mcpops.drill.lego_checks
pass what a repaired lab shows and fail what a broken one shows. The drills themselves run in
tests/integration/lego/test_lego_drills.py."""

import argparse

import pytest

from mcpops.drill import checks, command, lego_checks, scenarios
from mcpops.drill.kube_drill_lab import KubeDrillLab
from mcpops.drill.scenarios import KUBERNETES, LEGO, LOCAL, DrillError, choose
from mcpops.lab.lego.faults import FAULTS as LEGO_FAULTS

LEGO_RUNBOOKS = ("lego-service-outage", "lego-hsm-unavailable", "lego-full-recovery", "lego-security-incident",
                 "lego-morning-health-check")


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
    # the two LEGO runbooks without a drill say why, and no longer that the lab is missing
    for runbook_id in ("lego-scale-high-load", "lego-shift-handover"):
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
    with pytest.raises(DrillError, match="nothing breaks"):
        choose("lego-scale-high-load", None, KUBERNETES, LEGO)


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
