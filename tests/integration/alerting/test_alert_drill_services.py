"""Issue 21's proof beyond the 1C gateway, on the local lab: ConnectorMCP's alerts start their runbooks, through the
approval, on the session's connector lab (two backend instances under supervisord behind nginx, MariaDB, Redis:
connector_lab_helpers.shared_connector_lab, taken in its `up` state). `mcpops drill --service connector-mcp --via-alert
--approval approve --dir <that lab>` reuses the running lab and leaves it running, healthy for the next drill:

- connector-restart: the chain the lab's adapter asks for (ConnectorDrillLab.alert_targets: ConnectorMCP has no
  /metrics, so a private blackbox_exporter probes each instance's /api/health as its inventory host), backend-1
  stopped; ConnectorMcpHealthFailing fires for backend-1 only, the watcher runs connector-restart in check mode on
  backend-1 and waits (the rule has no auto_remediate), the drill approves, the real run restarts backend-1 behind
  the health gate, backend-2 is left alone, the alert resolves into the run's report.
- connector-db-connections: a private mysqld_exporter of the lab's MariaDB (its own account, CONNECTION ADMIN only)
  scraped as backend-1; the mysql-max-connections fault's filler takes every connection, ConnectorMysqlConnectionsHigh
  fires, the check run kills nothing, the approved run (the approver's kill_idle_for and kill_users) kills the filler's
  idle sessions, and the backends' user can log in again.

Everything the drills start is stopped by PID; no secret of the lab in the output or the runs dir. The Loyalty API's
(LoyaltyApiDown -> loyalty-api-down on the compose lab) needs root and the compose lab's session fixture:
tests/integration/compose/test_loyalty_alert_drill.py."""

import json
import re

import pymysql
import pytest

from connector_lab_helpers import ready
from mcpops.lab import pids
from mcpops.lab.fixtures.loopback_daemon import DaemonError, find_binary
from mcpops.lab.local.service_catalog import MYSQL
from mcpops_command import files_containing, mcpops

CHAIN_BINARIES = ("prometheus", "prometheus-alertmanager")


def _require(*binaries):
    for binary in binaries:
        try:
            find_binary(binary, binary)
        except DaemonError as exc:
            pytest.skip(str(exc))  # the reason names the Debian package (scripts/bootstrap installs them)


@pytest.fixture
def connector_lab(shared_connector_lab):
    """The session's connector lab in its `up` state (every fault a test left undone)."""
    return ready(shared_connector_lab)


def decisions(runs):
    return [json.loads(line) for line in (runs / ".alerts" / "decisions.log").read_text().splitlines()]


def lab_secrets(lab_dir):
    found = [p.read_text().strip() for p in sorted((lab_dir / "secrets").iterdir()) if p.suffix != ".env"]
    found = [s for s in found if s]
    assert found and all(len(s) >= 12 for s in found), "a secret this short would match by chance"
    return found


def alert_drill(lab, runbook, runs, approval="approve"):
    return mcpops("drill", runbook, "--service", "connector-mcp", "--via-alert", "--approval", approval,
                  "--dir", str(lab.state_dir), lab_dir=lab.state_dir, runs_dir=runs)


def chain_gone(out, daemons):
    """The chain's processes, each named with its PID in the output, are gone."""
    started = dict(re.findall(r"^(mcpops watch|alertmanager|blackbox_exporter|prometheus) \(pid (\d+)\)", out, re.M))
    assert set(started) == set(daemons), out[:3000]
    assert not [name for name, pid in started.items() if pids.pid_alive(int(pid))]
    assert "the chain's logs are kept in" not in out
    assert "== 7/7 Lab left running (it was running before the drill)" in out


