"""The incident report without Ansible: secret masking, the report builder, the Markdown."""

import random
import secrets
import string

import pytest

from ansible_collections.mcpops.runbooks.plugins.plugin_utils.incident_report import IncidentReport, evidence_of
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.report_markdown import render, steps_in_order
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.secret_mask import MASK, SecretMasker, looks_like_token

RUNBOOK = {
    "id": "inc-003-restore", "incident": "INC-003", "title": "Data corruption / bad migration",
    "purpose": "Restore", "changes": True, "manual_steps": ["Notify security"],
    "extra_vars": {"backup_id": {"description": "x"}, "webhook": {"description": "y", "secret": True}},
}


@pytest.mark.parametrize("text", [
    "20261123T020000Z-pre-restore-0f9e8d", "20261123T020000Z-a1b2c3", "x" * 64,
    "/var/lib/onec-mcp-gateway/backups/20261123T020000Z-a1b2c3/manifest.json", "gateway_admin_token_file",
    "20261124T160000Z-inc-003-restore", "inc003_max_schema_version", "mcpops_runbook_last_success_timestamp",
])
def test_what_is_not_a_token_is_kept(text):
    assert SecretMasker().text(text) == text


# Fixed examples: the heuristic misses a small share of random strings (below), so random ones made a flaky test.
@pytest.mark.parametrize("secret", [
    "Xq3vN8r-Tz_k2LmP9wYb4Hc7Jd1Fs6Ga0Ue5Ri8O", "mcp_ab12" + "kR7pW2xQ9mZ4vB8nL3tY6cH1jF5dS0gA-uE_oI7K",
    "9f2c4e6a8b0d1f3e5a7c9b2d4f6e8a0c1b3d5f7e", "tK4mX8qZ1vR7nB3wL9yP2cH6jF0dS5gA",
])
def test_token_looking_strings_are_masked_anywhere_in_text(secret):
    assert looks_like_token(secret)
    out = SecretMasker().text("the token %s was used" % secret)
    assert secret not in out and MASK in out


@pytest.mark.parametrize("name", ["OnecGatewayRateLimited", "OnecGatewayStorageNotReady", "LegoMcpHsmUnavailable",
                                  "dashboard-5c9f7b8d6d-x2kqz", "celery-worker-7d4b9c8f5-m6n2p"])
def test_an_alert_name_or_a_pod_name_is_an_identifier_not_a_secret(name):
    """The report names the alert that started a run and the pods a runbook acted on: they must stay readable."""
    assert not looks_like_token(name)
    assert name in SecretMasker().text("alert %s fired" % name)


@pytest.mark.parametrize("length, most_missed", [(20, 0.006), (32, 0.001), (43, 0.0)])
def test_how_many_random_secrets_the_heuristic_misses(length, most_missed):
    """The share of random url-safe strings (seeded, so the figure is fixed) that looks_like_token lets through:
    about 0.4 % at 20 characters, none at 43 (secrets.token_urlsafe()'s default). Known secret values and
    secret-named keys are masked whatever their shape; this heuristic is the net under them."""
    alphabet = string.ascii_letters + string.digits + "-_"
    rng = random.Random(20261124)
    samples = ["".join(rng.choice(alphabet) for _ in range(length)) for _ in range(5000)]
    assert sum(not looks_like_token(s) for s in samples) / len(samples) <= most_missed


def test_known_values_secret_keys_and_bearer_are_masked():
    masker = SecretMasker(["hunter22"])
    out = masker.value({
        "msg": "login with hunter22 failed; Authorization: Bearer abc.def",
        "api_token": "short",
        "gateway_admin_token": "x1",
        "tokenPrefix": "mcp_ab12",
        "token": {"id": "tok_1", "prefix": "mcp_ab12"},
        "secret_dest": "/root/x.token",
        "odata": {"ERP_PASSWORD": "p"},
    })
    assert out["msg"] == "login with %s failed; Authorization: Bearer %s" % (MASK, MASK)
    assert out["api_token"] == out["gateway_admin_token"] == out["odata"]["ERP_PASSWORD"] == MASK
    assert out["tokenPrefix"] == "mcp_ab12" and out["token"] == {"id": "tok_1", "prefix": "mcp_ab12"}
    assert out["secret_dest"] == "/root/x.token"


