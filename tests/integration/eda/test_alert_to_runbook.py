"""From the webhook to the runbook (issue 21) against the local lab: `mcpops watch` runs the real ansible-rulebook
(its Drools engine on the JVM) with the collection's rulebook and source; Alertmanager's webhook is POSTed on
loopback; each alert's dispatch (`mcpops alert`) runs the runbook through the same code as `mcpops run`.

The tests run in this file's order on one watcher and one lab (each step of an incident follows the one before):
bad input and duplicates, then INC-001 on a stopped gateway: check run and approval (denied, then approved), and
the alerts resolving. The lab's inventory names its one gateway twice (lab-gateway, lab-gateway-2) so that each
INC-001 alert is a runbook and host of its own for the throttle. Auto-remediation, from a real fault through
Prometheus and Alertmanager, is tests/integration/alerting/test_alert_drill.py's (`mcpops drill --via-alert`).

The commands are the README's:

    mcpops watch -i inventories/lab --port <port>
    curl -X POST -H 'Content-Type: application/json' --data @alert.json http://127.0.0.1:<port>/alerts
    mcpops approvals; mcpops approve <id>; mcpops deny <id>
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from local_lab_helpers import make_lab
from loopback import free_port
from mcpops.lab.local import faults

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
DEADLINE_SECONDS = 120


def alert(fingerprint, status="firing", **labels):
    labels = dict({"alertname": "GatewayHealthCheckFailing", "runbook": "health-check", "severity": "critical",
                   "instance": "lab-gateway:3000"}, **labels)
    return {"status": status, "labels": {k: v for k, v in labels.items() if v is not None},
            "annotations": {"summary": "the gateway's /readyz failed 3 scrapes in a row"},
            "startsAt": "2026-01-01T03:00:00Z",
            "endsAt": "2026-01-01T03:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph", "fingerprint": fingerprint}


def notification(*alerts):
    """Alertmanager's webhook body (version 4): one group of alerts."""
    return {"version": "4", "groupKey": "{}:{alertname=\"GatewayHealthCheckFailing\"}", "truncatedAlerts": 0,
            "status": "firing", "receiver": "mcpops-runbooks", "groupLabels": {"alertname": "GatewayHealthCheckFailing"},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093", "alerts": list(alerts)}


def gateway_down(fingerprint, instance, **labels):
    return alert(fingerprint, alertname="GatewayDown", runbook="inc-001-gateway-down", instance=instance, **labels)


def lab_inventory_with_more_names(path):
    """inventories/lab, its gateway also named lab-gateway-2."""
    shutil.copytree(REPO / "inventories" / "lab", path)
    hosts = yaml.safe_load((path / "hosts.yml").read_text())
    gateways = hosts["all"]["children"]["gateways"]["hosts"]
    gateways["lab-gateway-2"] = dict(gateways["lab-gateway"])
    (path / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return path


class Watcher:
    def __init__(self, tmp):
        self.lab = make_lab(tmp / "lab")
        self.inventory = lab_inventory_with_more_names(tmp / "inventory")
        self.runs = tmp / "runs"
        self.log = tmp / "watch.log"
        self.port = free_port()
        self.env = dict(os.environ, PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), ANSIBLE_NOCOLOR="1",
                        no_proxy="127.0.0.1,localhost", MCPOPS_LAB_DIR=str(self.lab.state_dir),
                        MCPOPS_RUNS_DIR=str(self.runs))
        self.env.pop("ANSIBLE_CONFIG", None)  # mcpops watch sets the checkout's
        with open(self.log, "w") as out:
            self.process = subprocess.Popen([str(BIN / "mcpops"), "watch", "-i", str(self.inventory),
                                             "--port", str(self.port)],
                                            cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def post(self, body, deadline=None):
        """POST body as JSON, retried until the source listens (the rulebook starts a JVM first)."""
        deadline = deadline or time.monotonic() + DEADLINE_SECONDS
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        while True:
            request = urllib.request.Request("http://127.0.0.1:%d/alerts" % self.port, data=data,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    return answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())
            except (ConnectionError, urllib.error.URLError):
                assert time.monotonic() < deadline and self.process.poll() is None, self.tail()
                time.sleep(0.2)

    def decisions(self):
        path = self.runs / ".alerts" / "decisions.log"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def wait_for_decision(self, **wanted):
        """The first decision with these fields (polled until the deadline)."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            for decision in self.decisions():
                if all(decision.get(k) == v for k, v in wanted.items()):
                    return decision
            assert self.process.poll() is None, self.tail()
            time.sleep(0.3)
        raise AssertionError("no decision %s after %ss:\n%s" % (wanted, DEADLINE_SECONDS, self.tail()))

    def mcpops(self, *args):
        return subprocess.run([str(BIN / "mcpops"), *args], cwd=REPO, env=self.env, capture_output=True, text=True,
                              timeout=DEADLINE_SECONDS)

    def tail(self):
        return self.log.read_text()[-4000:] + "\ndecisions: %s" % self.decisions()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.lab.down()


def report(run_dir):
    run_dir = Path(run_dir)
    return json.loads((run_dir / "report.json").read_text()), (run_dir / "report.md").read_text()


def runs_of(runs, runbook):
    return sorted(path for path in runs.glob("*-%s*" % runbook) if path.is_dir())


@pytest.fixture(scope="module")
def watcher(tmp_path_factory):
    watcher = Watcher(tmp_path_factory.mktemp("eda"))
    try:
        yield watcher
    finally:
        watcher.stop()


def test_bad_input_is_refused_and_duplicates_start_one_run(watcher):
    assert watcher.post(b"{not json")[0] == 400
    status, answer = watcher.post(notification(
        alert("bad1", runbook="health-check; rm -rf /"),                 # not one of the collection's runbooks
        alert("bad2", runbook=None),                                     # no runbook label
        alert("bad3", runbook="triage", auto_remediate="{{ lookup('pipe', 'id') }}"),  # a label that is not true/false
        *[alert("hc1")] * 5,                                             # the same alert five times
        alert("hc2", severity="warning"),                                # another alert, same runbook and host
    ))
    assert status == 200 and answer == {"accepted": 9, "skipped": 0}
    # Alertmanager repeats it; then a host outside the inventory, last: once its refusal is logged, every event
    # before it has been handled (the rulebook runs its actions one after another)
    watcher.post(notification(alert("hc1"), alert("bad4", instance="nowhere:3000")))
    watcher.wait_for_decision(fingerprint="bad4", decision="refused")
    refused = {d["fingerprint"]: d["reason"] for d in watcher.decisions() if d["decision"] == "refused"}
    assert refused["bad1"] == "runbook='health-check; rm -rf /' is not one of the collection's runbooks (mcpops list)"
    assert refused["bad2"] == "the alert has no runbook label: nothing to run"
    assert refused["bad3"].startswith("auto_remediate=\"{{ lookup('pipe', 'id') }}\": the label is")
    assert refused["bad4"] == "host 'nowhere' is not in the inventory"
    # the malformed payload was refused by the source and logged there (ansible-rulebook's log is the watcher's)
    assert "alertmanager: refused a request to /alerts" in watcher.log.read_text(), watcher.tail()
    # one health check ran, on the alert's host, its report naming the alert
    [run_dir] = runs_of(watcher.runs, "health-check")
    ran = [d for d in watcher.decisions() if d["decision"] == "ran"]
    assert [(d["runbook"], d["host"], d["fingerprint"]) for d in ran] == [("health-check", "lab-gateway", "hc1")]
    data, markdown = report(run_dir)
    assert set(data["hosts"]) == {"lab-gateway"} and data["check_mode"] is False and data["status"] == "ok"
    assert data["alert"]["fingerprint"] == "hc1" and "GatewayHealthCheckFailing" in markdown
    assert len(runs_of(watcher.runs, "triage")) == 0  # nothing else ran


def test_a_changing_runbook_runs_in_check_mode_and_a_denial_changes_nothing(watcher):
    faults.inject(watcher.lab, "stop")
    watcher.post(notification(gateway_down("inc1a", "lab-gateway:3000")))
    pending = watcher.wait_for_decision(fingerprint="inc1a", decision="pending approval")
    assert pending["path"] == "check, then approval" and pending["runbook"] == "inc-001-gateway-down"
    assert watcher.lab.program_state() in ("STOPPED", "EXITED")  # check mode changed nothing
    data, markdown = report(pending["check_run"])
    assert data["check_mode"] is True and data["alert"]["fingerprint"] == "inc1a"
    assert "`mcpops approve %s`" % pending["approval"] in markdown
    listed = watcher.mcpops("approvals")
    assert listed.returncode == 0 and pending["approval"] in listed.stdout and "inc-001-gateway-down on lab-gateway" in listed.stdout

    denied = watcher.mcpops("deny", pending["approval"], "--by", "alice")
    assert denied.returncode == 0, denied.stderr
    assert watcher.lab.program_state() in ("STOPPED", "EXITED")
    assert len(runs_of(watcher.runs, "inc-001-gateway-down")) == 1  # the check run only
    data, markdown = report(pending["check_run"])
    assert data["approval"]["status"] == "denied" and data["approval"]["decided_by"] == "alice"
    assert "**denied** by alice" in markdown
    again = watcher.mcpops("approve", pending["approval"], "--by", "mallory")  # a denial is final
    assert again.returncode == 4 and "already denied" in again.stderr
    assert watcher.lab.program_state() in ("STOPPED", "EXITED")


def test_an_approval_runs_the_runbook_for_real_naming_the_alert_and_the_approver(watcher):
    watcher.post(notification(gateway_down("inc1b", "lab-gateway-2:3000")))
    pending = watcher.wait_for_decision(fingerprint="inc1b", decision="pending approval")
    assert watcher.lab.program_state() in ("STOPPED", "EXITED")
    approved = watcher.mcpops("approve", pending["approval"], "--by", "bob")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert watcher.lab.program_state() == "RUNNING"
    record = json.loads((watcher.runs / "approvals" / ("%s.json" % pending["approval"])).read_text())
    assert record["status"] == "approved" and record["decided_by"] == "bob" and record["run_status"] == 0
    data, markdown = report(record["run"])
    assert data["check_mode"] is False and set(data["hosts"]) == {"lab-gateway-2"}
    assert data["alert"]["fingerprint"] == "inc1b" and "GatewayDown" in markdown
    assert data["approval"]["decided_by"] == "bob" and "**approved** by bob" in markdown
    assert "operator `bob`" in markdown


def test_a_resolved_alert_is_recorded_in_the_reports_of_its_runs(watcher):
    watcher.post(notification(alert("hc1", status="resolved"),
                              gateway_down("inc1b", "lab-gateway-2:3000") | {"status": "resolved",
                                                                            "endsAt": "2026-01-01T03:30:00Z"}))
    watcher.wait_for_decision(fingerprint="inc1b", decision="resolved")
    resolved = {d["fingerprint"]: d for d in watcher.decisions() if d["decision"] == "resolved"}
    assert len(resolved["inc1b"]["runs"]) == 2  # the check run and the approved run
    for run_dir in resolved["hc1"]["runs"] + resolved["inc1b"]["runs"]:
        data, markdown = report(run_dir)
        assert data["alert"]["resolved_at"] == "2026-01-01T03:30:00Z"
        assert "**resolved at 2026-01-01T03:30:00Z**" in markdown


def test_watch_stops_cleanly_on_sigterm_and_says_where_the_reports_are(watcher):
    watcher.process.send_signal(signal.SIGTERM)
    assert watcher.process.wait(60) == 0
    log = watcher.log.read_text()
    assert "reports go to %s/<UTC time>-<runbook>/" % watcher.runs in log
    assert "mcpops watch: stopped (SIGTERM); reports are in %s" % watcher.runs in log
    assert '"decision": "pending approval"' in log  # the decisions were printed as they came
    with pytest.raises(urllib.error.URLError):  # ansible-rulebook, its child, is gone: nothing listens
        urllib.request.urlopen("http://127.0.0.1:%d/alerts" % watcher.port, data=b"{}", timeout=5)