def approved_runs(runs, runbook, alert, host):
    """The check run and the approved run of the runbook, both on host alone, both naming the alert and its
    resolution; the decisions: pending approval, then the approval and the resolution (in either order: the alert
    may resolve before the approval is logged, which then records the resolution into its run)."""
    check_run, approved_run = sorted(runs.glob("*-%s*" % runbook))
    check = json.loads((check_run / "report.json").read_text())
    report = json.loads((approved_run / "report.json").read_text())
    assert check["check_mode"] is True and check["approval"]["status"] == "approved"
    assert report["check_mode"] is False and report["approval"]["status"] == "approved" and report["status"] == "ok"
    assert set(check["hosts"]) == set(report["hosts"]) == {host}
    assert report["alert"]["name"] == alert and report["alert"]["instance"] == host
    assert report["alert"]["labels"]["runbook"] == runbook and report["alert"]["labels"]["severity"] == "critical"
    assert "auto_remediate" not in report["alert"]["labels"]
    assert not [name for name in report["alert"]["labels"] if name.startswith("__")]  # relabelling's helper is gone
    assert report["alert"]["resolved_at"] and check["alert"]["resolved_at"] == report["alert"]["resolved_at"]
    said = decisions(runs)
    assert said[0]["decision"] == "pending approval" and sorted(d["decision"] for d in said[1:]) == \
        ["approved", "resolved"], said
    assert said[0]["host"] == host and said[0]["path"] == "check, then approval"
    [resolved] = [d for d in said if d["decision"] == "resolved"]
    assert str(check_run) in resolved["runs"] and set(resolved["runs"]) <= {str(check_run), str(approved_run)}
    return check_run, approved_run


def verdict_of(run_dir, alert):
    verdict = json.loads((run_dir / "drill.json").read_text())
    assert verdict["passed"] is True and verdict["service"] == "connector-mcp", verdict["checks"]
    assert verdict["targets"] == ["backend-1", "backend-2"] and verdict["via_alert"]["alert"] == alert
    timings = verdict["via_alert"]["timings"]
    parts = (timings["detection"] + timings["dispatch"] + timings["check_run"] + timings["approval"]
             + timings["runbook"] + timings["verify"])
    assert abs(parts - timings["fault_to_healthy"]) <= 0.5, timings  # they telescope; each is rounded to 0.1 s
    return {(c["name"], c["target"]): c for c in verdict["checks"]}


def test_a_stopped_connector_backend_fails_its_health_probe_and_the_approved_restart_repairs_that_one(connector_lab,
                                                                                                      tmp_path):
    _require(*CHAIN_BINARIES, "prometheus-blackbox-exporter")
    runbook, alert, runs = "connector-restart", "ConnectorMcpHealthFailing", tmp_path / "runs"
    proc = alert_drill(connector_lab, runbook, runs)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]

    # the chain probed both instances through the blackbox exporter, each as its inventory host
    assert re.search(r"blackbox_exporter \(pid \d+\): \S+, job connector-mcp-health probes "
                     r"http://127\.0\.0\.1:\d+/api/health as backend-1; job connector-mcp-health probes "
                     r"http://127\.0\.0\.1:\d+/api/health as backend-2", out), out[:3000]
    assert "prometheus: %s pending since" % alert in out and "(instance backend-1)" in out
    approved_runs(runs, runbook, alert, "backend-1")

    # the verdict: nothing changed before the approval, backend-1 restarted, backend-2 healthy and not in the run
    checks = verdict_of(sorted(runs.glob("*-%s*" % runbook))[-1], alert)
    assert "service STOPPED" in checks[("check_changed_nothing", "")]["detail"]
    assert checks[("instances_restarted", "backend-1")]["ok"]
    assert "restarted (PID None -> " in checks[("instances_restarted", "backend-1")]["detail"]
    assert checks[("healthy", "backend-2")]["ok"] and ("instances_restarted", "backend-2") not in checks
    assert "via alert %s, approved): PASSED, recovered in" % alert in out

    # the chain's four daemons stopped by PID, the lab left running and healthy (checked: healthy, both), no secret
    chain_gone(out, ("mcpops watch", "alertmanager", "blackbox_exporter", "prometheus"))
    assert checks[("healthy", "backend-1")]["ok"] and connector_lab.supervisord_pid()
    secrets = lab_secrets(connector_lab.state_dir)
    assert [s for s in secrets if s in out] == [] and files_containing(runs, secrets) == []


