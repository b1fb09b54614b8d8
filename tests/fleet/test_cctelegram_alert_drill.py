"""Issue 21's proof for CCTelegram MCP on the session's stack (conftest.py's cctelegram_stack: no second fleet):
`mcpops drill service-outage --fleet 3 --service cctelegram-mcp --via-alert --approval approve|deny`, as
mcpops.drill.alert_drill runs it. The chain's own Prometheus (not the fleet's: that one has no Alertmanager) scrapes
each serving host's metrics listener with the host's own API key file as the Bearer key (FleetDrillLab.alert_targets),
as `instance` its inventory name; the drill breaks fleet1 only, the alert fires for fleet1 only, and the watcher runs
service-outage in check mode on fleet1 alone (outage_hosts) and waits (the rules have no auto_remediate).

- approve, CctelegramDown (the MCP server of fleet1 stopped: its /metrics does not answer): the check run starts
  nothing, the drill approves with `-e remedy=restart`, the approved run restarts fleet1's unit; fleet2 and fleet3 keep
  their processes; the alert resolves into both reports.
- deny, CctelegramBridgeDown (fleet1's bridge stopped: cctelegram_bridge_up 0): the check run and the denial change
  nothing (the same main PID, the bridge still down); the drill then starts the bridge itself; the resolution goes into
  the check run's report.

Every process the chain started is stopped by PID; no host key nor the stack's secrets in the output or the runs dir;
the stack is left running and healthy."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fleet_helpers import service_unit_show
from mcpops.lab import pids
from mcpops.lab.fixtures.loopback_daemon import DaemonError, find_binary
from mcpops.lab.fleet import services

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RUNBOOK = "service-outage"
HOSTS = ["fleet1", "fleet2", "fleet3"]


@pytest.fixture
def stack(cctelegram_stack):
    for binary in ("prometheus", "prometheus-alertmanager"):
        try:
            find_binary(binary, binary)
        except DaemonError as exc:
            pytest.skip(str(exc))
    cctelegram_stack.up(3)
    for host in cctelegram_stack.serving_hosts():
        assert services.wait_health(host, (200,)) == 200, host.name
    yield cctelegram_stack
    cctelegram_stack.up(3)  # nothing left broken for the next module


def alert_drill_on_stack(stack, runs, fault, approval):
    env = dict(os.environ, MCPOPS_RUNS_DIR=str(runs), MCPOPS_FLEET_NET=stack.net, ANSIBLE_NOCOLOR="1",
               no_proxy="127.0.0.1,localhost", PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    proc = subprocess.run([str(BIN / "mcpops"), "drill", RUNBOOK, "--fault", fault, "--fleet", "3", "--service",
                           "cctelegram-mcp", "--via-alert", "--approval", approval, "--dir", str(stack.state_dir),
                           "-i", str(stack.inventory_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    return proc, proc.stdout + proc.stderr


def decisions(runs):
    return [json.loads(line) for line in (runs / ".alerts" / "decisions.log").read_text().splitlines()]


def main_pids(stack):
    return {h.name: service_unit_show(stack, h, services.MCP_UNIT)["MainPID"] for h in stack.serving_hosts()}


def assert_scraped_each_host_with_its_key(stack, out, alert):
    for host in stack.serving_hosts():
        line = "  job cctelegram-mcp: http://%s:9090/metrics, Bearer key from %s as %s" % (
            host.address, host.api_key_file, host.name)
        assert line in out, out[:3000]
    assert "prometheus: %s pending since" % alert in out and "(instance fleet1)" in out


def assert_chain_stopped_and_nothing_leaked(stack, runs, out):
    started = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", out)]
    assert len(started) == 3 and not [pid for pid in started if pids.pid_alive(pid)], started  # watch, AM, Prometheus
    assert "== 7/7 Lab left running (it was running before the drill)" in out
    secrets = [h.api_key() for h in stack.serving_hosts()]
    secrets += [(stack.state_dir / "secrets" / name).read_text().strip()
                for name in ("cctelegram_api_key", "telegram_bot_token")]
    assert all(len(s) > 16 for s in secrets)
    files = [p for p in runs.rglob("*") if p.is_file()]
    assert len(files) > 10
    assert [s[:4] for s in secrets if s in out] == []
    assert [str(p) for p in files for s in secrets if s.encode() in p.read_bytes()] == []


def test_a_stopped_host_fires_cctelegram_down_and_the_approved_outage_runbook_restarts_that_host(stack, tmp_path):
    runs = tmp_path / "runs"
    before = main_pids(stack)
    proc, out = alert_drill_on_stack(stack, runs, "stop", "approve")
    assert proc.returncode == 0, out[-8000:]
    assert_scraped_each_host_with_its_key(stack, out, "CctelegramDown")
    assert "fleet1: stop: systemctl stop cctelegram-mcp on fleet1" in out
    assert "mcpops approve " in out and " -e remedy=restart" in out

    # two runs of service-outage, both on fleet1 alone: the check run the alert started, the approved one
    check_run, approved_run = sorted(runs.glob("*-%s" % RUNBOOK))
    check = json.loads((check_run / "report.json").read_text())
    report = json.loads((approved_run / "report.json").read_text())
    assert check["check_mode"] is True and check["approval"]["status"] == "approved"
    assert report["check_mode"] is False and report["approval"]["status"] == "approved" and report["status"] == "ok"
    assert set(check["hosts"]) == set(report["hosts"]) == {"fleet1"}
    alert = report["alert"]
    assert alert["name"] == "CctelegramDown" and alert["instance"] == "fleet1"
    assert alert["labels"]["runbook"] == RUNBOOK and alert["labels"]["severity"] == "critical"
    assert alert["labels"]["job"] == "cctelegram-mcp" and "auto_remediate" not in alert["labels"]
    assert alert["resolved_at"] and check["alert"]["resolved_at"] == alert["resolved_at"]
    said = decisions(runs)
    assert said[0]["decision"] == "pending approval" and said[0]["host"] == "fleet1", said
    assert sorted(d["decision"] for d in said[1:]) == ["approved", "resolved"], said

    verdict = json.loads((approved_run / "drill.json").read_text())
    assert verdict["passed"] is True and verdict["service"] == "cctelegram-mcp" and verdict["lab"] == "fleet"
    assert verdict["targets"] == HOSTS and verdict["via_alert"]["alert"] == "CctelegramDown"
    checks = {(c["name"], c["target"]): c for c in verdict["checks"]}
    # nothing started before the approval: the unit still stopped after the check run
    assert "service inactive" in checks[("check_changed_nothing", "")]["detail"]
    assert checks[("unit_restarted", "fleet1")]["ok"]
    assert checks[("healthy", "fleet2")]["ok"] and checks[("healthy", "fleet3")]["ok"]
    timings = verdict["via_alert"]["timings"]
    parts = (timings["detection"] + timings["dispatch"] + timings["check_run"] + timings["approval"]
             + timings["runbook"] + timings["verify"])
    assert abs(parts - timings["fault_to_healthy"]) <= 0.5, timings  # they telescope; each is rounded to 0.1 s
    assert "via alert CctelegramDown, approved): PASSED, recovered in" in out

    # systemd itself: fleet1's server is another process, the others' are the ones they had
    after = main_pids(stack)
    assert after["fleet1"] not in ("0", before["fleet1"]), (before, after)
    assert [after["fleet2"], after["fleet3"]] == [before["fleet2"], before["fleet3"]], (before, after)
    assert all(services.health(h)[0] == 200 for h in stack.serving_hosts())
    assert_chain_stopped_and_nothing_leaked(stack, runs, out)


def test_a_denied_bridge_down_alert_changes_nothing_and_the_drill_starts_the_bridge_itself(stack, tmp_path):
    runs = tmp_path / "runs"
    fleet1 = stack.serving_hosts()[0]
    before = main_pids(stack)
    proc, out = alert_drill_on_stack(stack, runs, "bridge-down", "deny")
    assert proc.returncode == 0, out[-8000:]
    assert_scraped_each_host_with_its_key(stack, out, "CctelegramBridgeDown")
    assert "fleet1: bridge-down: systemctl stop cctelegram-bridge on fleet1" in out

    [check_run] = sorted(runs.glob("*-%s" % RUNBOOK))  # the check run only: nothing ran for real
    check = json.loads((check_run / "report.json").read_text())
    assert check["check_mode"] is True and check["approval"]["status"] == "denied"
    assert set(check["hosts"]) == {"fleet1"}
    assert check["alert"]["name"] == "CctelegramBridgeDown" and check["alert"]["instance"] == "fleet1"
    assert check["alert"]["resolved_at"]
    said = decisions(runs)
    assert [d["decision"] for d in said] == ["pending approval", "denied", "resolved"], said

    verdict = json.loads((check_run / "drill.json").read_text())
    assert verdict["passed"] is True and verdict["via_alert"]["approval"] == "deny", verdict["checks"]
    checks = {c["name"]: c for c in verdict["checks"]}
    # the check run and the denial left fleet1 as the fault did: the same server process, the bridge inactive
    for name in ("check_changed_nothing", "denied_changed_nothing"):
        detail = checks[name]["detail"]
        assert checks[name]["ok"] and "not restarted (main PID %s -> %s)" % (before["fleet1"], before["fleet1"]) \
            in detail and "cctelegram-bridge inactive" in detail, detail
    assert checks["check_run_denied"]["ok"] and checks["resolved"]["ok"]
    assert "fleet1: the drill repairs its own fault: systemctl start cctelegram-bridge on fleet1; /health 200" in out
    assert "denied: the lab was left as it was" in out

    # nobody restarted a server; the bridge the drill started runs again
    assert main_pids(stack) == before
    assert service_unit_show(stack, fleet1, services.BRIDGE_UNIT)["ActiveState"] == "active"
    assert all(services.health(h)[0] == 200 for h in stack.serving_hosts())
    assert_chain_stopped_and_nothing_leaked(stack, runs, out)
