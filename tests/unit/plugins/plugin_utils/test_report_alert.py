"""The alert that started a run (EDA's mcpops_alert): the ticket's fields, as data, masked like the rest."""

from ansible_collections.mcpops.runbooks.plugins.plugin_utils.incident_report import IncidentReport
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.report_alert import alert_entry
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.secret_mask import SecretMasker

ALERT = {
    "status": "firing",
    "labels": {"alertname": "GatewayDown", "instance": "gw1:3000", "severity": "critical", "runbook": "health-check"},
    "annotations": {"summary": "the gateway's /healthz fails\n| injected | row |"},
    "startsAt": "2026-12-05T10:00:00Z",
    "fingerprint": "abc123",
}


def test_an_alert_gives_the_fields_a_ticket_needs_on_one_line():
    entry = alert_entry(ALERT)
    assert entry["name"] == "GatewayDown" and entry["status"] == "firing" and entry["instance"] == "gw1:3000"
    assert entry["severity"] == "critical" and entry["runbook"] == "health-check" and entry["fingerprint"] == "abc123"
    assert "\n" not in entry["summary"] and entry["summary"].startswith("the gateway's /healthz fails")
    assert entry["labels"]["alertname"] == "GatewayDown"


def test_a_long_value_is_cut_and_nested_values_are_dropped():
    entry = alert_entry({"labels": {"alertname": "x" * 500, "instance": {"nested": 1}}})
    assert len(entry["name"]) == 200 and entry["name"].endswith("…")
    assert entry["instance"] is None


def test_what_is_not_an_alert_gives_none():
    for value in (None, "", "GatewayDown", [], {"status": "firing"}, {"labels": "alertname=x"}):
        assert alert_entry(value) is None


def test_the_report_records_the_alert_masked_even_when_the_runbook_does_not_declare_it():
    masker = SecretMasker()
    masker.add("s3cr3t-canary-value")
    report = IncidentReport(masker, runbook={"id": "health-check", "extra_vars": {}}, playbook="p.yml",
                            check_mode=False)
    alert = dict(ALERT, annotations={"summary": "token s3cr3t-canary-value leaked"})
    report.given_extra_vars({"mcpops_alert": alert})
    as_json = report.as_dict()
    assert as_json["alert"]["name"] == "GatewayDown"
    assert "s3cr3t-canary-value" not in str(as_json)
    assert "mcpops_alert" not in as_json["extra_vars"]


def test_a_run_without_an_alert_records_none():
    report = IncidentReport(SecretMasker(), runbook={"id": "health-check"}, playbook="p.yml", check_mode=False)
    report.given_extra_vars({"health_hosts": "gw1"})
    assert report.as_dict()["alert"] is None
