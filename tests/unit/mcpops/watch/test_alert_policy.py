"""alert_policy: what a firing alert may start, against the collection's real runbook list."""

import pytest

from mcpops.run.runbooks import discover
from mcpops.watch import alert_policy as policy

RUNBOOKS = {r.id: r for r in discover()}
INVENTORY = {"gw1", "gw2"}


def firing(fingerprint="0123abcd0123abcd", **labels):
    labels = dict({"alertname": "GatewayDown", "runbook": "inc-001-gateway-down", "instance": "gw1:3000"}, **labels)
    return {"status": "firing", "labels": {k: v for k, v in labels.items() if v is not None},
            "fingerprint": fingerprint}


def test_a_read_only_runbook_starts_at_once_on_its_host():
    plan = policy.plan(firing(runbook="health-check"), "gw1", RUNBOOKS, INVENTORY)
    assert plan.path == policy.READ_ONLY and plan.runbook.id == "health-check" and plan.host == "gw1"
    assert plan.extra_vars["health_hosts"] == "gw1" and plan.extra_vars["mcpops_alert"]["fingerprint"]


def test_a_runbook_with_plays_on_the_controller_runs_them_beside_the_alert_s_host():
    # CCTelegram P1: its first play checks its inputs on the controller, its summary, suspects and containment at
    # nginx are the controller's too; a --limit of the host alone would skip every one of them
    p1 = policy.plan(firing(runbook="cctelegram-p1-response"), "gw1", RUNBOOKS, INVENTORY)
    assert p1.limit == "gw1,localhost" and "p1_hosts" not in p1.extra_vars  # a group (groups[p1_hosts]), not a host
    assert RUNBOOKS["cctelegram-p1-response"].play_hosts[:2] == ("localhost", "{{ p1_hosts | default('gateways') }}")
    # a runbook of the inventory's hosts only keeps the host alone
    assert policy.plan(firing(runbook="triage"), "gw1", RUNBOOKS, INVENTORY).limit == "gw1"
    assert policy.plan(firing(), "gw1", RUNBOOKS, INVENTORY).limit == "gw1"
    # an inventory that lists localhost itself may have it in the runbook's group: the host alone, never wider
    assert policy.plan(firing(runbook="cctelegram-p1-response"), "gw1", RUNBOOKS,
                       set(INVENTORY) | {"localhost"}).limit == "gw1"


def test_a_changing_runbook_waits_for_approval_unless_auto_remediation_is_asked_and_allowed():
    assert policy.plan(firing(), "gw1", RUNBOOKS, INVENTORY).path == policy.APPROVAL
    auto = policy.plan(firing(auto_remediate="true"), "gw1", RUNBOOKS, INVENTORY)
    assert auto.path == policy.AUTO and auto.extra_vars["inc001_hosts"] == "gw1"
    assert policy.plan(firing(auto_remediate="false"), "gw1", RUNBOOKS, INVENTORY).path == policy.APPROVAL


def test_auto_remediation_is_refused_by_a_runbook_whose_metadata_does_not_allow_it():
    assert not RUNBOOKS["inc-003-restore"].auto_remediate and RUNBOOKS["inc-001-gateway-down"].auto_remediate
    plan = policy.plan(firing(runbook="inc-003-restore", auto_remediate="true"), "gw1", RUNBOOKS, INVENTORY)
    assert plan.path == policy.APPROVAL and "does not allow it" in plan.note


def test_only_inc_001_and_the_scheduled_backup_allow_auto_remediation():
    # INC-001 restarts and never touches the data; backup-scheduled only adds a backup and keeps the newest valid one
    assert sorted(r.id for r in RUNBOOKS.values() if r.auto_remediate) == ["backup-scheduled", "inc-001-gateway-down"]
    assert all(r.changes for r in RUNBOOKS.values() if r.auto_remediate)


@pytest.mark.parametrize("alert, host, reason", [
    (firing(runbook="health-check; rm -rf /"), "gw1", "not one of the collection's runbooks"),
    (firing(runbook="../playbooks/inc-003-restore"), "gw1", "not one of the collection's runbooks"),
    (firing(runbook=None), "gw1", "no runbook label"),
    (firing(auto_remediate="yes"), "gw1", "the label is \"true\" or \"false\""),
    (firing(), None, "names no inventory host"),
    (firing(), "gw9", "host 'gw9' is not in the inventory"),
    (dict(firing(), status="resolved"), "gw1", "not a firing"),
    ({"status": "firing", "labels": "runbook=triage"}, "gw1", "not a firing"),
])
def test_anything_else_is_refused_naming_why(alert, host, reason):
    with pytest.raises(policy.Refused, match=None) as refused:
        policy.plan(alert, host, RUNBOOKS, INVENTORY)
    assert reason in str(refused.value)


def test_a_refusal_quotes_a_label_escaped_and_short():
    with pytest.raises(policy.Refused) as refused:
        policy.plan(firing(runbook="x\n" * 100), "gw1", RUNBOOKS, INVENTORY)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 160


def test_the_fingerprint_is_alertmanager_s_when_plain_else_one_made_from_the_labels():
    assert policy.fingerprint_of(firing("c0ffee")) == "c0ffee"
    made = policy.fingerprint_of(firing("../../etc/passwd"))
    assert made == policy.fingerprint_of(firing("other/odd")) and len(made) == 16 and made.isalnum()
    assert made != policy.fingerprint_of(firing("../x", instance="gw2:3000"))
