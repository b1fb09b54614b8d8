"""Issue 21's last four 1C gateway alerts, each starting its runbook end to end, one after the other on ONE local lab
(the module's: `mcpops lab up` once; `mcpops drill` reuses a running lab and leaves it running). Each drill brings up
its own chain (a private Prometheus with the collection's rules at the lab's `for:`, Alertmanager, `mcpops watch`,
and blackbox_exporter where the rule needs a probe), breaks the lab, and waits while the alert fires and the watcher
starts the runbook the alert names on the host it names:

    OnecUpstreamDown          upstream-down          inc-004-upstream-degraded  read-only: exit 2, names the upstream
    OnecGatewayIndexNotReady  not-ready              triage                     read-only: ends green, its sealed
                                                                                bundle has /readyz's index check failing
    OnecGatewayServerErrors   usage-log-unwritable   health-check               read-only: exit 2, names the MCP call
                                                                                the gateway answered 500
    OnecGatewayNoBackup       no-backup              backup-scheduled           auto-remediate: a new backup at once

A read-only runbook names the fault and leaves it: the drill then repairs its own fault (mcpops.lab.local.faults'
repairs) so that the alert resolves into the run's report. Each test ends by checking the lab healthy and its fault
gone: the next drill's starting point. Every wait is the drill's own poll with a deadline."""

import json
import re
import stat

import pytest

from loopback import free_port
from mcpops.lab import pids
from mcpops.lab.fixtures.loopback_daemon import DaemonError, find_binary
from mcpops.lab.fixtures.odata_upstream import LabUpstream, read_mode
from mcpops.lab.http_client import http_json
from mcpops.lab.local import faults
from mcpops.lab.local.lab import LocalLab
from mcpops_command import files_containing, mcpops

LAB_HOST = "lab-gateway"
CHAIN = re.compile(r"^(mcpops watch|alertmanager|blackbox_exporter|prometheus) \(pid (\d+)\)", re.M)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    for binary in ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"):
        try:
            find_binary(binary, binary)
        except DaemonError as exc:
            pytest.skip(str(exc))  # the reason names the Debian package (scripts/test installs them)
    state = tmp_path_factory.mktemp("h21-onec") / "lab"
    # a port of its own for the 1C upstream too: another lab's INC-004 fault may hold the default 8443
    up = mcpops("lab", "up", "--listen", "127.0.0.1:%d" % free_port(), "--upstream", "127.0.0.1:%d" % free_port(),
                lab_dir=state)
    lab = LocalLab(state)
    try:
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
        lab.supervisord_at_start = lab.supervisord_pid()
        yield lab
    finally:
        upstream = LabUpstream(state, lab.data_dir).server()
        down = mcpops("lab", "down", lab_dir=state)
    assert down.returncode == 0, down.stdout + down.stderr[-3000:]
    assert lab.supervisord_pid() is None
    assert not upstream or not pids.pid_alive(upstream.pid)  # the upstream the first drill's chain started, by PID


def drill(lab, runs, runbook, fault):
    proc = mcpops("drill", runbook, "--fault", fault, "--via-alert", lab_dir=lab.state_dir, runs_dir=runs)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    return out


def decisions(runs):
    return [json.loads(line) for line in (runs / ".alerts" / "decisions.log").read_text().splitlines()]


def passed_through_the_alert(lab, runs, out, runbook, fault, alert, path, expect_exit, chain=3):
    """What every alert drill proves: one run, started at once by the alert on the lab's host, ended as expected,
    the verdict passed, the alert named in the report and resolved into it; the watcher decided exactly that (no
    other alert of the lab fired); the clock's parts add up; the chain's `chain` processes gone by PID; the lab reused
    and left running and healthy; no secret of the lab in the runs dir. Returns (run dir, {check name: check})."""
    [run_dir] = sorted(runs.glob("*-%s*" % runbook))
    verdict = json.loads((run_dir / "drill.json").read_text())
    checks = {c["name"]: c for c in verdict["checks"]}
    assert verdict["passed"] is True and verdict["fault"] == fault, checks
    assert verdict["runbook_exit"] == expect_exit and verdict["via_alert"]["alert"] == alert
    report = json.loads((run_dir / "report.json").read_text())
    assert report["check_mode"] is False and "approval" not in report and set(report["hosts"]) == {LAB_HOST}
    assert report["alert"]["name"] == alert and report["alert"]["instance"] == LAB_HOST
    assert report["alert"]["labels"]["runbook"] == runbook and report["alert"]["resolved_at"]
    assert "**resolved at %s**" % report["alert"]["resolved_at"] in (run_dir / "report.md").read_text()
    assert checks["alert_named"]["ok"] and checks["no_check_run"]["ok"] and checks["resolved"]["ok"]

    said = decisions(runs)
    assert [(d["alertname"], d["decision"]) for d in said] == [(alert, "ran"), (alert, "resolved")], said
    ran, resolved = said
    assert ran["path"] == path and ran["host"] == LAB_HOST and ran["status"] == expect_exit
    assert ran["run_dir"] == str(run_dir) and resolved["runs"] == [str(run_dir)]
    assert ran["fingerprint"] == report["alert"]["fingerprint"] == verdict["via_alert"]["fingerprint"]

    timings = verdict["via_alert"]["timings"]
    end = "fault_to_named" if verdict["read_only"] else "fault_to_healthy"
    parts = ("detection", "dispatch", "runbook", "verify")
    assert all(timings[part] is not None and timings[part] >= 0 for part in parts + (end, "resolved")), timings
    assert abs(sum(timings[part] for part in parts) - timings[end]) <= 0.3, timings
    done = "the runbook named the fault" if verdict["read_only"] else "recovered"
    assert "drill %s (%s, local lab, via alert %s): PASSED, %s in" % (runbook, fault, alert, done) in out

    started = [int(pid) for _, pid in CHAIN.findall(out)]
    assert len(started) == chain and not [pid for pid in started if pids.pid_alive(pid)], out[:3000]
    assert "Lab left running (it was running before the drill)" in out
    status = lab.status()
    assert status["healthy"] and lab.supervisord_pid() == lab.supervisord_at_start, status
    assert files_containing(runs, [lab.admin_token(), lab.mcp_token()]) == []
    return run_dir, checks


