"""Issue 21's proof, the whole real chain: `mcpops drill inc-001-gateway-down --via-alert` starts the local lab, a
private Prometheus (the collection's rules, the lab's `for:`), a private Alertmanager and `mcpops watch` (the real
ansible-rulebook) on loopback, stops the gateway, and waits: INC-001's alert fires, the watcher runs INC-001 for real
at once (the alert says auto_remediate and the runbook allows it), the gateway is healthy again, the alert resolves
into the run's report. Everything it started is stopped by PID. Every wait is the drill's own poll with a deadline.

It also covers what tests/integration/alerting/test_alert_chain.py proved with a stand-in receiver (the alert's
`instance` is the inventory host, the scrape's helper label is gone, the same alert resolves) and the
auto-remediation test that tests/integration/eda/test_alert_to_runbook.py ran on an already healthy gateway."""

import json
import re
import socket

import pytest

from loopback import free_port
from mcpops.lab import pids
from mcpops.lab.fixtures.loopback_daemon import DaemonError, find_binary
from mcpops.lab.local.lab import LocalLab
from mcpops_command import files_containing, mcpops

LAB_HOST = "lab-gateway"
RUNBOOK = "inc-001-gateway-down"


def _require(binary, package):
    try:
        find_binary(binary, package)
    except DaemonError as exc:
        pytest.skip(str(exc))


def port_closed(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


def decisions(runs):
    return [json.loads(line) for line in (runs / ".alerts" / "decisions.log").read_text().splitlines()]


def test_a_stopped_gateway_is_repaired_by_the_runbook_its_alert_starts_and_the_alert_resolves(tmp_path):
    _require("prometheus", "prometheus")
    _require("prometheus-alertmanager", "prometheus-alertmanager")
    lab_dir, runs = tmp_path / "lab", tmp_path / "runs"
    proc = mcpops("drill", RUNBOOK, "--via-alert", "--listen", "127.0.0.1:%d" % free_port(),
                  lab_dir=lab_dir, runs_dir=runs)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]

    # one run of INC-001, started by the alert: no check run before it, no approval
    [run_dir] = sorted(runs.glob("*-%s*" % RUNBOOK))
    verdict = json.loads((run_dir / "drill.json").read_text())
    assert verdict["passed"] is True and verdict["fault"] == "stop" and verdict["runbook_exit"] == 0
    assert {c["name"] for c in verdict["checks"]} >= {"healthy", "tokens", "service_running", "alert_named",
                                                      "no_check_run", "resolved"}
    report = json.loads((run_dir / "report.json").read_text())
    assert report["check_mode"] is False and "approval" not in report and report["status"] == "ok"
    assert set(report["hosts"]) == {LAB_HOST}
    alert = report["alert"]
    assert alert["name"] == "OnecGatewayDown" and alert["instance"] == LAB_HOST
    assert alert["labels"]["runbook"] == RUNBOOK and alert["labels"]["severity"] == "critical"
    assert alert["labels"]["auto_remediate"] == "true"
    assert not [name for name in alert["labels"] if name.startswith("__")]  # the scrape's helper label is gone
    assert alert["resolved_at"] and "**resolved at %s**" % alert["resolved_at"] in (run_dir / "report.md").read_text()

    # the watcher decided exactly this: the firing alert ran INC-001 on the lab's host, the same alert resolved;
    # nothing before the fault
    said = decisions(runs)
    assert [d["decision"] for d in said] == ["ran", "resolved"], said
    ran, resolved = said
    assert ran["path"] == "auto-remediate" and ran["status"] == 0 and ran["host"] == LAB_HOST
    assert ran["run_dir"] == str(run_dir) and resolved["runs"] == [str(run_dir)]
    assert ran["fingerprint"] == resolved["fingerprint"] == alert["fingerprint"] == verdict["via_alert"]["fingerprint"]

    # the clock: every part measured, and they add up to the fault-to-healthy time
    timings = verdict["via_alert"]["timings"]
    assert all(timings[part] is not None and timings[part] >= 0 for part in
               ("detection", "pending", "for", "dispatch", "runbook", "verify", "fault_to_healthy", "resolved"))
    parts = timings["detection"] + timings["dispatch"] + timings["runbook"] + timings["verify"]
    assert abs(parts - timings["fault_to_healthy"]) <= 0.3, timings  # they telescope; each is rounded to 0.1 s
    assert timings["for"] >= 1.9  # the lab's `for: 2s`, between Prometheus' activeAt and the alert's startsAt
    assert "drill %s (stop, local lab, via alert OnecGatewayDown): PASSED, recovered in" % RUNBOOK in out
    assert re.search(r"detection \d+\.\ds: fault -> alert pending", out)

    # everything the drill started is gone: the chain's processes by PID, the webhook's port, the lab
    started = [int(pid) for pid in re.findall(r"\((?:pid) (\d+)\)", out)]
    assert len(started) == 3 and not [pid for pid in started if pids.pid_alive(pid)]
    port = int(re.search(r"the webhook http://127\.0\.0\.1:(\d+)/alerts", out).group(1))
    assert port_closed(port)
    lab = LocalLab(lab_dir)
    assert lab.supervisord_pid() is None and "lab down: local lab stopped" in out
    assert files_containing(runs, [lab.admin_token(), lab.mcp_token()]) == []


