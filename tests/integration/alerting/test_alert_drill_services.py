"""Issue 21's proof beyond the 1C gateway, on the local lab: ConnectorMCP's alert starts its runbook. `mcpops drill
connector-restart --service connector-mcp --via-alert --approval approve` brings up the connector lab (two backend
instances under supervisord behind nginx, MariaDB, Redis) and the alert chain the lab's adapter asks for
(ConnectorDrillLab.alert_targets: ConnectorMCP has no /metrics, so a private blackbox_exporter probes each instance's
/api/health as its inventory host), stops backend-1, and waits: ConnectorMcpHealthFailing fires for backend-1 only,
the watcher runs connector-restart in check mode on backend-1 and waits (the rule has no auto_remediate), the drill
approves, the real run restarts backend-1 behind the health gate, backend-2 is left alone, the alert resolves into
the run's report. Everything it started is stopped by PID; no secret of the lab in the output or the runs dir.

The Loyalty API's (LoyaltyApiDown -> loyalty-api-down on the compose lab) needs root and the compose lab's session
fixture: tests/integration/compose/test_loyalty_alert_drill.py."""

import json
import re

import pytest

from loopback import free_port
from mcpops.lab import pids
from mcpops.lab.fixtures.loopback_daemon import DaemonError, find_binary
from mcpops.lab.local.service_lab import ServiceLab
from mcpops_command import files_containing, mcpops

RUNBOOK = "connector-restart"
ALERT = "ConnectorMcpHealthFailing"


def _require(binary, package):
    try:
        find_binary(binary, package)
    except DaemonError as exc:
        pytest.skip(str(exc))


def decisions(runs):
    return [json.loads(line) for line in (runs / ".alerts" / "decisions.log").read_text().splitlines()]


def lab_secrets(lab_dir):
    found = [p.read_text().strip() for p in sorted((lab_dir / "secrets").iterdir()) if p.suffix != ".env"]
    found = [s for s in found if s]
    assert found and all(len(s) >= 12 for s in found), "a secret this short would match by chance"
    return found


def test_a_stopped_connector_backend_fails_its_health_probe_and_the_approved_restart_repairs_that_one(tmp_path):
    for binary in ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"):
        _require(binary, binary)
    lab_dir, runs = tmp_path / "lab", tmp_path / "runs"
    proc = mcpops("drill", RUNBOOK, "--service", "connector-mcp", "--via-alert", "--approval", "approve",
                  "--dir", str(lab_dir), "--listen", "127.0.0.1:%d" % free_port(), lab_dir=lab_dir, runs_dir=runs)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]

    # the chain probed both instances through the blackbox exporter, each as its inventory host
    assert re.search(r"blackbox_exporter \(pid \d+\): \S+, job connector-mcp-health probes "
                     r"http://127\.0\.0\.1:\d+/api/health as backend-1; job connector-mcp-health probes "
                     r"http://127\.0\.0\.1:\d+/api/health as backend-2", out), out[:3000]
    assert "prometheus: %s pending since" % ALERT in out and "(instance backend-1)" in out

    # two runs of connector-restart, both on backend-1 alone: the check run the alert started, the approved one
    check_run, approved_run = sorted(runs.glob("*-%s*" % RUNBOOK))
    check = json.loads((check_run / "report.json").read_text())
    report = json.loads((approved_run / "report.json").read_text())
    assert check["check_mode"] is True and check["approval"]["status"] == "approved"
    assert report["check_mode"] is False and report["approval"]["status"] == "approved" and report["status"] == "ok"
    assert set(check["hosts"]) == set(report["hosts"]) == {"backend-1"}
    alert = report["alert"]
    assert alert["name"] == ALERT and alert["instance"] == "backend-1"
    assert alert["labels"]["runbook"] == RUNBOOK and alert["labels"]["severity"] == "critical"
    assert "auto_remediate" not in alert["labels"]
    assert not [name for name in alert["labels"] if name.startswith("__")]  # the probe's helper label is gone
    assert alert["resolved_at"] and check["alert"]["resolved_at"] == alert["resolved_at"]

    # the alert may resolve before the approval is logged (the restart is done before the run ends): the approval
    # then records the resolution into its run (both reports have it, above)
    said = decisions(runs)
    assert said[0]["decision"] == "pending approval" and sorted(d["decision"] for d in said[1:]) == \
        ["approved", "resolved"], said
    assert said[0]["host"] == "backend-1" and said[0]["path"] == "check, then approval"
    [resolved] = [d for d in said if d["decision"] == "resolved"]
    assert str(check_run) in resolved["runs"] and set(resolved["runs"]) <= {str(check_run), str(approved_run)}

    # the verdict: nothing changed before the approval, backend-1 restarted, backend-2 healthy and not in the run
    verdict = json.loads((approved_run / "drill.json").read_text())
    assert verdict["passed"] is True and verdict["service"] == "connector-mcp", verdict["checks"]
    assert verdict["targets"] == ["backend-1", "backend-2"] and verdict["via_alert"]["alert"] == ALERT
    checks = {(c["name"], c["target"]): c for c in verdict["checks"]}
    assert "service STOPPED" in checks[("check_changed_nothing", "")]["detail"]
    assert checks[("instances_restarted", "backend-1")]["ok"]
    assert "restarted (PID None -> " in checks[("instances_restarted", "backend-1")]["detail"]
    assert checks[("healthy", "backend-2")]["ok"] and ("instances_restarted", "backend-2") not in checks
    timings = verdict["via_alert"]["timings"]
    parts = (timings["detection"] + timings["dispatch"] + timings["check_run"] + timings["approval"]
             + timings["runbook"] + timings["verify"])
    assert abs(parts - timings["fault_to_healthy"]) <= 0.5, timings  # they telescope; each is rounded to 0.1 s
    assert "via alert %s, approved): PASSED, recovered in" % ALERT in out

    # everything the drill started is gone (the chain's four daemons by PID, the lab), and no secret leaked
    started = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", out)]
    assert len(started) == 4 and not [pid for pid in started if pids.pid_alive(pid)]
    assert ServiceLab(lab_dir, "connector-mcp").supervisord_pid() is None
    secrets = lab_secrets(lab_dir)
    assert [s for s in secrets if s in out] == [] and files_containing(runs, secrets) == []