def test_a_failing_1c_upstream_fires_its_probe_s_alert_and_inc_004_names_the_upstream(lab, tmp_path):
    """The chain's blackbox_exporter probes the lab's 1C publication (<odataUrl>/$metadata over TLS verified against
    the upstream's own test CA) as the gateway host that uses it; the upstream answers 500, OnecUpstreamDown fires,
    INC-004 runs at once (read-only), ends red naming the upstream; the drill puts the upstream back and the probe's
    alert resolves."""
    runs = tmp_path / "runs"
    out = drill(lab, runs, "inc-004-upstream-degraded", "upstream-down")
    assert re.search(r"^blackbox_exporter \(pid \d+\): \S+, job onec-upstream probes "
                     r"https://127\.0\.0\.1:\d+/\S+/\$metadata as lab-gateway$", out, re.M), out[:3000]
    assert re.search(r"job onec-upstream: blackbox_exporter GETs \S+ \(https_2xx_onec-upstream: 2xx, TLS verified "
                     r"against \S+/upstream/ca\.crt\) as lab-gateway", out)
    run_dir, checks = passed_through_the_alert(lab, runs, out, "inc-004-upstream-degraded", "upstream-down",
                                               "OnecUpstreamDown", "read-only", 2, chain=4)
    assert checks["named_upstream"]["ok"] and "upstream" in checks["named_upstream"]["detail"]
    # named first, then repaired by the drill, then resolved
    assert out.index("named_upstream") < out.index("the drill repairs its own fault: the lab OData upstream") \
        < out.index("== 6/7 Resolved")
    assert read_mode(LabUpstream(lab.state_dir, lab.data_dir).mode_file) == "healthy"


def test_a_missing_index_fires_index_not_ready_and_triage_s_sealed_bundle_shows_the_index_check_failing(lab,
                                                                                                         tmp_path):
    """index/ moved aside: /readyz's index check fails (onec_gateway_ready{check="index"} 0), the gateway answers
    everything else. OnecGatewayIndexNotReady starts triage at once; triage ends green whatever it finds, so the drill
    opens the bundle it sealed with the lab's forensic key and wants /readyz failing there with its index check
    named. The 503s of the health probes in the meantime are too few for OnecGatewayServerErrors (the watcher
    decided on one alert only). The drill moves index/ back."""
    runs = tmp_path / "runs"
    out = drill(lab, runs, "triage", "not-ready")
    run_dir, checks = passed_through_the_alert(lab, runs, out, "triage", "not-ready", "OnecGatewayIndexNotReady",
                                               "read-only", 0)
    named = checks["bundle_names_index"]
    [bundle] = sorted(run_dir.glob("%s.json.sealed" % LAB_HOST))
    assert named["ok"] and str(bundle) in named["detail"] and "'failing: index/ missing'" in named["detail"], named
    assert b"index/ missing" not in bundle.read_bytes()  # sealed: the drill read it with the lab's key
    assert "moved %s back to %s" % (lab.state_dir / "index.moved", lab.data_dir / "index") in out
    assert (lab.data_dir / "index").is_dir() and not (lab.state_dir / "index.moved").exists()


