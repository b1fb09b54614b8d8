"""Issue 21's proof for the Loyalty API on the session's compose lab (conftest.py's loyalty_lab: no second dockerd):
`mcpops drill loyalty-api-down --lab compose --via-alert --approval approve` as mcpops.drill.alert_drill runs it. The
chain's private Prometheus scrapes the API's /metrics with the lab's metrics token as a Bearer key
(ComposeDrillLab.alert_targets: Prometheus 2.42 cannot send X-Metrics-Token; the reference service takes either), the
drill stops the api container, LoyaltyApiDown fires, the watcher runs loyalty-api-down in check mode and waits (nothing
started), the drill approves (with the scenario's `-e log_lines=20`), the real run starts the container, the smoke
passes, the alert resolves into both reports. Every process the chain started is stopped by PID; no secret of the lab
in any file of the runs dir; the session's lab is left running and repaired."""

import json
import re

import pytest

from mcpops.drill import command
from mcpops.drill.alert_drill import alert_drill
from mcpops.drill.compose_drill_lab import ComposeDrillLab
from mcpops.drill.scenarios import COMPOSE, LOYALTY
from mcpops.lab import pids
from mcpops.lab.fixtures.loopback_daemon import DaemonError, find_binary

READY_TIMEOUT = 60  # seconds for the session's lab to be ready on a loaded 2-core machine
SECRETS = ("metrics_token", "db_password", "pg_superuser_password", "telegram_bot_token")
ALERT, RUNBOOK = "LoyaltyApiDown", "loyalty-api-down"


def test_a_stopped_api_fires_loyalty_api_down_and_the_approved_runbook_starts_it_again(loyalty_lab, tmp_path):
    for binary in ("prometheus", "prometheus-alertmanager"):
        try:
            find_binary(binary, binary)
        except DaemonError as exc:
            pytest.skip(str(exc))
    loyalty_lab.wait_ready(timeout=READY_TIMEOUT)
    runbook, scenario = command.plan(RUNBOOK, None, COMPOSE, LOYALTY)
    assert scenario.fault == "api-stopped" and scenario.alert == ALERT
    lab, runs, said = ComposeDrillLab(lab=loyalty_lab), tmp_path / "runs", []
    try:
        verdict = alert_drill(lab, runbook, scenario, approval="approve", out=said.append, runs_dir=runs)
    finally:
        if loyalty_lab.states().get("api", ("?",))[0] != "running":  # the session's lab: never left broken
            lab.repair(None, "api-stopped")
    out = "\n".join(str(line) for line in said)
    assert verdict.passed, out[-6000:]

    # the chain scraped /metrics with the token file as a Bearer key (the token itself is in no config or output)
    assert re.search(r"job loyalty-api: http://127\.0\.0\.1:\d+/metrics, Bearer key from \S+/metrics_token as "
                     r"loyalty-compose", out), out[:3000]
    assert "loyalty-compose: api-stopped: injected (compose stop api)" in out
    assert "prometheus: %s pending since" % ALERT in out

    check_run, approved_run = sorted(runs.glob("*-%s*" % RUNBOOK))
    check = json.loads((check_run / "report.json").read_text())
    report = json.loads((approved_run / "report.json").read_text())
    assert check["check_mode"] is True and report["check_mode"] is False and report["status"] == "ok"
    assert report["approval"]["status"] == "approved"
    assert set(check["hosts"]) == set(report["hosts"]) == {"loyalty-compose"}
    alert = report["alert"]
    assert alert["name"] == ALERT and alert["instance"] == "loyalty-compose"
    assert alert["labels"]["runbook"] == RUNBOOK and alert["labels"]["severity"] == "critical"
    assert alert["resolved_at"] and check["alert"]["resolved_at"] == alert["resolved_at"]
    said_by_watcher = [json.loads(line) for line in (runs / ".alerts" / "decisions.log").read_text().splitlines()]
    # the alert may resolve before the approval is logged: the approval then records the resolution into its run
    assert said_by_watcher[0]["decision"] == "pending approval" and sorted(
        d["decision"] for d in said_by_watcher[1:]) == ["approved", "resolved"], said_by_watcher

    checks = {check.name: check for check in verdict.checks}
    # the check run started nothing: the container was still stopped before the approval
    assert checks["check_changed_nothing"].ok and "api_running: compose service api: exited" in \
        checks["check_changed_nothing"].detail
    assert checks["api_running"].ok and checks["healthy"].ok and "/ready 200" in checks["healthy"].detail
    assert checks["resolved"].ok and verdict.via_alert["approval"] == "approve"
    timings = verdict.via_alert["timings"]
    parts = (timings["detection"] + timings["dispatch"] + timings["check_run"] + timings["approval"]
             + timings["runbook"] + timings["verify"])
    assert abs(parts - timings["fault_to_healthy"]) <= 0.5, timings  # they telescope; each is rounded to 0.1 s

    # the chain's processes are gone, the session's lab is as it was: running and ready
    started = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", out)]
    assert len(started) == 3 and not [pid for pid in started if pids.pid_alive(pid)]
    assert "== 7/7 Lab left running (it was running before the drill)" in out
    assert loyalty_lab.states()["api"][0] == "running" and loyalty_lab.get("/ready")[0] == 200
    for path in (p for p in runs.rglob("*") if p.is_file()):
        text = path.read_bytes()
        for name in SECRETS:
            assert loyalty_lab.secret(name).encode() not in text, f"{name} is in {path}"
    assert not [name for name in SECRETS if loyalty_lab.secret(name) in out]