def test_without_auto_remediate_the_alert_only_checks_and_a_denial_leaves_the_gateway_down(tmp_path):
    _require("prometheus", "prometheus")
    _require("prometheus-alertmanager", "prometheus-alertmanager")
    lab_dir, runs = tmp_path / "lab", tmp_path / "runs"
    proc = mcpops("drill", RUNBOOK, "--via-alert", "--approval", "deny", "--listen", "127.0.0.1:%d" % free_port(),
                  lab_dir=lab_dir, runs_dir=runs)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]

    # the one run is the check run: the rule's copy had no auto_remediate, so the watcher asked for approval
    [check_run] = sorted(runs.glob("*-%s*" % RUNBOOK))
    report = json.loads((check_run / "report.json").read_text())
    assert report["check_mode"] is True and "auto_remediate" not in report["alert"]["labels"]
    assert report["approval"]["status"] == "denied" and report["alert"]["resolved_at"]
    said = decisions(runs)
    assert [d["decision"] for d in said] == ["pending approval", "denied", "resolved"], said
    assert said[0]["path"] == "check, then approval" and said[2]["runs"] == [str(check_run)]
    # the gateway stayed down through the check run and the denial; the drill itself started it again afterwards
    verdict = json.loads((check_run / "drill.json").read_text())
    checks = {c["name"]: c for c in verdict["checks"]}
    assert checks["check_changed_nothing"]["ok"] and "service STOPPED" in checks["check_changed_nothing"]["detail"]
    assert checks["denied_changed_nothing"]["ok"] and "service STOPPED" in checks["denied_changed_nothing"]["detail"]
    assert out.index("denied_changed_nothing") < out.index("the drill repairs its own fault: supervisorctl start")
    assert verdict["passed"] and verdict["runbook_exit"] is None and verdict["recover_seconds"] is None
    assert "via alert OnecGatewayDown, denied): PASSED, denied: the lab was left as it was" in out
    assert set(verdict["via_alert"]["timings"]) == {"detection", "pending", "for", "dispatch", "check_run", "resolved"}
    assert LocalLab(lab_dir).supervisord_pid() is None


