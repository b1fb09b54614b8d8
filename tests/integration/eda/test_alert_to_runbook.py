"""From alert to runbook through Event-Driven Ansible (issue 22's "Use it from EDA", issue 21's first brick):
the real ansible-rulebook (its Drools engine on the JVM) runs the collection's rulebook by its collection name,
the collection's Alertmanager source receives a webhook POST on loopback, and the morning health check runs
on the alert's instance, a local lab's gateway, leaving its incident report in $MCPOPS_RUNS_DIR.

The commands are the README's: with the lab up and from the checkout,

    export MCPOPS_LAB_DIR=<lab state dir> MCPOPS_RUNS_DIR=<runs> ANSIBLE_CONFIG=$PWD/ansible.cfg MCPOPS_EDA_PORT=<port>
    ansible-rulebook -r mcpops.runbooks.alert_to_runbook -i inventories/lab -E MCPOPS_EDA_PORT
    curl -X POST -H 'Content-Type: application/json' --data @alert.json http://127.0.0.1:$MCPOPS_EDA_PORT/alerts
"""

import json
import os
import shutil
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from local_lab_helpers import make_lab
from loopback import free_port

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
DEADLINE_SECONDS = 120


def alert(status="firing", **labels):
    labels = dict({"alertname": "GatewayHealthCheckFailing", "runbook": "health-check", "severity": "critical",
                   "instance": "lab-gateway:3000"}, **labels)
    return {"status": status, "labels": {k: v for k, v in labels.items() if v is not None},
            "annotations": {"summary": "the gateway's /readyz failed 3 scrapes in a row"},
            "startsAt": "2026-01-01T03:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph", "fingerprint": "c0ffee%s" % status}


def notification(*alerts):
    """Alertmanager's webhook body (version 4): one group of alerts."""
    return {"version": "4", "groupKey": "{}:{alertname=\"GatewayHealthCheckFailing\"}", "truncatedAlerts": 0,
            "status": "firing", "receiver": "mcpops-runbooks", "groupLabels": {"alertname": "GatewayHealthCheckFailing"},
            "commonLabels": {"alertname": "GatewayHealthCheckFailing"}, "commonAnnotations": {},
            "externalURL": "http://127.0.0.1:9093", "alerts": list(alerts)}


def post(url, body, deadline):
    """POST body as JSON, retried until the source listens (the rulebook starts a JVM first)."""
    data = json.dumps(body).encode()
    while True:
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except (ConnectionError, urllib.error.URLError) as exc:
            if isinstance(exc, urllib.error.HTTPError) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def lab_inventory_with_a_second_name(path):
    """inventories/lab, its gateway also named lab-gateway-2: an alert naming one must not run on the other."""
    shutil.copytree(REPO / "inventories" / "lab", path)
    hosts = yaml.safe_load((path / "hosts.yml").read_text())
    gateways = hosts["all"]["children"]["gateways"]["hosts"]
    gateways["lab-gateway-2"] = dict(gateways["lab-gateway"])
    (path / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return path


def reports_in(runs):
    return {path.parent: json.loads(path.read_text()) for path in sorted(runs.glob("*/report.json"))}


def wait_for_report_on(host, runs, rulebook, log, deadline):
    while time.monotonic() < deadline:
        reports = reports_in(runs)
        if any(set(report["hosts"]) == {host} for report in reports.values()):
            return reports
        assert rulebook.poll() is None, "ansible-rulebook exited %s:\n%s" % (rulebook.returncode, log.read_text()[-4000:])
        time.sleep(0.3)
    raise AssertionError("no incident report on %s in %s after %ss:\n%s"
                         % (host, runs, DEADLINE_SECONDS, log.read_text()[-4000:]))


@pytest.fixture(scope="module")
def alert_run(tmp_path_factory):
    """One rulebook run fed one notification: the answer, the run dirs and the report (read once)."""
    tmp = tmp_path_factory.mktemp("eda")
    lab = make_lab(tmp / "lab")
    inventory = lab_inventory_with_a_second_name(tmp / "inventory")
    runs = tmp / "runs"
    log = tmp / "rulebook.log"
    port = free_port()
    env = dict(os.environ, PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), ANSIBLE_NOCOLOR="1",
               no_proxy="127.0.0.1,localhost", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               MCPOPS_LAB_DIR=str(lab.state_dir), MCPOPS_RUNS_DIR=str(runs), MCPOPS_EDA_PORT=str(port))
    with open(log, "w") as out:
        rulebook = subprocess.Popen([str(BIN / "ansible-rulebook"), "-r", "mcpops.runbooks.alert_to_runbook",
                                     "-i", str(inventory), "-E", "MCPOPS_EDA_PORT"],
                                    cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        # The alerts that must start nothing come first, on lab-gateway; the one that runs comes last, on
        # lab-gateway-2. The rulebook runs its actions one after another in the order of the events, so once
        # lab-gateway-2's report is there, any run the others started has left its report too.
        status, answer = post("http://127.0.0.1:%d/alerts" % port, notification(
            alert("resolved"),                                   # resolved: nothing to do
            alert(runbook="inc-003-restore"),                    # a changing runbook: not started from an alert
            alert(runbook="health-check; rm -rf /"),             # not a runbook the rulebook lists
            alert(instance="all:9100"),                          # an Ansible pattern, not a host
            alert(instance=None),                                # no host named
            alert(instance="lab-gateway-2:3000"),                # the one that runs
        ), deadline)
        reports = wait_for_report_on("lab-gateway-2", runs, rulebook, log, deadline)
        yield types.SimpleNamespace(status=status, answer=answer, reports=reports, log=log)
    finally:
        rulebook.terminate()
        try:
            rulebook.wait(30)
        except subprocess.TimeoutExpired:
            rulebook.kill()
            rulebook.wait(10)
        lab.down()


def test_a_firing_alert_runs_the_health_check_on_its_instance(alert_run):
    assert alert_run.status == 200 and alert_run.answer == {"accepted": 6, "skipped": 0}
    # one run, the health check's, in $MCPOPS_RUNS_DIR (never ansible-rulebook's temporary dir, deleted after it)
    [(run_dir, report)] = alert_run.reports.items()
    assert run_dir.name.endswith("-health-check") and (run_dir / "report.md").is_file()
    assert report["runbook"]["id"] == "health-check" and report["runbook"]["changes"] is False
    assert report["check_mode"] is False and report["status"] == "ok"
    # on the alert's instance only (not lab-gateway, the same gateway's other name), found healthy
    assert set(report["hosts"]) == {"lab-gateway-2"} and report["extra_vars"]["health_hosts"] == "lab-gateway-2"
    assert report["hosts"]["lab-gateway-2"]["failures"] == 0
    steps = {entry["step"]: entry["status"] for entry in report["timeline"]}
    assert steps["Step 1: Check service health: the profile's checks: healthz, readyz, storage_meta"] == "ok"


def test_the_report_names_the_alert(alert_run):
    [(run_dir, report)] = alert_run.reports.items()
    markdown = (run_dir / "report.md").read_text()
    assert "GatewayHealthCheckFailing" in markdown and "lab-gateway-2:3000" in markdown
    assert (report.get("alert") or {}).get("fingerprint") == "c0ffeefiring"
