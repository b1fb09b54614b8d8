"""dispatch: one alert event from the rulebook to a run, a pending approval, a refusal or a resolution; the runbook
runner replaced by one that records its requests and leaves a report.json as a run would."""

import io
import json
import urllib.parse

import pytest

from mcpops.watch import dispatch
from mcpops.watch.approvals import ApprovalError


class FakeRunner:
    def __init__(self, runs):
        self.runs = runs
        self.requests = []

    def __call__(self, request, _progress):
        self.requests.append(request)
        run_dir = self.runs / ("run%d-%s" % (len(self.requests), request.runbook.id))
        run_dir.mkdir(parents=True)
        alert = request.extra_vars["mcpops_alert"]
        (run_dir / "report.json").write_text(json.dumps({
            "runbook": {"id": request.runbook.id}, "status": "ok", "check_mode": request.check,
            "alert": {"name": alert["labels"].get("alertname"), "fingerprint": alert.get("fingerprint")},
            "timeline": [], "hosts": {}}))
        return 0, run_dir


def event(fingerprint="aa", status="firing", host="gw1", **labels):
    labels = dict({"alertname": "GatewayDown", "runbook": "inc-001-gateway-down", "instance": "gw1:3000"}, **labels)
    alert = {"status": status, "labels": labels, "fingerprint": fingerprint, "endsAt": "2026-01-01T03:30:00Z"}
    return dict({"alert": alert}, **({"host": host} if host else {}))


@pytest.fixture
def setup(tmp_path):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"children": {"gateways": {"hosts": {"gw1": {}, "gw2": {}}}}}}))
    runner = FakeRunner(tmp_path / "runs")
    out, err = io.StringIO(), io.StringIO()
    dispatcher = dispatch.Dispatcher(tmp_path / "runs", inventory, run=runner, out=out, err=err, environ={})
    return dispatcher, runner, out, err


def decisions(dispatcher):
    return [json.loads(line) for line in (dispatcher.runs_root / ".alerts" / "decisions.log").read_text().splitlines()]


def test_a_read_only_runbook_runs_at_once_limited_to_its_host(setup):
    dispatcher, runner, out, _err = setup
    assert dispatcher.handle(event(runbook="triage")) == 0
    [request] = runner.requests
    assert request.runbook.id == "triage" and request.limit == "gw1" and not request.check and request.yes
    assert request.extra_vars["triage_hosts"] == "gw1" and decisions(dispatcher)[-1]["decision"] == "ran"
    assert '"decision": "ran"' in out.getvalue()


def test_a_changing_runbook_runs_in_check_mode_and_waits(setup):
    dispatcher, runner, out, _err = setup
    assert dispatcher.handle(event()) == 0
    [request] = runner.requests
    assert request.check and request.runbook.id == "inc-001-gateway-down"
    decision = decisions(dispatcher)[-1]
    assert decision["decision"] == "pending approval" and decision["next"].startswith("mcpops approve ")
    report = json.loads((runner.runs / "run1-inc-001-gateway-down" / "report.json").read_text())
    assert report["approval"]["status"] == "pending" and report["approval"]["id"] == decision["approval"]


def test_approve_runs_it_for_real_with_the_recorded_vars_as_the_approver(setup):
    dispatcher, runner, _out, _err = setup
    dispatcher.handle(event())
    approval = decisions(dispatcher)[-1]["approval"]
    status, run_dir = dispatcher.approve(approval, "bob", dispatch.QuietProgress())
    check, real = runner.requests
    assert status == 0 and not real.check and real.limit == "gw1" and real.extra_vars["mcpops_operator"] == "bob"
    assert real.extra_vars["mcpops_alert"] == check.extra_vars["mcpops_alert"]
    for run in (run_dir, runner.runs / "run1-inc-001-gateway-down"):
        recorded = json.loads((run / "report.json").read_text())["approval"]
        assert recorded["status"] == "approved" and recorded["decided_by"] == "bob" and recorded["run"] == str(run_dir)
    with pytest.raises(ApprovalError, match="already approved"):
        dispatcher.approve(approval, "bob", dispatch.QuietProgress())
    assert len(runner.requests) == 2