def test_a_rate_storm_starts_inc_005_in_check_mode_and_the_approval_runs_it_with_the_approver_input(tmp_path):
    """The cheapest changing runbook through approval: a ci-bot token storms the gateway into 429s,
    OnecGatewayRateLimited fires (the lab's rule copy counts over 30 s: the storm is one burst), INC-005 runs in check
    mode and waits; nothing changes until `mcpops approve <id> -e rate_limit=2` (the new rateLimit is the approver's,
    an alert cannot know it); then INC-005 runs for real, the token's rateLimit is 2, and the alert's resolution is
    in both reports. The reports must name the alert: the secret masker (plugins/plugin_utils/secret_mask.py) has to
    keep a CamelCase name made of words such as OnecGatewayRateLimited."""
    _require("prometheus", "prometheus")
    _require("prometheus-alertmanager", "prometheus-alertmanager")
    runbook = "inc-005-rate-limit"
    lab_dir, runs = tmp_path / "lab", tmp_path / "runs"
    proc = mcpops("drill", runbook, "--via-alert", "--approval", "approve", "--listen", "127.0.0.1:%d" % free_port(),
                  lab_dir=lab_dir, runs_dir=runs)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]

    # two runs: the check run the alert started, then the one the approval started
    check_run, real_run = sorted(runs.glob("*-%s*" % runbook))
    checked = json.loads((check_run / "report.json").read_text())
    assert checked["check_mode"] is True and checked["alert"]["name"] == "OnecGatewayRateLimited"
    assert "auto_remediate" not in checked["alert"]["labels"] and checked["alert"]["labels"]["runbook"] == runbook
    assert not [step for step in checked["timeline"] if step.get("status") == "changed"]  # nothing changed
    report = json.loads((real_run / "report.json").read_text())
    assert report["check_mode"] is False and report["status"] == "ok" and set(report["hosts"]) == {LAB_HOST}
    assert report["alert"]["name"] == "OnecGatewayRateLimited" and report["alert"]["instance"] == LAB_HOST
    for data in (checked, report):
        assert data["approval"]["status"] == "approved" and data["approval"]["run"] == str(real_run)
        assert data["approval"]["inputs"] == {"rate_limit": 2}
        assert data["alert"]["resolved_at"] and data["alert"]["fingerprint"] == checked["alert"]["fingerprint"]

    # the watcher asked for approval, the operator approved, the alert resolved (it may resolve before the approved
    # run ends: the ledger records it into that run when it is added)
    said = decisions(runs)
    assert sorted(d["decision"] for d in said) == ["approved", "pending approval", "resolved"], said
    [pending] = [d for d in said if d["decision"] == "pending approval"]
    [approved] = [d for d in said if d["decision"] == "approved"]
    assert pending["path"] == "check, then approval" and pending["check_run"] == str(check_run)
    assert approved["run_dir"] == str(real_run) and approved["status"] == 0 and approved["inputs"] == {"rate_limit": 2}

    # before the approval the token kept the fault's rateLimit; after it, the one the approver gave
    verdict = json.loads((real_run / "drill.json").read_text())
    checks = {c["name"]: c for c in verdict["checks"]}
    assert verdict["passed"] and verdict["runbook_exit"] == 0
    assert checks["check_changed_nothing"]["ok"] and "rateLimit 5/min" in checks["check_changed_nothing"]["detail"]
    assert checks["rate_limited"]["ok"] and "rateLimit 2/min" in checks["rate_limited"]["detail"]
    assert checks["tokens"]["ok"] and checks["healthy"]["ok"] and checks["resolved"]["ok"]
    assert out.index("check_changed_nothing") > out.index("decision: pending approval")
    assert out.index("Step 2: Adjust token rateLimit") > out.index("mcpops approve")

    # the clock: each hand-over measured, and they add up to the fault-to-healthy time
    timings = verdict["via_alert"]["timings"]
    parts = ("detection", "dispatch", "check_run", "approval", "runbook", "verify")
    assert all(timings[part] is not None and timings[part] >= 0 for part in parts + ("fault_to_healthy", "resolved"))
    assert abs(sum(timings[part] for part in parts) - timings["fault_to_healthy"]) <= 0.5, timings
    assert "via alert OnecGatewayRateLimited, approved): PASSED, recovered in" in out

    started = [int(pid) for pid in re.findall(r"\((?:pid) (\d+)\)", out)]
    assert len(started) == 3 and not [pid for pid in started if pids.pid_alive(pid)]
    lab = LocalLab(lab_dir)
    assert lab.supervisord_pid() is None
    assert files_containing(runs, [lab.admin_token(), lab.mcp_token()]) == []


