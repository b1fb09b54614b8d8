"""Issue 21's proof for LEGO MCP on the Kubernetes lab, through the CLI as an operator runs it:
`mcpops drill lego-service-outage --lab kubernetes --fault scaled-to-zero --via-alert --approval approve|deny`, on ONE
lab for the module (`mcpops lab up --platform kubernetes --dir D`; down by PID at the end, its processes checked gone).

The chain's private blackbox_exporter probes the dashboard Service's /health through the drill's stand-in for the
Service (KubeDrillLab.alert_targets: the lab has no kube-proxy; pod IPs change with the rollout that repairs the
fault), as the inventory host lego-controller; the drill scales the dashboard to 0, LegoMcpHealthFailing fires, the
watcher runs lego-service-outage in check mode and waits (nothing scaled). Approved (with the scenario's
`-e replicas=2`), the real run scales it back and its smoke test passes, and the alert resolves into both reports.
Denied, nothing runs but the check run, the dashboard stays at 0 until the drill repairs its own fault, and the
resolution goes into the check run's report. And `mcpops drill db-connection-exhaustion --lab kubernetes --via-alert
--approval approve` on the same lab: the session holder takes every slot lego_mcp can get,
LegoPostgresConnectionsExhausted fires through the lab's postgres_exporter (the chain's only target), and the approved
run ends the leaking application's sessions. Every process of the chain is stopped by PID, the stand-in's port is closed, and no secret of the lab is in
the output or any file of the runs dir. Root (kube_binaries)."""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mcpops.lab import pids
from mcpops.lab.fixtures.loopback_daemon import DaemonError, find_binary

ROOT = Path(__file__).resolve().parents[3]
ALERT, RUNBOOK, FAULT = "LegoMcpHealthFailing", "lego-service-outage", "scaled-to-zero"
CHAIN = ("mcpops watch", "alertmanager", "blackbox_exporter", "prometheus")
CHAIN_BINARIES = ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter",
                  "prometheus-postgres-exporter")