def test_deny_runs_nothing_and_says_so_in_the_check_run(setup):
    dispatcher, runner, _out, _err = setup
    dispatcher.handle(event())
    dispatcher.deny(decisions(dispatcher)[-1]["approval"], "alice")
    assert len(runner.requests) == 1
    report = json.loads((runner.runs / "run1-inc-001-gateway-down" / "report.json").read_text())
    assert report["approval"]["status"] == "denied" and report["approval"]["decided_by"] == "alice"


def test_auto_remediation_runs_for_real_at_once(setup):
    dispatcher, runner, _out, _err = setup
    dispatcher.handle(event(auto_remediate="true"))
    [request] = runner.requests
    assert not request.check and decisions(dispatcher)[-1]["path"] == "auto-remediate"


def test_a_duplicate_starts_nothing(setup):
    dispatcher, runner, _out, _err = setup
    dispatcher.handle(event("aa", runbook="triage"))
    assert dispatcher.handle(event("bb", runbook="triage")) == 0
    assert len(runner.requests) == 1 and decisions(dispatcher)[-1]["decision"] == "duplicate"


def test_a_run_that_fails_to_start_withdraws_its_claim_so_the_next_firing_runs(setup):
    dispatcher, runner, _out, err = setup
    real_run = dispatcher.run

    def crashing(request, progress):
        raise OSError("ansible-runner could not make its private data dir")

    dispatcher.run = crashing
    with pytest.raises(OSError):
        dispatcher.handle(event("aa", runbook="triage"))
    assert decisions(dispatcher)[-1]["decision"] == "failed to start" and "private data dir" in err.getvalue()
    dispatcher.run = real_run
    assert dispatcher.handle(event("aa", runbook="triage")) == 0
    assert len(runner.requests) == 1 and decisions(dispatcher)[-1]["decision"] == "ran"


def test_a_refusal_runs_nothing_exits_4_and_goes_to_stderr(setup):
    dispatcher, runner, out, err = setup
    assert dispatcher.handle(event(host="gw9")) == dispatch.EXIT_REFUSED
    assert runner.requests == [] and "not in the inventory" in err.getvalue() and out.getvalue() == ""
    no_inventory = dispatch.Dispatcher(dispatcher.runs_root, None, run=runner, out=out, err=err, environ={})
    assert no_inventory.handle(event()) == dispatch.EXIT_REFUSED and "MCPOPS_INVENTORY" in err.getvalue()


def test_a_resolved_alert_is_recorded_in_the_reports_of_its_runs(setup):
    dispatcher, runner, _out, _err = setup
    dispatcher.handle(event(runbook="triage"))
    assert dispatcher.handle(event(status="resolved", runbook="triage")) == 0
    report = json.loads((runner.runs / "run1-triage" / "report.json").read_text())
    assert report["alert"]["resolved_at"] == "2026-01-01T03:30:00Z" and len(runner.requests) == 1
    dispatcher.handle(event("zz", status="resolved"))
    assert decisions(dispatcher)[-1]["reason"] == "it started no run"


def test_the_event_arrives_percent_encoded_or_plain():
    body = json.dumps(event(summary="{{ lookup('pipe', 'id') }}"))
    assert dispatch.read_event(urllib.parse.quote(body)) == json.loads(body)
    assert "{" not in urllib.parse.quote(body)  # what Ansible's templating of the action's arguments sees
    assert dispatch.read_event(body + "\n") == json.loads(body)
    for bad in ("%7Bnot json", "[]", '{"no": "alert"}'):
        with pytest.raises(dispatch.EventError):
            dispatch.read_event(bad)


def test_what_the_rulebook_s_runner_set_is_dropped_and_host_key_checking_is_the_operator_s():
    environ = {"ANSIBLE_STDOUT_CALLBACK": "awx_display", "AWX_ISOLATED_DATA_DIR": "/tmp/eda1",
               "ANSIBLE_HOST_KEY_CHECKING": "False", "PATH": "/bin"}
    assert dispatch.without_outer_runner(dict(environ)) == {"PATH": "/bin"}
    environ["MCPOPS_HOST_KEY_CHECKING"] = "True"
    assert dispatch.without_outer_runner(dict(environ)) == {"PATH": "/bin", "ANSIBLE_HOST_KEY_CHECKING": "True"}