def test_an_auth_spike_starts_inc_002_in_check_mode_and_the_approved_run_reissues_the_token(tmp_path):
    """INC-002 through its alert: a revoked ci-bot token keeps calling /mcp (403) with an unknown secret besides
    (401), OnecGatewayAuthFailures fires (the lab's rule copy counts over 30 s), INC-002 runs in check mode and waits;
    the approval needs no input (the runbook picks the prefix with the most auth.failed); the approved run issues
    ci-bot one new token whose secret lands in a 0600 file under the runs dir, and nowhere else: not in a report,
    the drill's output or the watcher's log."""
    _require("prometheus", "prometheus")
    _require("prometheus-alertmanager", "prometheus-alertmanager")
    runbook, alert = "inc-002-auth-failures", "OnecGatewayAuthFailures"
    lab_dir, runs = tmp_path / "lab", tmp_path / "runs"
    proc = mcpops("drill", runbook, "--via-alert", "--approval", "approve", "--listen", "127.0.0.1:%d" % free_port(),
                  lab_dir=lab_dir, runs_dir=runs)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]

    # two runs: the check run the alert started (it issued nothing), then the one the approval started
    check_run, real_run = sorted(runs.glob("*-%s*" % runbook))
    checked = json.loads((check_run / "report.json").read_text())
    assert checked["check_mode"] is True and checked["alert"]["name"] == alert
    assert "auto_remediate" not in checked["alert"]["labels"] and checked["alert"]["instance"] == LAB_HOST
    report = json.loads((real_run / "report.json").read_text())
    assert report["check_mode"] is False and report["status"] == "ok" and set(report["hosts"]) == {LAB_HOST}
    for data in (checked, report):
        assert data["approval"]["status"] == "approved" and data["approval"]["run"] == str(real_run)
        assert data["approval"]["inputs"] == {} and data["alert"]["resolved_at"]
    said = decisions(runs)
    assert sorted(d["decision"] for d in said) == ["approved", "pending approval", "resolved"], said

    verdict = json.loads((real_run / "drill.json").read_text())
    checks = {c["name"]: c for c in verdict["checks"]}
    assert verdict["passed"] and verdict["runbook_exit"] == 0
    unchanged = checks["check_changed_nothing"]
    assert unchanged["ok"] and "the run names no new token" in unchanged["detail"]
    assert checks["tokens"]["ok"] and "1 issued by the run, the others unchanged" in checks["tokens"]["detail"]
    assert checks["token_reissued"]["ok"] and ": active, of ci-bot" in checks["token_reissued"]["detail"]
    assert checks["healthy"]["ok"] and checks["resolved"]["ok"]
    timings = verdict["via_alert"]["timings"]
    parts = ("detection", "dispatch", "check_run", "approval", "runbook", "verify")
    assert all(timings[part] is not None and timings[part] >= 0 for part in parts + ("fault_to_healthy", "resolved"))
    assert abs(sum(timings[part] for part in parts) - timings["fault_to_healthy"]) <= 0.5, timings

    # the new secret: one 0600 file where the runbook writes it, and in no other file or output
    [secret_file] = sorted((runs / "secrets").glob("ci-bot-*.token"))
    assert secret_file.stat().st_mode & 0o777 == 0o600 and str(secret_file) in checks["token_reissued"]["detail"]
    secret = secret_file.read_text().strip()
    assert len(secret) > 16 and secret not in out
    assert files_containing(runs, [secret]) == ["%s: %s..." % (secret_file, secret[:6])]
    lab = LocalLab(lab_dir)
    assert files_containing(runs, [lab.admin_token(), lab.mcp_token()]) == []
    started = [int(pid) for pid in re.findall(r"\((?:pid) (\d+)\)", out)]
    assert len(started) == 3 and not [pid for pid in started if pids.pid_alive(pid)]
    assert lab.supervisord_pid() is None