def test_a_denied_restart_leaves_the_backend_stopped_until_the_drill_starts_it_itself(connector_lab, tmp_path):
    _require(*CHAIN_BINARIES, "prometheus-blackbox-exporter")
    runbook, alert, runs = "connector-restart", "ConnectorMcpHealthFailing", tmp_path / "runs"
    proc = alert_drill(connector_lab, runbook, runs, approval="deny")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    assert "via alert %s, denied): PASSED, denied: the lab was left as it was" % alert in out, out[-4000:]

    # the one run is the check run, on backend-1 alone; the approval was denied, the alert resolved into it
    [check_run] = sorted(runs.glob("*-%s*" % runbook))
    report = json.loads((check_run / "report.json").read_text())
    assert report["check_mode"] is True and report["approval"]["status"] == "denied"
    assert set(report["hosts"]) == {"backend-1"} and report["alert"]["name"] == alert
    assert report["alert"]["instance"] == "backend-1" and report["alert"]["resolved_at"]
    said = decisions(runs)
    assert [d["decision"] for d in said] == ["pending approval", "denied", "resolved"], said
    assert said[0]["path"] == "check, then approval" and said[2]["runs"] == [str(check_run)]

    # backend-1 stayed stopped through the check run and the denial; only the drill's own repair started it, after
    verdict = json.loads((check_run / "drill.json").read_text())
    checks = {(c["name"], c["target"]): c for c in verdict["checks"]}
    for name in ("check_changed_nothing", "denied_changed_nothing"):
        [check] = [c for (n, _), c in checks.items() if n == name]
        assert check["ok"] and "service STOPPED" in check["detail"], check
    assert [c for (n, _), c in checks.items() if n == "check_run_denied"][0]["ok"]
    assert not [key for key in checks if key[0] == "instances_restarted"]
    assert out.index("denied_changed_nothing") < out.index("the drill repairs its own fault: supervisorctl start")
    assert verdict["passed"] and verdict["runbook_exit"] is None and verdict["recover_seconds"] is None

    chain_gone(out, ("mcpops watch", "alertmanager", "blackbox_exporter", "prometheus"))
    assert connector_lab.supervisord_pid()
    secrets = lab_secrets(connector_lab.state_dir)
    assert [s for s in secrets if s in out] == [] and files_containing(runs, secrets) == []


def test_every_mariadb_connection_taken_fires_its_alert_and_the_approved_runbook_kills_the_idle_ones(connector_lab,
                                                                                                    tmp_path):
    _require(*CHAIN_BINARIES, "prometheus-mysqld-exporter")
    runbook, alert, runs = "connector-db-connections", "ConnectorMysqlConnectionsHigh", tmp_path / "runs"
    proc = alert_drill(connector_lab, runbook, runs)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]

    # the chain scraped the lab's MariaDB through its mysqld_exporter alone, as backend-1 (no probe: no blackbox)
    assert re.search(r"job connector-mysql: http://127\.0\.0\.1:\d+/metrics every 5s as backend-1", out), out[:3000]
    assert "job connector-mcp-health" not in out
    assert "prometheus: %s pending since" % alert in out and "(instance backend-1)" in out
    assert '-e kill_idle_for=1s -e kill_users=["filler"]' in out  # what the approver gives: an alert cannot know
    check_run, approved_run = approved_runs(runs, runbook, alert, "backend-1")
    assert json.loads((approved_run / "report.json").read_text())["alert"]["labels"]["job"] == "connector-mysql"

    # the verdict: the filler's sessions all there after the check run, none after the approved run
    checks = verdict_of(approved_run, alert)
    before = checks[("check_changed_nothing", "")]
    assert before["ok"] and re.search(r"idle_sessions_killed: [1-9]\d* sessions of filler left", before["detail"])
    assert checks[("idle_sessions_killed", "")]["ok"]
    assert checks[("idle_sessions_killed", "")]["detail"] == "0 sessions of filler left"
    assert "via alert %s, approved): PASSED, recovered in" % alert in out

    # the chain's three daemons and the exporter stopped by PID; healthy for the next drill: both instances healthy
    # (the verdict's), and the backends' user logs in again
    chain_gone(out, ("mcpops watch", "alertmanager", "prometheus"))
    [exporter] = re.findall(r"mysqld_exporter \(pid (\d+)\) stopped by PID", out)
    assert not pids.pid_alive(int(exporter))
    assert checks[("healthy", "backend-1")]["ok"] and checks[("healthy", "backend-2")]["ok"]
    login = connector_lab.datastore_login(MYSQL)
    pymysql.connect(host=login["host"], port=login["port"], user=login["user"], password=login["password"],
                    database=login["database"], connect_timeout=10).close()
    secrets = lab_secrets(connector_lab.state_dir)  # the exporter's account's password among them
    assert (connector_lab.state_dir / "secrets" / "mysql_exporter_password").is_file()
    assert [s for s in secrets if s in out] == [] and files_containing(runs, secrets) == []
