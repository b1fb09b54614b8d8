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

Then CCTelegram's other four alerts (issue 21), each a drill of its own on the same stack, one after the other:

- CctelegramServerErrors (server-errors: every tool call of fleet1 answers 500 under a steady client) and
  CctelegramSecurityEvents (auth-failures: a client with a stale key, 401 and a SECURITY line a request) start the
  read-only triage at once, on fleet1 alone; its bundle of fleet1 must count what the fault did (the errors by type, the
  auth failures by the client's address); the drill then repairs its own fault (the client stopped, the storm cleared)
  and the alert resolves into the run's report. No server is restarted.
- ConsecutiveErrors (wedged: fleet1's tool calls answer 500 until the process restarts) and MemoryLeakDetection
  (memory-leak: fleet1's heap grows 8 MiB a second, over the rule's 100 MiB within the lab's 30 s window) start
  cctelegram-p1-response in check mode on fleet1; the drill approves with the scenario's inputs; P1 names fleet1 (its
  ERROR lines; its memory growth) and restarts it; fleet2 and fleet3 keep their processes.

Every process the chain started is stopped by PID; no host key nor the stack's secrets in the output or the runs dir;
each drill leaves the stack healthy for the next (checked at its end)."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleet_helpers import service_unit_show
from mcpops.lab import pids
from mcpops.lab.fixtures.loopback_daemon import DaemonError, find_binary
from mcpops.lab.fleet import services

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RUNBOOK = "service-outage"
P1 = "cctelegram-p1-response"
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


def alert_drill_on_stack(stack, runs, fault, approval=None, runbook=RUNBOOK):
    env = dict(os.environ, MCPOPS_RUNS_DIR=str(runs), MCPOPS_FLEET_NET=stack.net, ANSIBLE_NOCOLOR="1",
               no_proxy="127.0.0.1,localhost", PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    proc = subprocess.run([str(BIN / "mcpops"), "drill", runbook, "--fault", fault, "--fleet", "3", "--service",
                           "cctelegram-mcp", "--via-alert", *(("--approval", approval) if approval else ()),
                           "--dir", str(stack.state_dir), "-i", str(stack.inventory_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    return proc, proc.stdout + proc.stderr


def decisions(runs):
    return [json.loads(line) for line in (runs / ".alerts" / "decisions.log").read_text().splitlines()]


def of_alert(runs, alertname):
    """The watcher's decisions on one alert (another alert of the same fault has its own)."""
    return [d for d in decisions(runs) if d.get("alertname") == alertname]


def with_its_approvals(runs, alertname):
    """The decisions on one alert and the operator's on its approvals (those name the approval, not the alert)."""
    said = decisions(runs)
    asked = {d["approval"] for d in said if d.get("alertname") == alertname and d.get("approval")}
    return [d for d in said
            if d.get("alertname") == alertname or (not d.get("alertname") and d.get("approval") in asked)]


def assert_others_only_read(runs, alertname):
    """A slow drill (a loaded machine, a denial) lets its fault fire another rule too: the bridge's 503s on /health
    are 5xx to CctelegramServerErrors. That alert may start triage, read-only, at once, and nothing else."""
    mine = with_its_approvals(runs, alertname)
    others = [d for d in decisions(runs) if d not in mine]
    assert {d.get("alertname") for d in others} <= {"CctelegramServerErrors"}, others
    assert {d["decision"] for d in others} <= {"ran", "resolved"}, others
    assert {d.get("runbook") for d in others if d["decision"] == "ran"} <= {"triage"}, others


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
    said = with_its_approvals(runs, "CctelegramDown")
    assert said[0]["decision"] == "pending approval" and said[0]["host"] == "fleet1", said
    assert sorted(d["decision"] for d in said[1:]) == ["approved", "resolved"], said
    assert_others_only_read(runs, "CctelegramDown")

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
    said = with_its_approvals(runs, "CctelegramBridgeDown")
    assert [d["decision"] for d in said] == ["pending approval", "denied", "resolved"], said
    assert_others_only_read(runs, "CctelegramBridgeDown")

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


# -- issue 21: the other four alerts of the rule file, one drill each on the same stack --------------------------------

def run_stdout(run_dir):
    return "\n".join(p.read_text(errors="replace") for p in sorted(Path(run_dir).glob("artifacts/*/stdout")))


def assert_timings_add_up(timings, total):
    parts = sum(timings[p] for p in ("detection", "dispatch", "check_run", "approval", "runbook", "verify")
                if p in timings)
    assert abs(parts - timings[total]) <= 0.5, timings  # they telescope; each is rounded to 0.1 s


def assert_left_healthy_for_the_next_drill(stack, client_left=False):
    """Every serving host healthy and its tool calls answering 200; no steady client of a fault left running (a P1
    drill's: still calling, answered 200 since the restart; the stack fixture's `up` ends it)."""
    from mcpops.lab.fleet import client_traffic

    for host in stack.serving_hosts():
        assert services.wait_health(host, (200,)) == 200, host.name
        assert services.request(host, "/tools/get_bridge_status", method="POST")[0] == 200, host.name
        client = stack.run(host, ["systemctl", "is-active", client_traffic.UNIT + ".service"], check=False)
        assert client.stdout.strip() == ("active" if client_left and host.name == "fleet1" else "inactive"), (
            host.name, client.stdout)


def assert_read_only_drill(stack, runs, out, fault, alert, before):
    """triage, started at once by alert on fleet1 alone; returns (its run dir, the verdict's checks by name)."""
    assert_scraped_each_host_with_its_key(stack, out, alert)
    assert "fleet1: %s: " % fault in out
    assert "Alert chain up: Prometheus -> Alertmanager -> mcpops watch (triage: read-only, at once)" in out
    [run] = sorted(runs.glob("*-triage"))  # one run: no check run, no approval
    report = json.loads((run / "report.json").read_text())
    assert report["check_mode"] is False and not report.get("approval") and report["status"] == "ok"
    assert set(report["hosts"]) == {"fleet1"}
    assert report["alert"]["name"] == alert and report["alert"]["instance"] == "fleet1"
    assert report["alert"]["labels"]["runbook"] == "triage" and report["alert"]["labels"]["severity"] == "warning"
    assert report["alert"]["resolved_at"]
    said = of_alert(runs, alert)
    assert [d["decision"] for d in said] == ["ran", "resolved"], said
    assert said[0]["path"] == "read-only" and said[0]["host"] == "fleet1" and said[0]["status"] == 0, said
    assert {d.get("alertname") for d in decisions(runs)} == {alert}  # no other rule fired for this fault
    verdict = json.loads((run / "drill.json").read_text())
    assert verdict["passed"] is True and verdict["read_only"] is True and verdict["expected_exit"] == 0, verdict
    assert verdict["via_alert"]["alert"] == alert and verdict["via_alert"]["approval"] is None
    checks = {(c["name"], c["target"]): c for c in verdict["checks"]}
    for name in ("runbook", "alert_named", "run_mode", "approval", "no_check_run", "resolved"):
        assert checks[(name, "")]["ok"], checks[(name, "")]
    assert all(checks[("healthy", h)]["ok"] for h in HOSTS)
    timings = verdict["via_alert"]["timings"]
    assert "fault_to_healthy" not in timings and timings["fault_to_named"] > 0
    assert_timings_add_up(timings, "fault_to_named")
    assert "via alert %s): PASSED, the runbook named the fault in" % alert in out
    assert "fleet1: the drill repairs its own fault: %s undone on fleet1" % fault in out
    # read-only: no server restarted, none stopped
    assert main_pids(stack) == before
    return run, checks


def test_server_errors_start_triage_at_once_on_that_host_and_its_bundle_counts_them(stack, tmp_path):
    runs = tmp_path / "runs"
    before = main_pids(stack)
    proc, out = alert_drill_on_stack(stack, runs, "server-errors", runbook="triage")
    assert proc.returncode == 0, out[-8000:]
    run, checks = assert_read_only_drill(stack, runs, out, "server-errors", "CctelegramServerErrors", before)
    named = checks[("bundle_cctelegram_5xx", "fleet1")]
    assert named["ok"] and " TelegramConnectionError" in named["detail"], named
    # the bundle itself, read again: fleet1's only (the run was on fleet1 alone), its errors by the fault's type
    bundle = json.loads((run / "fleet1.json").read_text())
    by_type = {e["key"]: e["count"] for e in bundle["app_log"]["errors"]["by_type"]}
    assert by_type.get(services.SERVER_ERROR_TYPE, 0) >= 3, by_type
    assert not list(run.glob("fleet2.json*")) and not list(run.glob("fleet3.json*"))
    assert_left_healthy_for_the_next_drill(stack)
    assert_chain_stopped_and_nothing_leaked(stack, runs, out)


def test_security_events_start_triage_and_its_bundle_names_the_stale_key_client(stack, tmp_path):
    runs = tmp_path / "runs"
    before = main_pids(stack)
    proc, out = alert_drill_on_stack(stack, runs, "auth-failures", runbook="triage")
    assert proc.returncode == 0, out[-8000:]
    run, checks = assert_read_only_drill(stack, runs, out, "auth-failures", "CctelegramSecurityEvents", before)
    named = checks[("bundle_cctelegram_auth_failures", "fleet1")]
    assert named["ok"] and "from %s" % services.OFFENDER_SOURCE in named["detail"], named
    bundle = json.loads((run / "fleet1.json").read_text())
    by_ip = {e["key"]: e["count"] for e in bundle["app_log"]["auth_failures"]["by_client_ip"]}
    assert by_ip.get(services.OFFENDER_SOURCE, 0) > 20, by_ip  # the rule's threshold was passed by that client
    assert_left_healthy_for_the_next_drill(stack)
    assert_chain_stopped_and_nothing_leaked(stack, runs, out)


def assert_p1_approved_on_fleet1(stack, runs, out, alert, before):
    """P1's check run and approved run, both on fleet1 (and the controller's plays); returns (approved run, checks)."""
    assert_scraped_each_host_with_its_key(stack, out, alert)
    check_run, approved_run = sorted(runs.glob("*-" + P1))
    check = json.loads((check_run / "report.json").read_text())
    report = json.loads((approved_run / "report.json").read_text())
    assert check["check_mode"] is True and check["approval"]["status"] == "approved"
    assert report["check_mode"] is False and report["approval"]["status"] == "approved" and report["status"] == "ok"
    for run in (check, report):
        assert "fleet1" in run["hosts"] and not {"fleet2", "fleet3"} & set(run["hosts"]), run["hosts"]
    alert_seen = report["alert"]
    assert alert_seen["name"] == alert and alert_seen["instance"] == "fleet1"
    assert alert_seen["labels"]["runbook"] == P1 and "auto_remediate" not in alert_seen["labels"]
    assert alert_seen["resolved_at"] and check["alert"]["resolved_at"] == alert_seen["resolved_at"]
    said = of_alert(runs, alert)
    assert said[0]["decision"] == "pending approval" and said[0]["host"] == "fleet1", said
    assert [d["decision"] for d in said[1:]] == ["resolved"], said
    assert [d for d in decisions(runs) if d["decision"] == "approved" and d.get("runbook") == P1]
    # nothing of P1 ran in the check run (it says so); the approved run investigated and restarted fleet1 alone
    assert "Check mode: nothing was changed" in run_stdout(check_run)
    # the hosts outside the alert's --limit are said to be outside it, not unreachable
    approved_said = run_stdout(approved_run)
    assert re.search(r"Outside this run \(--limit [^)]*fleet1[^)]*\): fleet2, fleet3", approved_said), \
        approved_said[-3000:]
    assert "UNREACHABLE" not in approved_said and "Not investigated" not in approved_said
    verdict = json.loads((approved_run / "drill.json").read_text())
    assert verdict["passed"] is True and verdict["via_alert"]["alert"] == alert, verdict["checks"]
    checks = {(c["name"], c["target"]): c for c in verdict["checks"]}
    assert checks[("check_changed_nothing", "")]["ok"] and "not restarted" in checks[("check_changed_nothing", "")][
        "detail"]
    assert checks[("unit_restarted", "fleet1")]["ok"]
    assert checks[("healthy", "fleet2")]["ok"] and checks[("healthy", "fleet3")]["ok"]
    assert_timings_add_up(verdict["via_alert"]["timings"], "fault_to_healthy")
    assert "via alert %s, approved): PASSED, recovered in" % alert in out
    after = main_pids(stack)
    assert after["fleet1"] not in ("0", before["fleet1"]), (before, after)
    assert [after["fleet2"], after["fleet3"]] == [before["fleet2"], before["fleet3"]], (before, after)
    return approved_run, checks


def test_a_wedged_host_fires_consecutive_errors_and_the_approved_p1_restarts_it(stack, tmp_path):
    runs = tmp_path / "runs"
    before = main_pids(stack)
    proc, out = alert_drill_on_stack(stack, runs, "wedged", "approve", runbook=P1)
    assert proc.returncode == 0, out[-8000:]
    assert "fleet1: wedged: " in out
    assert " -e resolve=restart -e memory_growth_mb=999999 -e error_threshold=20" in out
    approved_run, _ = assert_p1_approved_on_fleet1(stack, runs, out, "ConsecutiveErrors", before)
    said = run_stdout(approved_run)
    assert "Suspect instances, errors (over 20 in 15 min): fleet1\n" in said, said[-4000:]
    assert "Resolution: restarted one at a time: fleet1\n" in said
    # the restart cleared the wedged state: the fault's steady client goes on calling, answered 200 now
    assert_left_healthy_for_the_next_drill(stack, client_left=True)
    assert_chain_stopped_and_nothing_leaked(stack, runs, out)


def test_a_memory_leak_fires_memory_leak_detection_and_the_approved_p1_restarts_that_host(stack, tmp_path):
    runs = tmp_path / "runs"
    before = main_pids(stack)
    site = stack.state_dir / "lb" / "conf" / "cctelegram.conf"
    site_before = site.read_bytes()
    proc, out = alert_drill_on_stack(stack, runs, "memory-leak", "approve", runbook=P1)
    assert proc.returncode == 0, out[-8000:]
    leaked = re.search(r"fleet1: memory-leak: .*process_memory_bytes (\d+) -> (\d+) MB", out)
    assert leaked, out[:4000]
    approved_run, _ = assert_p1_approved_on_fleet1(stack, runs, out, "MemoryLeakDetection", before)
    said = run_stdout(approved_run)
    assert "Suspect instances, memory growth (over 32 MB in 10 min): fleet1\n" in said, said[-4000:]
    assert "Resolution: restarted one at a time: fleet1\n" in said
    # the restart gave the memory back and the new process does not leak (the heap the rule reads, on fleet1's own
    # metrics listener; the fault took LEAK_MAX_MB more)
    time.sleep(3)
    heap = services.metric(stack.serving_hosts()[0], "process_memory_heap_used_bytes")
    assert heap is not None and heap < (int(leaked.group(1)) + 64) * 2 ** 20, (heap, leaked.group(0))
    # P1 contained at nginx (limit_conn 8, the approver's input); the drill's undo run (the scenario's undo_vars,
    # contain_revert) put the site conf back byte for byte, as the direct drill does
    assert "Containment: concurrent connections a client at nginx 64 -> 8" in said
    verdict = json.loads((approved_run / "drill.json").read_text())
    assert [c["ok"] for c in verdict["checks"] if c["name"] == "undo"] == [True], verdict["checks"]
    assert "== Undo: mcpops run cctelegram-p1-response" in out and (approved_run / "undo" / "report.json").is_file()
    assert site.read_bytes() == site_before
    assert_left_healthy_for_the_next_drill(stack)
    assert_chain_stopped_and_nothing_leaked(stack, runs, out)
