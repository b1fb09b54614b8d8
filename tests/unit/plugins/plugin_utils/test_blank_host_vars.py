"""A blank answer for a `*_hosts` variable (issue 22, item 5): the report says which one and that nothing ran."""

from ansible_collections.mcpops.runbooks.plugins.plugin_utils.incident_report import (
    IncidentReport, blank_host_vars, blank_hosts_reason)
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.secret_mask import SecretMasker

HOSTS = "{{ inc003_hosts | default('gateways') }}"


def test_a_blank_hosts_var_the_play_uses_is_named():
    for blank in ("", None, "  ", "\n"):
        assert blank_host_vars({"inc003_hosts": blank, "backup_id": ""}, [HOSTS]) == ["inc003_hosts"]


def test_a_given_pattern_an_unused_var_or_a_var_left_out_is_not_blank():
    assert blank_host_vars({"inc003_hosts": "gw1"}, [HOSTS]) == []
    assert blank_host_vars({}, [HOSTS]) == []
    assert blank_host_vars({"connector_hosts": ""}, [HOSTS]) == []  # not this play's variable
    assert blank_host_vars({"inc003_hosts": ""}, ["gateways", None]) == []  # a literal pattern uses no variable
    assert blank_host_vars({"inc003_hosts": []}, [HOSTS]) == []  # a list is not a blank answer; Ansible judges it


def test_every_blank_var_of_the_plays_is_named_in_order():
    plays = ["{{ connector_hosts | default('connector_backends') }}", "{{ scale_out_hosts | default('standby') }}"]
    assert blank_host_vars({"scale_out_hosts": None, "connector_hosts": ""}, plays) == ["connector_hosts",
                                                                                        "scale_out_hosts"]
    assert "connector_hosts, scale_out_hosts" in blank_hosts_reason(["connector_hosts", "scale_out_hosts"])


def test_a_refused_run_says_why_and_that_nothing_ran():
    report = IncidentReport(SecretMasker(), runbook={"id": "inc-003-restore", "extra_vars": {"inc003_hosts": {}}})
    report.given_extra_vars({"inc003_hosts": ""})
    report.refuse(blank_hosts_reason(["inc003_hosts"]))
    report.play_started("p1", "INC-003", ["lab-gateway"])  # null: Ansible still starts the play, on no host
    report.finished({})
    out = report.as_dict()
    assert out["status"] == "refused"
    assert out["refused"].startswith("Nothing ran: inc003_hosts was given blank")
    assert "not replaced by the default group" in out["refused"] or "rather than replaced" in out["refused"]
    assert out["summary"] == [{"host": "controller", "step": "Before anything: the hosts to run on",
                               "lines": [out["refused"]]}]
    assert out["not_reached"] == [] and out["timeline"] == [] and out["extra_vars"] == {"inc003_hosts": ""}


def test_a_run_that_was_not_refused_has_no_reason():
    report = IncidentReport(SecretMasker(), runbook={"id": "x"})
    report.finished({"h": {"ok": 1}})
    assert report.as_dict()["refused"] is None and report.status() == "ok"