def run_report(canary):
    report = IncidentReport(SecretMasker(), runbook=RUNBOOK, playbook="/p/inc-003-restore.yml")
    report.given_extra_vars({"backup_id": "latest_valid", "webhook": canary, "not_declared": 1})
    report.task_started("Step 1: Stop the gateway", in_role=False)
    report.host_started("gw1", "t1", "Step 1: Stop the gateway", False)
    report.host_result("gw1", "t1", "Step 1: Stop the gateway", False, "ansible.builtin.include_role", "ok", {})
    report.task_started("gateway_service : Stop", in_role=True)
    report.host_result("gw1", "t2", "gateway_service : Stop", True, "community.general.supervisorctl", "ok", {"changed": True})
    report.task_started("Step 3: Restore", in_role=False)
    report.host_result("gw1", "t3", "Step 3: Restore", False, "mcpops.runbooks.gateway_backup", "ok",
                       {"changed": True, "backup_id": "20261123T020000Z-a1b2c3",
                        "safety_backup_id": "20261124T031500Z-pre-restore-0f9e8d", "schema_version": 3,
                        "invocation": {"module_args": {"api_token": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}}})
    report.host_result("gw2", "t3", "Step 3: Restore", False, "mcpops.runbooks.gateway_backup", "failed",
                       {"msg": "restore refused: posted %s to the webhook" % canary})
    report.task_started("Rotate", in_role=False)
    report.host_result("gw1", "t4", "Rotate", False, "ansible.builtin.copy", "ok", {"censored": "hidden", "_ansible_no_log": True})
    report.task_started("Step 5: Summary", in_role=False)
    report.host_result("gw1", "t5", "Step 5: Summary", False, "ansible.builtin.debug", "ok", {"msg": ["Restored backup X"]})
    report.finished({"gw1": {"ok": 4, "changed": 2, "failures": 0, "unreachable": 0},
                     "gw2": {"ok": 0, "changed": 0, "failures": 1, "unreachable": 0}})
    return report.as_dict()


def test_report_timeline_evidence_summary_and_masking():
    canary = "https://hooks.example.invalid/T0/" + secrets.token_hex(6)
    out = run_report(canary)
    assert out["status"] == "failed"
    assert out["extra_vars"] == {"backup_id": "latest_valid", "webhook": MASK}
    steps = [(e["host"], e["step"], e["status"]) for e in out["timeline"]]
    assert steps[:3] == [("gw1", "Step 1: Stop the gateway", "ok"), ("gw1", "Step 1: Stop the gateway", "changed"),
                         ("gw1", "Step 3: Restore", "changed")]
    assert ("gw2", "Step 3: Restore", "failed") in steps
    [hidden] = [e for e in out["timeline"] if e["step"] == "Rotate"]
    assert hidden["note"] == "output hidden (no_log)"
    [evidence] = out["evidence"]
    assert evidence["facts"]["backup_id"] == "20261123T020000Z-a1b2c3"
    assert evidence["facts"]["safety_backup_id"] == "20261124T031500Z-pre-restore-0f9e8d"
    assert out["summary"] == [{"host": "gw1", "step": "Step 5: Summary", "lines": ["Restored backup X"]}]
    assert canary not in repr(out)
    markdown = render(out)
    assert canary not in markdown
    assert "| 20261124T031500Z-pre-restore-0f9e8d" not in markdown  # evidence is a list, not a table row
    assert "safety_backup_id: `20261124T031500Z-pre-restore-0f9e8d`" in markdown
    assert "### Incident Post-Mortem: INC-003" in markdown
    assert "- [ ] Notify security - [Owner] - [Due Date]" in markdown
    assert "- gw1: Restored backup X" in markdown