def test_a_stale_backup_starts_backup_scheduled_at_once_and_its_backup_resolves_the_alert(tmp_path):
    """backup-scheduled through OnecGatewayBackupStale: the lab's backups are dated 30 h back (fault stale-backup:
    the gateway's own onec_gateway_last_backup_timestamp_seconds goes past the rule's 26 h, which stays as shipped;
    only `for:` is the lab's), the rule fires, and with auto_remediate (the rule's label and the runbook's metadata)
    the watcher runs backup-scheduled at once: no check run, no approval. Its backup makes the metric fresh and the
    alert resolves into its report."""
    _require("prometheus", "prometheus")
    _require("prometheus-alertmanager", "prometheus-alertmanager")
    runbook, alert = "backup-scheduled", "OnecGatewayBackupStale"
    lab_dir, runs = tmp_path / "lab", tmp_path / "runs"
    proc = mcpops("drill", runbook, "--via-alert", "--listen", "127.0.0.1:%d" % free_port(),
                  lab_dir=lab_dir, runs_dir=runs)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert re.search(r"stale-backup: 1 backup\(s\) under \S+ dated 30 h back", out)

    [run_dir] = sorted(runs.glob("*-%s*" % runbook))
    report = json.loads((run_dir / "report.json").read_text())
    assert report["check_mode"] is False and "approval" not in report and report["status"] == "ok"
    assert report["alert"]["name"] == alert and report["alert"]["instance"] == LAB_HOST
    assert report["alert"]["labels"]["auto_remediate"] == "true" and report["alert"]["resolved_at"]
    said = decisions(runs)
    assert [d["decision"] for d in said] == ["ran", "resolved"], said
    assert said[0]["path"] == "auto-remediate" and said[0]["run_dir"] == str(run_dir)

    verdict = json.loads((run_dir / "drill.json").read_text())
    checks = {c["name"]: c for c in verdict["checks"]}
    assert verdict["passed"] and verdict["runbook_exit"] == 0
    assert checks["backup_fresh"]["ok"] and "taken after the fault" in checks["backup_fresh"]["detail"]
    assert checks["no_check_run"]["ok"] and checks["tokens"]["ok"] and checks["resolved"]["ok"]
    timings = verdict["via_alert"]["timings"]
    parts = ("detection", "dispatch", "runbook", "verify")
    assert all(timings[part] is not None and timings[part] >= 0 for part in parts + ("fault_to_healthy", "resolved"))
    assert abs(sum(timings[part] for part in parts) - timings["fault_to_healthy"]) <= 0.3, timings
    assert "drill %s (stale-backup, local lab, via alert %s): PASSED, recovered in" % (runbook, alert) in out

    started = [int(pid) for pid in re.findall(r"\((?:pid) (\d+)\)", out)]
    assert len(started) == 3 and not [pid for pid in started if pids.pid_alive(pid)]
    lab = LocalLab(lab_dir)
    assert lab.supervisord_pid() is None
    assert files_containing(runs, [lab.admin_token(), lab.mcp_token()]) == []


