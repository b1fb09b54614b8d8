"""alert_ledger: the throttle per runbook and host, and the runs a fingerprint started."""

import datetime
import json

from mcpops.watch.alert_ledger import Ledger, window_seconds

T0 = datetime.datetime(2026, 1, 1, 3, 0, tzinfo=datetime.timezone.utc)


def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def test_one_run_per_runbook_and_host_within_the_window(tmp_path):
    ledger = Ledger(tmp_path)
    assert ledger.claim("aa", "inc-001-gateway-down", "gw1", 600, now=at(0)) is None
    assert ledger.claim("aa", "inc-001-gateway-down", "gw1", 600, now=at(30))["fingerprint"] == "aa"  # a repeat
    assert ledger.claim("bb", "inc-001-gateway-down", "gw1", 600, now=at(60))["fingerprint"] == "aa"  # another alert
    assert ledger.claim("cc", "inc-001-gateway-down", "gw2", 600, now=at(60)) is None                 # another host
    assert ledger.claim("dd", "triage", "gw1", 600, now=at(60)) is None                               # another runbook
    assert ledger.claim("aa", "inc-001-gateway-down", "gw1", 600, now=at(601)) is None                # after the window


def test_the_runs_of_an_alert_and_its_resolution(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.claim("aa", "triage", "gw1", 600, now=at(0))
    ledger.add_run("aa", tmp_path / "run1")
    assert ledger.resolve("aa", "2026-01-01T03:30:00Z")["runs"] == [str(tmp_path / "run1")]
    # a run that ends after its alert resolved learns it from the record
    assert ledger.add_run("aa", tmp_path / "run2")["resolved_at"] == "2026-01-01T03:30:00Z"
    assert ledger.resolve("zz", "2026-01-01T03:30:00Z") is None  # it started nothing
    assert ledger.add_run("zz", tmp_path / "run3") is None


def test_the_decisions_log_is_one_json_line_per_decision_and_private(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.log({"decision": "refused", "reason": "no"}, now=at(0))
    ledger.log({"decision": "ran"}, now=at(1))
    lines = (tmp_path / ".alerts" / "decisions.log").read_text().splitlines()
    assert [json.loads(line)["decision"] for line in lines] == ["refused", "ran"]
    assert (tmp_path / ".alerts").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / ".alerts" / "decisions.log").stat().st_mode & 0o777 == 0o600


def test_the_window_comes_from_the_environment_when_it_is_a_number():
    assert window_seconds({}) == 600
    assert window_seconds({"MCPOPS_ALERT_WINDOW_SECONDS": "60"}) == 60
    assert window_seconds({"MCPOPS_ALERT_WINDOW_SECONDS": "-1"}) == 600


def test_release_withdraws_a_claim_with_no_run_and_keeps_one_that_ran(tmp_path):
    ledger = Ledger(tmp_path)
    assert ledger.claim("aa", "triage", "gw1", 600) is None
    assert ledger.release("aa") and ledger.record("aa") is None
    assert ledger.claim("bb", "triage", "gw1", 600) is None  # the runbook may start again at once
    ledger.add_run("bb", tmp_path / "run1")
    assert not ledger.release("bb") and ledger.record("bb")["runs"] == [str(tmp_path / "run1")]
    assert not ledger.release("never-claimed")