def test_the_approver_gives_the_inputs_the_alert_cannot_typed_by_the_runbook_s_metadata(setup):
    dispatcher, runner, _out, _err = setup
    dispatcher.handle(event(runbook="inc-005-rate-limit"))
    approval = decisions(dispatcher)[-1]["approval"]
    status, run_dir = dispatcher.approve(approval, "bob", dispatch.QuietProgress(), inputs=["rate_limit=2"])
    check, real = runner.requests
    assert status == 0 and real.extra_vars["rate_limit"] == 2 and "rate_limit" not in check.extra_vars
    assert real.extra_vars["inc005_hosts"] == "gw1" and real.limit == "gw1"
    assert decisions(dispatcher)[-1]["inputs"] == {"rate_limit": 2}
    for run in (run_dir, runner.runs / "run1-inc-005-rate-limit"):
        assert json.loads((run / "report.json").read_text())["approval"]["inputs"] == {"rate_limit": 2}


@pytest.mark.parametrize("inputs, reason", [
    (["inc005_hosts=all"], "inc005_hosts is not the approver's to set"),   # the alert's host stays
    (["mcpops_alert={}"], "mcpops_alert is not the approver's to set"),
    (["mcpops_operator=root"], "mcpops_operator is not the approver's to set"),  # --by names who acts
    (["rate_limit=many"], "expected a whole number"),
    (["playbook=/etc/passwd"], "has no extra var 'playbook'"),
    (["rate_limit"], "expected name=value"),
])
def test_bad_approver_inputs_are_refused_before_the_approval_is_decided(setup, inputs, reason):
    dispatcher, runner, _out, _err = setup
    dispatcher.handle(event(runbook="inc-005-rate-limit"))
    approval = decisions(dispatcher)[-1]["approval"]
    with pytest.raises(dispatch.RunbookError, match=reason):
        dispatcher.approve(approval, "bob", dispatch.QuietProgress(), inputs=inputs)
    assert len(runner.requests) == 1 and dispatcher.approvals.get(approval)["status"] == "pending"
    dispatcher.approve(approval, "bob", dispatch.QuietProgress(), inputs=["rate_limit=3"])  # still decidable
    assert runner.requests[-1].extra_vars["rate_limit"] == 3


def test_a_secret_input_is_recorded_masked(setup):
    dispatcher, runner, _out, _err = setup
    dispatcher.handle(event(runbook="inc-006-secret-leak"))
    approval = decisions(dispatcher)[-1]["approval"]
    canary = "canary-ip-salt-5f0c1e"
    dispatcher.approve(approval, "bob", dispatch.QuietProgress(), inputs=["org_id=org_acme", "ip_salt=" + canary])
    assert runner.requests[-1].extra_vars["ip_salt"] == canary
    assert dispatcher.approvals.get(approval)["inputs"] == {"ip_salt": dispatch.SECRET_SHOWN, "org_id": "org_acme"}
    assert canary not in (dispatcher.runs_root / ".alerts" / "decisions.log").read_text()
    assert not [p for p in dispatcher.runs_root.rglob("*.json") if canary in p.read_text()]


def test_a_malformed_event_is_refused_and_logged_without_its_content(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MCPOPS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv(dispatch.INVENTORY_ENV, str(tmp_path / "inventory.json"))
    assert dispatch.main(io.StringIO('{"alert": "not a map", "canary": "c4n4ry"}'), environ={}) \
        == dispatch.EXIT_REFUSED
    assert dispatch.main(io.StringIO("%7Bnot json c4n4ry"), environ={}) == dispatch.EXIT_REFUSED
    logged = [json.loads(line) for line in (tmp_path / "runs" / ".alerts" / "decisions.log").read_text().splitlines()]
    assert [d["decision"] for d in logged] == ["refused", "refused"]
    assert "has no alert" in logged[0]["reason"] and "not JSON" in logged[1]["reason"]
    assert "c4n4ry" not in json.dumps(logged) and "refused" in capsys.readouterr().err
    assert not [p for p in (tmp_path / "runs").iterdir() if p.name != ".alerts"]  # nothing ran