def test_steps_in_order_take_the_worst_status():
    out = run_report("x" * 8)
    steps = steps_in_order(out["timeline"])
    assert [s["step"] for s in steps] == ["Step 1: Stop the gateway", "Step 3: Restore", "Rotate", "Step 5: Summary"]
    assert steps[1]["status"] == "failed" and steps[1]["hosts"] == ["gw1", "gw2"]


def test_evidence_of_other_modules():
    assert evidence_of("ansible.builtin.uri", {"status": 200}) is None
    assert evidence_of("mcpops.runbooks.future_module", {"days_left": 12, "big": {"a": 1}, "changed": False}) == {"days_left": 12}
    revoked = evidence_of("mcpops.runbooks.token_revoke", {"revoked": [{"id": "tok_1", "prefix": "mcp_ab12", "x": 1}],
                                                           "already_revoked": []})
    assert revoked == {"revoked": [{"id": "tok_1", "prefix": "mcp_ab12"}], "already_revoked": []}


def test_evidence_of_certificates_and_connections():
    """cert_check: each certificate with its days left (the module's rows, trimmed); pg_connections_info: the
    counts against max_connections as the module returns them."""
    certs = evidence_of("mcpops.runbooks.cert_check", {
        "targets": [{"target": "gw:443", "status": "warn", "days_left": 20, "not_after": "2026-12-14T00:00:00Z",
                     "reason": None, "subject": "CN=gw", "sans": ["DNS:gw"]}],
        "files": [{"path": "/etc/tls/up.pem", "status": "ok", "days_left": 80, "not_after": "x", "reason": None}],
        "summary": {"ok": 1, "warn": 1, "total": 2}, "failed_checks": [], "checked_at": "2026-11-24T00:00:00Z"})
    assert certs["certificates"] == [
        {"target": "gw:443", "status": "warn", "days_left": 20, "not_after": "2026-12-14T00:00:00Z", "reason": None},
        {"path": "/etc/tls/up.pem", "status": "ok", "days_left": 80, "not_after": "x", "reason": None}]
    assert certs["summary"] == {"ok": 1, "warn": 1, "total": 2}
    pg = evidence_of("mcpops.runbooks.pg_connections_info", {"total": 6, "max_connections": 200, "percent_used": 3.0,
                                                              "available": 191, "by_state": [{"name": "idle", "count": 5}],
                                                              "by_user": [{"name": "app", "count": 5}]})
    assert pg == {"total": 6, "max_connections": 200, "percent_used": 3.0, "available": 191,
                  "by_state": [{"name": "idle", "count": 5}]}


def test_hosts_a_stopped_serial_play_never_reached_are_listed():
    """A serial play starts again for each batch (same play id); hosts of the batches that never ran are named."""
    report = IncidentReport(SecretMasker(), runbook=RUNBOOK)
    hosts = ["gw-1", "gw-2", "gw-3", "gw-4"]
    for batch in (["gw-1"], ["gw-2"]):
        report.play_started("play-1", "Rolling restart", hosts)
        report.task_started("Step 1: Check the host", False)
        for host in batch:
            report.host_started(host, "t1", "Step 1: Check the host", False)
            outcome = "unreachable" if host == "gw-2" else "ok"
            report.host_result(host, "t1", "Step 1: Check the host", False, "ansible.builtin.command", outcome,
                               {"msg": "ssh: connect to host gw-2 port 22: Connection refused"})
    report.finished({"gw-1": {"ok": 1}, "gw-2": {"unreachable": 1}})
    data = report.as_dict()
    assert data["not_reached"] == [{"play": "Rolling restart", "hosts": ["gw-3", "gw-4"]}]
    assert data["status"] == "unreachable"
    assert "**Not reached**: gw-3, gw-4. The play \"Rolling restart\" stopped before" in render(data)