def test_an_expiring_gateway_certificate_starts_cert_renewal_and_the_approval_installs_the_drill_s_new_one(tmp_path):
    """The certificate alert end to end through blackbox_exporter: the lab gateway's TLS endpoint serves a certificate
    of the lab's test CA with 5 days left (fault gateway-cert-expiring), the chain's blackbox_exporter probes it (job
    onec-gateway-tls, instance the inventory host) and OnecGatewayCertificateExpiring fires; cert-renewal runs in
    check mode (it refuses at once: an alert carries no certificate) and waits; the drill plays the CA, issues a
    90-day pair and approves with it (`mcpops approve <id> -e new_cert=... -e new_key=...`); cert-renewal installs
    it, reloads the endpoint (kill -HUP) and verifies the new serial; the probe sees the new expiry and the alert
    resolves into both reports. No private key in any output or run file."""
    _require("prometheus", "prometheus")
    _require("prometheus-alertmanager", "prometheus-alertmanager")
    _require("prometheus-blackbox-exporter", "prometheus-blackbox-exporter")
    runbook, alert = "cert-renewal", "OnecGatewayCertificateExpiring"
    lab_dir, runs = tmp_path / "lab", tmp_path / "runs"
    from mcpops.lab.fixtures.gateway_tls import LabGatewayTls

    tls = LabGatewayTls(lab_dir)
    try:
        proc = mcpops("drill", runbook, "--via-alert", "--approval", "approve", "--listen",
                      "127.0.0.1:%d" % free_port(), lab_dir=lab_dir, runs_dir=runs)
    finally:
        leaked = tls.stop()  # by its recorded PID; `mcpops lab down` should already have stopped it
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert leaked is None, "mcpops lab down left the gateway's TLS endpoint running"

    # the chain probed the lab gateway's TLS endpoint through its own blackbox_exporter, as the inventory host
    assert re.search(r"blackbox_exporter \(pid \d+\): http://127\.0\.0\.1:\d+, job onec-gateway-tls probes "
                     r"https://127\.0\.0\.1:\d+/healthz as lab-gateway", out)

    # two runs: the check run the alert started, then the one the approval started
    check_run, real_run = sorted(runs.glob("*-%s*" % runbook))
    checked = json.loads((check_run / "report.json").read_text())
    assert checked["check_mode"] is True and checked["alert"]["name"] == alert
    assert checked["alert"]["instance"] == LAB_HOST and checked["alert"]["labels"]["runbook"] == runbook
    assert not [step for step in checked["timeline"] if step.get("status") == "changed"]  # nothing changed
    report = json.loads((real_run / "report.json").read_text())
    assert report["check_mode"] is False and report["status"] == "ok" and set(report["hosts"]) == {LAB_HOST}
    renewal = lab_dir / "gateway-tls" / "renewal"
    for data in (checked, report):
        assert data["approval"]["status"] == "approved" and data["approval"]["run"] == str(real_run)
        inputs = data["approval"]["inputs"]
        assert inputs["new_cert"] == str(renewal / "fullchain.pem") and inputs["new_key"] == str(renewal / "privkey.pem")
        assert inputs["tls_service_reload_command"][:2] == ["kill", "-HUP"]
        assert data["alert"]["resolved_at"] and data["alert"]["fingerprint"] == checked["alert"]["fingerprint"]

    # before the approval the endpoint kept the fault's certificate; after it, the drill's new one is served
    verdict = json.loads((real_run / "drill.json").read_text())
    checks = {c["name"]: c for c in verdict["checks"]}
    assert verdict["passed"] and verdict["runbook_exit"] == 0, checks
    fault = json.loads((lab_dir / "faults" / "gateway-cert-expiring.json").read_text())
    assert checks["check_changed_nothing"]["ok"] and "serves %s, 5." % fault["serial"] in \
        checks["check_changed_nothing"]["detail"]
    assert checks["certificate_renewed"]["ok"] and fault["serial"] not in \
        checks["certificate_renewed"]["detail"].split(",")[0]
    assert checks["healthy"]["ok"] and checks["resolved"]["ok"] and checks["alert_named"]["ok"]
    assert (lab_dir / "gateway-tls" / "server.crt").read_bytes() == (renewal / "fullchain.pem").read_bytes()
    assert out.index("decision: pending approval") < out.index("the drill plays the CA: certificate") < out.index("mcpops approve")
    assert out.index("mcpops approve") < out.index("Step 4: Put the new pair in place")
    assert "via alert %s, approved): PASSED, recovered in" % alert in out

    # the clock: each hand-over measured, and they add up to the fault-to-healthy time
    timings = verdict["via_alert"]["timings"]
    parts = ("detection", "dispatch", "check_run", "approval", "runbook", "verify")
    assert all(timings[part] is not None and timings[part] >= 0 for part in parts + ("fault_to_healthy", "resolved"))
    assert abs(sum(timings[part] for part in parts) - timings["fault_to_healthy"]) <= 0.5, timings

    # no private key anywhere: neither the new one nor the one it replaced (kept in the backup beside server.crt)
    keys = [renewal / "privkey.pem", *sorted((lab_dir / "gateway-tls").glob(".cert-backups/*/key.pem"))]
    assert len(keys) == 2
    bodies = [key.read_text().splitlines()[1] for key in keys]
    assert files_containing(runs, bodies) == [] and not [body for body in bodies if body in out]

    # everything started is gone: the chain's four processes and the lab's TLS endpoint, each by PID; the lab
    started = [int(pid) for pid in re.findall(r"\((?:pid) (\d+)\)", out)]
    assert len(started) == 5 and not [pid for pid in started if pids.pid_alive(pid)]
    lab = LocalLab(lab_dir)
    assert lab.supervisord_pid() is None
    assert files_containing(runs, [lab.admin_token(), lab.mcp_token()]) == []