def test_5xx_on_tool_calls_fire_server_errors_and_the_health_check_ends_red_naming_the_failing_call(lab, tmp_path):
    """usage.jsonl a link to a log volume that is not there: the gateway answers a client's 40 tool calls 500, the
    first 4 half a second apart, the rest at once (/healthz and /readyz still 200). OnecGatewayServerErrors (over 5% of responses, and over 10 in the window)
    starts the health check at once; its MCP checks call the tools and it ends red naming the call answered 500.
    The drill puts the usage log back: every line it held is there, and a tool call answers 200 again."""
    usage = lab.data_dir / "usage.jsonl"
    lines_before = usage.read_bytes().count(b"\n")
    runs = tmp_path / "runs"
    out = drill(lab, runs, "health-check", "usage-log-unwritable")
    fault = json.loads((lab.state_dir / "faults" / "usage-log-unwritable.json").read_text())
    assert fault["calls"] == {"500": faults.USAGE_LOG_CALLS}, fault
    run_dir, checks = passed_through_the_alert(lab, runs, out, "health-check", "usage-log-unwritable",
                                               "OnecGatewayServerErrors", "read-only", 2)
    named = checks["named_server_errors"]
    assert named["ok"] and re.search(r"MCP tools/call at http://127\.0\.0\.1:\d+/mcp -> HTTP 500", named["detail"])
    assert "usage-log-unwritable: %s is the file again" % usage in out
    assert stat.S_ISREG(usage.lstat().st_mode) and usage.read_bytes().count(b"\n") >= lines_before
    assert not (lab.state_dir / "usage.jsonl.aside").exists()
    status, answer = http_json(lab.api_url + "/mcp", method="POST", token=lab.mcp_token(), timeout=10,
                               body={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                     "params": {"name": "list_profiles", "arguments": {}}})
    assert status == 200 and not answer["result"]["isError"], answer


def test_a_gateway_without_backups_fires_no_backup_and_backup_scheduled_takes_one_at_once(lab, tmp_path):
    """Every backup moved aside (onec_gateway_backups 0): OnecGatewayNoBackup, auto-remediate (the rule's label and
    backup-scheduled's metadata), runs backup-scheduled for real at once; its backup is the one the gateway lists
    and the alert resolves. Then the lab's repair (a denied drill's) puts the moved backups back beside it."""
    before = {b["id"] for b in lab_backups(lab)}
    assert before, "the lab takes a backup at its start"
    runs = tmp_path / "runs"
    out = drill(lab, runs, "backup-scheduled", "no-backup")
    assert "no-backup: moved %d backup(s) from %s to %s; the gateway lists 0" % (
        len(before), lab.data_dir / "backups", lab.state_dir / "backups.moved") in out
    run_dir, checks = passed_through_the_alert(lab, runs, out, "backup-scheduled", "no-backup",
                                               "OnecGatewayNoBackup", "auto-remediate", 0)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["alert"]["labels"]["auto_remediate"] == "true" and report["status"] == "ok"
    assert checks["backup_fresh"]["ok"] and "taken after the fault" in checks["backup_fresh"]["detail"]
    [new] = [b["id"] for b in lab_backups(lab)]
    assert new not in before
    # the repair a denied drill runs: the moved backups back, beside the one the run took
    said = faults.repair(lab, "no-backup")
    assert said == "no-backup: %d backup(s) back under %s" % (len(before), lab.data_dir / "backups")
    assert {b["id"] for b in lab_backups(lab)} == before | {new}
    assert not (lab.state_dir / "backups.moved").exists() and lab.status()["healthy"]


def lab_backups(lab):
    status, body = http_json(lab.api_url + "/api/system/backups", token=lab.admin_token(), timeout=10)
    assert status == 200, body
    return body["backups"]


def test_the_read_only_checks_fail_when_the_runbook_says_nothing_of_the_fault():
    """No lab: the two new symptom checks on what a run that missed the fault would leave. Triage's bundle with /readyz
    passing (or none named, or unreadable) does not name the index; a health check red for another reason does not
    name a 5xx."""
    from mcpops.drill.checks import check_bundle_names_index, check_named, triage_bundle_path

    ready = {"health": {"checks": [{"name": "readyz", "ok": True, "status": 200,
                                    "body": {"status": "ready", "checks": {"storage": "ok", "index": "ok"}}}]}}
    assert not check_bundle_names_index(LAB_HOST, "/runs/x/lab-gateway.json.sealed", ready).ok
    assert not check_bundle_names_index(LAB_HOST, None, None).ok
    assert not check_bundle_names_index(LAB_HOST, "/runs/x/lab-gateway.json.sealed", None).ok
    storage = {"health": {"checks": [{"name": "readyz", "ok": False, "status": 503, "body": {
        "status": "not_ready", "checks": {"storage": "failing: a store no longer parses", "index": "ok"}}}]}}
    assert not check_bundle_names_index(LAB_HOST, "/runs/x/lab-gateway.json.sealed", storage).ok
    summary = "lab-gateway | ... 0 error lines; bundle /runs/20261206T052000-triage/lab-gateway.json.sealed"
    assert triage_bundle_path(summary, LAB_HOST) == "/runs/20261206T052000-triage/lab-gateway.json.sealed"
    assert triage_bundle_path(summary, "other-host") is None
    red_for_a_backup = ("fatal: [lab-gateway]: FAILED! =>\n  msg:\n  - 'Health check of lab-gateway found:'\n"
                        "  - no valid backup in /var/lib/onec-mcp-gateway/backups\n")
    assert not check_named("named_server_errors", red_for_a_backup).ok
    assert check_named("named_server_errors", red_for_a_backup.replace(
        "no valid backup in /var/lib/onec-mcp-gateway/backups",
        "'MCP tools/call at http://127.0.0.1:3000/mcp -> HTTP 500: internal internal error'")).ok