def test_a_play_that_reached_every_host_lists_none():
    report = IncidentReport(SecretMasker(), runbook=RUNBOOK)
    for play, hosts in (("Restore", ["gw-1", "gw-2"]), ("Verify", ["gw-1"])):
        report.play_started(play, play, hosts)
        for host in hosts:
            report.host_result(host, play, "Step", False, "ansible.builtin.debug", "skipped", {})
    report.finished({"gw-1": {"ok": 1}, "gw-2": {"skipped": 1}})
    assert report.as_dict()["not_reached"] == []
    assert "Not reached" not in render(report.as_dict())


# -- the post-incident validation (gateway_health, validation post_incident) in the report --------------------------

VALIDATION_RESULT = {
    "changed": False, "healthy": False, "attempts": 1,
    "problems": ["tools/list lists write tools for the production-bound token: import_documents (declares readOnlyHint "
                 "false, destructiveHint true)"],
    "mcp": {"validation": "post_incident", "tools": ["import_documents", "list_profiles"],
            "write_tools_listed": ["import_documents"], "judged_by_name": ["search"],
            "write_tools": [{"name": "import_documents", "reason": "declares readOnlyHint false, destructiveHint true",
                             "destructive": True, "judged_by": "annotations"}],
            "profile_health": {"erp-prod": {"healthy": True, "result": {}}},
            "active_profile": {"name": "erp-prod", "environment": "production", "source": "token"},
            "connection_health": {"erp-prod": {"healthy": True, "status": 200, "latency_ms": 12},
                                  "hr-prod": {"healthy": False, "error": "timed out"}}},
}


def test_the_validation_lands_in_evidence_and_in_its_own_section():
    report = IncidentReport(SecretMasker(), runbook=RUNBOOK, playbook="inc-003-restore.yml")
    report.task_started("Post-incident validation", in_role=False)
    report.host_result("gw1", "t1", "Post-incident validation: the checks", True, "mcpops.runbooks.gateway_health", "ok",
                       VALIDATION_RESULT)
    report.host_result("gw1", "t2", "Step 4: Verify", False, "mcpops.runbooks.gateway_health", "ok",
                       {"healthy": True, "problems": [], "attempts": 1, "mcp": None})
    report.finished({"gw1": {"ok": 2}})
    out = report.as_dict()
    assert out["validation"] == [{
        "host": "gw1", "step": "Post-incident validation", "passed": False, "active_profile": "erp-prod (production)",
        "write_tools_on_production": ["import_documents: declares readOnlyHint false, destructiveHint true"],
        "tools_judged_by_name": ["search"], "profile_health": {"erp-prod": True},
        "connection_health": {"erp-prod": "healthy (HTTP 200, 12 ms)", "hr-prod": "unhealthy: timed out"},
        "problems": VALIDATION_RESULT["problems"],
    }]
    facts = out["evidence"][0]["facts"]
    assert facts["mcp_validation"] == "post_incident" and facts["mcp_active_profile"] == "erp-prod (production)"
    assert facts["mcp_write_tools"] == ["import_documents: declares readOnlyHint false, destructiveHint true"]
    assert "mcp_write_tools: `[\"import_documents: declares readOnlyHint false, destructiveHint true\"]`" in render(out)
    # a gateway_health without the post-incident set is evidence only, as before
    assert len(out["evidence"]) == 2 and "mcp_validation" not in out["evidence"][1]["facts"]


def test_evidence_of_a_post_recovery_health_keeps_its_old_keys():
    facts = evidence_of("mcpops.runbooks.gateway_health", {"healthy": True, "problems": [], "attempts": 1, "mcp": {
        "tools": ["list_profiles"], "write_tools_listed": [], "profile_health": {"p": {"healthy": True}}}})
    assert facts == {"healthy": True, "problems": [], "attempts": 1, "mcp_write_tools_listed": [],
                     "mcp_profiles_healthy": {"p": True}}