def mcpops(*argv, env=None, timeout=1800):
    env = dict(os.environ, no_proxy="127.0.0.1,localhost", **(env or {}))
    for name in ("KUBECONFIG", "MCPOPS_KUBE_LAB_DIR"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "mcpops", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class Lab:
    def __init__(self, state):
        self.state = state
        self.flags = ("--platform", "kubernetes", "--dir", str(state))

    def secrets(self):
        import yaml

        values = yaml.safe_load((self.state / "inventory" / "group_vars" / "gateways" / "secrets.yml").read_text())
        return {values["lego_db_password"], values["lego_api_key"]}

    def status(self):
        return json.loads(mcpops("lab", "status", "--json", *self.flags).stdout)

    def alert_drill(self, runs, approval, runbook=RUNBOOK, fault=FAULT):
        return mcpops("drill", runbook, "--lab", "kubernetes", "--dir", str(self.state), "--fault", fault,
                      "--via-alert", "--approval", approval, env={"MCPOPS_RUNS_DIR": str(runs)})


@pytest.fixture(scope="module")
def kube_lab(kube_binaries, tmp_path_factory):
    for binary in CHAIN_BINARIES:
        try:
            find_binary(binary, binary)
        except DaemonError as exc:
            pytest.skip(str(exc))  # the reason names the Debian package (scripts/test installs them)
    lab = Lab(tmp_path_factory.mktemp("h21-lego-alert") / "state")
    up = mcpops("lab", "up", *lab.flags)
    try:
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
        record = json.loads((lab.state / "kube-lab.json").read_text())
        yield lab
    finally:
        down = mcpops("lab", "down", *lab.flags)
    assert down.returncode == 0, down.stdout + down.stderr[-3000:]
    for name, pid in record["plane"]["pids"].items():
        assert not pids.pid_alive(pid), name
    assert not pids.pid_alive(record["agent"]["pid"])


def chain_gone(out, probe=True):
    """The four processes of the chain and the lab's postgres_exporter, each named with its PID in the output, are
    gone; the Service's stand-in (a thread of the drill) closed its port. probe=False: a drill of the database's alert,
    whose chain has no blackbox_exporter and no stand-in."""
    started = {name: int(pid) for name, pid in re.findall(r"^(mcpops watch|alertmanager|blackbox_exporter|prometheus) "
                                                         r"\(pid (\d+)\)", out, re.M)}
    assert set(started) == set(CHAIN if probe else [name for name in CHAIN if name != "blackbox_exporter"]), \
        out[:3000]
    [started["postgres_exporter"]] = [int(pid) for pid in re.findall(r"postgres_exporter \(pid (\d+)\) stopped by "
                                                                     r"PID", out)]
    assert not [name for name, pid in started.items() if pids.pid_alive(pid)]
    ports = re.findall(r"the dashboard Service's stand-in http://127\.0\.0\.1:(\d+)/ closed", out)
    assert len(ports) == (1 if probe else 0), out[-3000:]
    for port in ports:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", int(port))) != 0
    assert "the chain's logs are kept in" not in out  # its temp dir removed, the watcher's log kept in the run dir


def no_secret(canaries, proc, runs):
    assert canaries
    for canary in canaries:  # found or not, never the value itself in an assertion's message
        shown = canary in proc.stdout or canary in proc.stderr
        assert not shown, "a secret in the drill's output"
        for path in (p for p in Path(runs).rglob("*") if p.is_file()):
            found = canary.encode() in path.read_bytes()
            assert not found, f"a secret in {path}"


def decisions(runs):
    return [json.loads(line) for line in (runs / ".alerts" / "decisions.log").read_text().splitlines()]


def checks_of(run_dir):
    return {check["name"]: check for check in json.loads((run_dir / "drill.json").read_text())["checks"]}


def test_a_dashboard_scaled_to_zero_fires_the_alert_and_the_approved_runbook_scales_it_back(kube_lab, tmp_path):
    runs, canaries = tmp_path / "runs", kube_lab.secrets()
    proc = kube_lab.alert_drill(runs, "approve")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    assert re.search(r"drill %s \(%s, lego-mcp on the kubernetes lab, via alert %s, approved\): PASSED" % (
        RUNBOOK, FAULT, ALERT), proc.stdout), out[-4000:]
    # the probe: the Service's stable address (not a pod IP), as the inventory host
    assert re.search(r"job lego-mcp-health: blackbox_exporter GETs http://127\.0\.0\.1:\d+/health \(http_2xx_lab: "
                     r"2xx\) as lego-controller", out), out[:3000]
    # and the lab's PostgreSQL through its postgres_exporter, which the chain waited to answer (up == 1)
    assert re.search(r"job lego-postgres: http://127\.0\.0\.1:\d+/metrics as lego-controller", out), out[:3000]
    assert "prometheus: %s pending since" % ALERT in out and "(instance lego-controller)" in out
    assert "mcpops approve" in out and "-e replicas=2" in out

    check_run, approved_run = sorted(p for p in runs.glob("*-%s*" % RUNBOOK))
    check = json.loads((check_run / "report.json").read_text())
    report = json.loads((approved_run / "report.json").read_text())
    assert check["check_mode"] is True and report["check_mode"] is False and report["status"] == "ok"
    assert report["approval"]["status"] == "approved"
    # the alert's host, and the controller where the runbook's first play checks its inputs (run_limit): no other
    assert set(check["hosts"]) == set(report["hosts"]) == {"lego-controller", "localhost"}
    alert = report["alert"]
    assert alert["name"] == ALERT and alert["instance"] == "lego-controller"
    assert alert["labels"]["runbook"] == RUNBOOK and alert["labels"]["job"] == "lego-mcp-health"
    assert alert["resolved_at"] and check["alert"]["resolved_at"] == alert["resolved_at"]
    said = decisions(runs)
    # the alert may resolve before the approval is logged: the approval then records the resolution into its run
    assert said[0]["decision"] == "pending approval" and sorted(d["decision"] for d in said[1:]) == [
        "approved", "resolved"], said
    assert said[0]["host"] == "lego-controller"

    assert (approved_run / "watch.log").is_file()
    checks = checks_of(approved_run)
    # the check run scaled nothing: the dashboard still wanted 0 replicas before the approval
    assert checks["check_changed_nothing"]["ok"] and "wants 0 replicas" in checks["check_changed_nothing"]["detail"]
    assert checks["dashboard_scaled_back"]["ok"] and "wants 2 replicas" in checks["dashboard_scaled_back"]["detail"]
    assert checks["healthy"]["ok"] and checks["resolved"]["ok"]
    timings = json.loads((approved_run / "drill.json").read_text())["via_alert"]["timings"]
    parts = sum(timings[name] for name in ("detection", "dispatch", "check_run", "approval", "runbook", "verify"))
    assert abs(parts - timings["fault_to_healthy"]) <= 0.5, timings  # they telescope; each is rounded to 0.1 s

    chain_gone(out)
    assert "== 7/7 Lab left running (it was running before the drill)" in out
    status = kube_lab.status()
    assert status["healthy"] is True, status
    no_secret(canaries, proc, runs)


def test_a_denied_scale_changes_nothing_and_the_drill_repairs_its_own_fault(kube_lab, tmp_path):
    runs, canaries = tmp_path / "runs", kube_lab.secrets()
    proc = kube_lab.alert_drill(runs, "deny")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    assert re.search(r"drill %s \(%s, lego-mcp on the kubernetes lab, via alert %s, denied\): PASSED, denied: the lab "
                     r"was left as it was" % (RUNBOOK, FAULT, ALERT), proc.stdout), out[-4000:]
    [check_run] = runs.glob("*-%s*" % RUNBOOK)  # the check run only: nothing ran for real
    check = json.loads((check_run / "report.json").read_text())
    assert check["check_mode"] is True and check["approval"]["status"] == "denied"
    assert check["alert"]["name"] == ALERT and check["alert"]["resolved_at"]
    assert [d["decision"] for d in decisions(runs)] == ["pending approval", "denied", "resolved"]

    assert (check_run / "watch.log").is_file()
    checks = checks_of(check_run)
    for name in ("check_changed_nothing", "denied_changed_nothing"):
        assert checks[name]["ok"] and "wants 0 replicas" in checks[name]["detail"], checks[name]
    assert checks["check_run_denied"]["ok"] and checks["resolved"]["ok"]
    # the dashboard came back only by the drill's own repair, after the denial
    assert "lego-controller: the drill repairs its own fault: scaled-to-zero" in out, out[-4000:]
    chain_gone(out)
    status = kube_lab.status()
    assert status["healthy"] is True, status
    no_secret(canaries, proc, runs)


def test_idle_sessions_holding_every_slot_fire_the_db_alert_and_the_approved_runbook_ends_them(kube_lab, tmp_path):
    """LegoPostgresConnectionsExhausted -> db-connection-exhaustion (the seed's "Database Connection Exhaustion"): the
    lab's session holder takes every slot lego_mcp can get (idle sessions of application celery-worker), the chain
    scrapes the database's exporter alone, the check run terminates nothing, the approved run (the approver's
    idle_for and only_applications) ends those sessions as the superuser over the cluster's socket, and the dashboard
    is healthy again."""
    runbook, fault, alert = "db-connection-exhaustion", "db-connections-exhausted", "LegoPostgresConnectionsExhausted"
    runs, canaries = tmp_path / "runs", kube_lab.secrets()
    proc = kube_lab.alert_drill(runs, "approve", runbook, fault)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    assert re.search(r"drill %s \(%s, lego-mcp on the kubernetes lab, via alert %s, approved\): PASSED" % (
        runbook, fault, alert), proc.stdout), out[-4000:]
    # the database's exporter, as the inventory host; no probe of the dashboard (its alert would start another run)
    assert re.search(r"job lego-postgres: http://127\.0\.0\.1:\d+/metrics as lego-controller", out), out[:3000]
    assert "job lego-mcp-health" not in out and "blackbox_exporter (pid" not in out
    assert "prometheus: %s pending since" % alert in out and "(instance lego-controller)" in out
    assert '-e idle_for=1s -e only_applications=["celery-worker"]' in out

    check_run, approved_run = sorted(runs.glob("*-%s*" % runbook))
    check = json.loads((check_run / "report.json").read_text())
    report = json.loads((approved_run / "report.json").read_text())
    assert check["check_mode"] is True and report["check_mode"] is False and report["status"] == "ok"
    assert report["approval"]["status"] == "approved"
    assert set(check["hosts"]) == set(report["hosts"]) == {"lego-controller"}
    assert report["alert"]["name"] == alert and report["alert"]["instance"] == "lego-controller"
    assert report["alert"]["labels"]["runbook"] == runbook and report["alert"]["labels"]["job"] == "lego-postgres"
    assert report["alert"]["resolved_at"] and check["alert"]["resolved_at"] == report["alert"]["resolved_at"]
    said = decisions(runs)
    assert said[0]["decision"] == "pending approval" and sorted(d["decision"] for d in said[1:]) == [
        "approved", "resolved"], said

    checks = checks_of(approved_run)
    # before the approval the leaked sessions were all there; after the run none, and the dashboard healthy again
    before = checks["check_changed_nothing"]
    assert before["ok"] and re.search(r"; leaked_sessions_terminated: [1-9]\d* sessions of celery-worker left",
                                      before["detail"]), before
    after = checks["leaked_sessions_terminated"]
    assert after["ok"] and after["detail"] == "0 sessions of celery-worker left in pg_stat_activity; the dashboard " \
                                              "is healthy", after
    assert checks["resolved"]["ok"]
    timings = json.loads((approved_run / "drill.json").read_text())["via_alert"]["timings"]
    parts = sum(timings[name] for name in ("detection", "dispatch", "check_run", "approval", "runbook", "verify"))
    assert abs(parts - timings["fault_to_healthy"]) <= 0.5, timings

    chain_gone(out, probe=False)
    assert "== 7/7 Lab left running (it was running before the drill)" in out
    # healthy for the next drill: the lab's repair stops the fault's holder process, whose sessions the run ended
    repair = mcpops("lab", "repair", fault, *kube_lab.flags)
    assert repair.returncode == 0, repair.stdout[-2000:] + repair.stderr[-2000:]
    status = kube_lab.status()
    assert status["healthy"] is True and "session-holder" not in status["pids"], status
    no_secret(canaries, proc, runs)
