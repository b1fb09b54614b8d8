"""Issue 21's proof for the Loyalty API on the session's compose lab (conftest.py's loyalty_lab: no second dockerd):
each of its alerts a lab fault fires, drilled as mcpops.drill.alert_drill runs `mcpops drill <runbook> --lab compose
--via-alert [--approval approve]`, one after the other on the same lab. The chain's private Prometheus scrapes the
API's /metrics with the lab's metrics token as a Bearer key (ComposeDrillLab.alert_targets: Prometheus 2.42 cannot send
X-Metrics-Token; the reference service takes either), the fault goes in, the alert fires, `mcpops watch` starts the
runbook its `runbook` label names on loyalty-compose, the drill verifies and the alert resolves into the reports:

- LoyaltyApiDown (api-stopped): loyalty-api-down in check mode (nothing started), approved with `-e log_lines=20`, the
  container runs again;
- LoyaltyApiServerErrors (server-errors: every business request 500 while the drill's users call): triage, read-only,
  at once; its bundle lists the 5xx; the drill repairs its own fault and the alert resolves;
- LoyaltyOutboxBacklog (outbox-backlog: the worker off while users earn, over 1000 events waiting):
  loyalty-workers-outbox in check mode (the worker still off), approved, the backlog delivered;
- LoyaltyOutboxDeadEvents (dead-events: the merchant refused until events died, then accepts): loyalty-outbox-dead in
  check mode (nothing requeued), approved, the dead events delivered;
- LoyaltyPostgresConnectionsExhausted (db-connections-exhausted: a leaking client's 92 idle sessions as loyalty, held
  by a process of the drill's, scraped by a private postgres_exporter): db-connection-exhaustion in check mode
  (nothing terminated), approved with `-e idle_for=1s -e only_applications=["drill-leaked-pool"]` as the
  inventory's pg_login_* superuser, the sessions gone; the holder ended (it held nothing any more) and the connections
  back as before.

After each: the chain's processes stopped by PID, no secret of the lab in any file of the runs dir nor in the output,
the session's lab left running and as the drill found it (every container running, /ready 200, no fault file, the
outbox empty and delivering), which the next drill relies on."""

import json
import re

import pytest

from mcpops.drill import command
from mcpops.drill.alert_drill import alert_drill
from mcpops.drill.compose_checks import check_bundle_5xx, compose_symptom_check
from mcpops.drill.compose_drill_lab import ComposeDrillLab
from mcpops.drill.scenarios import COMPOSE, LOYALTY, alerted_scenario
from mcpops.lab import pids
from mcpops.lab.compose.loyalty_project import SERVICES
from mcpops.lab.fixtures.loopback_daemon import DaemonError, find_binary

READY_TIMEOUT = 60  # seconds for the session's lab to be ready on a loaded 2-core machine
SECRETS = ("metrics_token", "db_password", "pg_superuser_password", "telegram_bot_token")
HOST = "loyalty-compose"


@pytest.fixture
def chain_binaries():
    for binary in ("prometheus", "prometheus-alertmanager"):
        try:
            find_binary(binary, binary)
        except DaemonError as exc:
            pytest.skip(str(exc))


def drill(loyalty_lab, runs, runbook_id, alert, approval=None):
    """The alert drill of runbook_id's scenario that alert starts, on the session's lab; (verdict, output). The
    fault is repaired afterwards whatever happened (the session's lab is never left broken)."""
    loyalty_lab.wait_ready(timeout=READY_TIMEOUT)
    ok, seen = as_found(loyalty_lab)
    assert ok, f"the session's lab before the drill: {seen}"  # what the drill must leave it as, too
    runbook, _ = command.plan(runbook_id, None, COMPOSE, LOYALTY)
    scenario = alerted_scenario(runbook_id, COMPOSE, LOYALTY)  # what --via-alert without --fault drills
    assert scenario is not None and scenario.alert == alert
    lab, said = ComposeDrillLab(lab=loyalty_lab), []
    try:
        verdict = alert_drill(lab, runbook, scenario, approval=approval, out=said.append, runs_dir=runs)
    finally:
        try:
            clean = as_found(loyalty_lab)[0]
        except Exception:  # noqa: BLE001 (the outbox could not be read: repair anyway)
            clean = False
        if not clean:
            lab.repair(None, scenario.fault)
    # the clock of each drill in the test's log (docs/alerting.md's figures; pytest -rP shows it)
    print("\n".join([verdict.summary(), *verdict.injected, *((verdict.via_alert or {}).get("timing_lines") or [])]))
    return verdict, "\n".join(str(line) for line in said)


def as_found(loyalty_lab):
    """(ok, what was seen): the lab as every drill finds it: each container running, /ready 200, no fault asked of
    the api or the merchant, WORKERS_ENABLED=1, the outbox empty (nothing pending or dead) and not paused."""
    states = loyalty_lab.states()
    outbox = loyalty_lab.outbox("status")
    fault_files = [name for name in ("api", "merchant") if faults_of(loyalty_lab, name)]
    seen = {"not running": sorted(s for s in SERVICES if (states.get(s) or ("?",))[0] != "running"),
            "ready": loyalty_lab.get("/ready")[0], "fault files": fault_files,
            "WORKERS_ENABLED": loyalty_lab.read_env().get("WORKERS_ENABLED"),
            "outbox": {k: outbox.get(k) for k in ("pending", "dead", "paused")}}
    ok = (not seen["not running"] and seen["ready"] == 200 and not fault_files and seen["WORKERS_ENABLED"] == "1"
          and seen["outbox"] == {"pending": 0, "dead": 0, "paused": False})
    return ok, seen


def faults_of(loyalty_lab, service):
    """The faults a service's faults.json asks for ({} when there is none: an empty one heals)."""
    path = loyalty_lab.dir / "state" / service / "faults.json"
    return json.loads(path.read_text()) if path.exists() else {}


def decisions(runs):
    return [json.loads(line) for line in (runs / ".alerts" / "decisions.log").read_text().splitlines()]


def assert_left_clean(loyalty_lab, runs, out, processes=3):
    """The chain's three processes gone (and the lab's exporter when it ran one), the lab left running and as found,
    no secret of the lab written or said."""
    started = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", out)]
    assert len(started) == processes and not [pid for pid in started if pids.pid_alive(pid)]
    assert "== 7/7 Lab left running (it was running before the drill)" in out
    ok, seen = as_found(loyalty_lab)
    assert ok, seen  # the next drill starts from here
    for path in (p for p in runs.rglob("*") if p.is_file()):
        text = path.read_bytes()
        for name in SECRETS:
            assert loyalty_lab.secret(name).encode() not in text, f"{name} is in {path}"
    assert not [name for name in SECRETS if loyalty_lab.secret(name) in out]


def assert_approved(verdict, out, runs, runbook_id, alert, severity,
                    scrape=r"job loyalty-api: http://127\.0\.0\.1:\d+/metrics, Bearer key from \S+/metrics_token as "
                           r"loyalty-compose"):
    """What an approved alert drill proves: a check run, then the approved run, both naming the alert and its
    resolution; the watcher's decisions; the clock's parts adding up."""
    assert verdict.passed, out[-6000:]
    assert re.search(scrape, out), out[:3000]
    assert "prometheus: %s pending since" % alert in out
    check_run, approved_run = sorted(runs.glob("*-%s*" % runbook_id))
    check = json.loads((check_run / "report.json").read_text())
    report = json.loads((approved_run / "report.json").read_text())
    assert check["check_mode"] is True and report["check_mode"] is False and report["status"] == "ok"
    assert report["approval"]["status"] == "approved"
    assert set(check["hosts"]) == set(report["hosts"]) == {HOST}
    named = report["alert"]
    assert named["name"] == alert and named["instance"] == HOST and "auto_remediate" not in named["labels"]
    assert named["labels"]["runbook"] == runbook_id and named["labels"]["severity"] == severity
    assert named["resolved_at"] and check["alert"]["resolved_at"] == named["resolved_at"]
    said = decisions(runs)
    # the alert may resolve before the approval is logged: the approval then records the resolution into its run
    assert said[0]["decision"] == "pending approval" and said[0]["host"] == HOST and sorted(
        d["decision"] for d in said[1:]) == ["approved", "resolved"], said
    checks = {c.name: c for c in verdict.checks}
    assert checks["check_changed_nothing"].ok and checks["healthy"].ok and checks["resolved"].ok
    assert checks["check_run_alert_named"].ok and checks["alert_named"].ok and checks["approval"].ok
    timings = verdict.via_alert["timings"]
    parts = (timings["detection"] + timings["dispatch"] + timings["check_run"] + timings["approval"]
             + timings["runbook"] + timings["verify"])
    assert abs(parts - timings["fault_to_healthy"]) <= 0.5, timings  # they telescope; each is rounded to 0.1 s
    return checks


def test_a_stopped_api_fires_loyalty_api_down_and_the_approved_runbook_starts_it_again(loyalty_lab, tmp_path,
                                                                                      chain_binaries):
    runs = tmp_path / "runs"
    verdict, out = drill(loyalty_lab, runs, "loyalty-api-down", "LoyaltyApiDown", approval="approve")
    checks = assert_approved(verdict, out, runs, "loyalty-api-down", "LoyaltyApiDown", "critical")
    assert "loyalty-compose: api-stopped: injected (compose stop api)" in out
    # the check run started nothing: the container was still stopped before the approval
    assert "api_running: compose service api: exited" in checks["check_changed_nothing"].detail
    assert checks["api_running"].ok and "/ready 200" in checks["healthy"].detail
    assert_left_clean(loyalty_lab, runs, out)


def test_a_denied_start_leaves_the_api_stopped_until_the_drill_starts_it_itself(loyalty_lab, tmp_path, chain_binaries):
    runs = tmp_path / "runs"
    verdict, out = drill(loyalty_lab, runs, "loyalty-api-down", "LoyaltyApiDown", approval="deny")
    assert verdict.passed and verdict.runbook_exit is None and verdict.recover_seconds is None, out[-6000:]
    assert "denied: the lab was left as it was" in verdict.summary()
    # the one run is the check run: denied, the alert resolved into it (after the drill's own repair)
    [check_run] = sorted(runs.glob("*-loyalty-api-down*"))
    check = json.loads((check_run / "report.json").read_text())
    assert check["check_mode"] is True and check["approval"]["status"] == "denied" and set(check["hosts"]) == {HOST}
    assert check["alert"]["name"] == "LoyaltyApiDown" and check["alert"]["resolved_at"]
    assert [d["decision"] for d in decisions(runs)] == ["pending approval", "denied", "resolved"]
    # the api stayed stopped through the check run and the denial; only the drill's repair started it, after
    checks = {c.name: c for c in verdict.checks}
    for name in ("check_changed_nothing", "denied_changed_nothing"):
        assert checks[name].ok and "api_running: compose service api: exited" in checks[name].detail, checks[name]
    assert checks["check_run_denied"].ok and checks["resolved"].ok
    assert out.index("denied_changed_nothing") < out.index("the drill repairs its own fault: api-stopped: repaired")
    assert_left_clean(loyalty_lab, runs, out)


def test_a_5xx_storm_under_traffic_starts_triage_at_once_and_its_bundle_names_the_5xx(loyalty_lab, tmp_path,
                                                                                     chain_binaries):
    runs = tmp_path / "runs"
    verdict, out = drill(loyalty_lab, runs, "triage", "LoyaltyApiServerErrors")
    assert verdict.passed, out[-6000:]
    assert verdict.read_only and verdict.runbook_exit == 0  # triage ends green whatever it finds
    assert verdict.summary().startswith("drill triage (server-errors, loyalty-api on the compose lab, via alert "
                                        "LoyaltyApiServerErrors): PASSED, the runbook named the fault in")
    assert "loyalty-compose: server-errors: 5xx-storm: injected; the drill's users read a balance" in out
    # one run, at once: read-only (no check run, no approval), on the host the alert named
    [run_dir] = sorted(runs.glob("*-triage*"))
    report = json.loads((run_dir / "report.json").read_text())
    assert report["check_mode"] is False and "approval" not in report and set(report["hosts"]) == {HOST}
    named = report["alert"]
    assert named["name"] == "LoyaltyApiServerErrors" and named["instance"] == HOST and named["resolved_at"]
    assert named["labels"]["runbook"] == "triage" and named["labels"]["severity"] == "warning"
    said = decisions(runs)
    assert [d["decision"] for d in said] == ["ran", "resolved"], said
    assert said[0]["path"] == "read-only" and said[0]["run_dir"] == str(run_dir)
    checks = {c.name: c for c in verdict.checks}
    assert checks["no_check_run"].ok and checks["healthy"].ok and checks["resolved"].ok
    # the bundle triage wrote (in clear: the lab has no forensic key) lists the business requests answered 500
    bundle = checks["bundle_api_5xx"]
    assert bundle.ok and f"{run_dir}/{HOST}.json" in bundle.detail
    assert bundle.detail.endswith("e.g. %s 500" % ComposeDrillLab.USERS_PATH), bundle.detail
    # the check names the fault or fails: no bundle named, or a bundle without a 5xx, is not a diagnosis
    lab = ComposeDrillLab(lab=loyalty_lab)
    [target] = lab.targets()
    assert not compose_symptom_check(lab, target, "bundle_api_5xx", {}, "").ok
    assert not check_bundle_5xx(HOST, "x.json", {"last_errors": ['{"url": "/api/v1/x", "statusCode": 404}']}).ok
    # the drill repaired its own fault (the users stopped, no fault file) after the diagnosis, then it resolved
    assert out.index("bundle_api_5xx") < out.index("the drill repairs its own fault: server-errors: the drill's "
                                                     "users stopped; 5xx-storm: repaired")
    timings = verdict.via_alert["timings"]
    assert "fault_to_healthy" not in timings
    parts = timings["detection"] + timings["dispatch"] + timings["runbook"] + timings["verify"]
    assert abs(parts - timings["fault_to_named"]) <= 0.4, timings
    assert_left_clean(loyalty_lab, runs, out)


def test_an_outbox_backlog_fires_and_the_approved_loyalty_workers_outbox_delivers_it(loyalty_lab, tmp_path,
                                                                                    chain_binaries):
    runs = tmp_path / "runs"
    verdict, out = drill(loyalty_lab, runs, "loyalty-workers-outbox", "LoyaltyOutboxBacklog", approval="approve")
    checks = assert_approved(verdict, out, runs, "loyalty-workers-outbox", "LoyaltyOutboxBacklog", "warning")
    assert re.search(r"outbox-backlog: injected \(WORKERS_ENABLED=0, up -d worker; 1010 earn calls by 4 users in "
                     r"[\d.]+s: \d+ events waiting in the outbox\)", out)
    # the check run brought nothing back: the worker still disabled and the backlog waiting before the approval
    before = checks["check_changed_nothing"].detail
    assert "WORKERS_ENABLED=0" in before and int(re.search(r"outbox pending (\d+)", before).group(1)) > 1000
    assert checks["outbox_drained"].ok and "worker running, WORKERS_ENABLED=1" in checks["outbox_drained"].detail
    assert_left_clean(loyalty_lab, runs, out)


def test_dead_outbox_events_fire_and_the_approved_loyalty_outbox_dead_resends_them(loyalty_lab, tmp_path,
                                                                                  chain_binaries):
    runs = tmp_path / "runs"
    verdict, out = drill(loyalty_lab, runs, "loyalty-outbox-dead", "LoyaltyOutboxDeadEvents", approval="approve")
    checks = assert_approved(verdict, out, runs, "loyalty-outbox-dead", "LoyaltyOutboxDeadEvents", "warning")
    assert re.search(r"dead-events: injected \(the merchant answered 429 until \d+ events died", out)
    # the check run requeued nothing: the dead events were still dead before the approval
    assert int(re.search(r"dead (\d+)", checks["check_changed_nothing"].detail).group(1)) >= 3
    assert checks["dead_resent"].ok
    assert_left_clean(loyalty_lab, runs, out)


def client_sessions(loyalty_lab):
    """{application_name: count} of the client sessions to the lab's PostgreSQL, asked as the superuser."""
    with loyalty_lab.db(superuser=True) as conn:
        rows = conn.execute("SELECT application_name, count(*) FROM pg_stat_activity WHERE backend_type = "
                            "'client backend' AND pid <> pg_backend_pid() GROUP BY 1").fetchall()
    return dict(rows)


def test_leaked_sessions_fire_loyalty_postgres_exhausted_and_the_approved_runbook_terminates_them(loyalty_lab, tmp_path,
                                                                                                 chain_binaries):
    try:
        find_binary("prometheus-postgres-exporter", "prometheus-postgres-exporter")
    except DaemonError as exc:
        pytest.skip(str(exc))
    runs = tmp_path / "runs"
    before = client_sessions(loyalty_lab)
    leak = ComposeDrillLab.LEAK_APPLICATION
    assert not before.get(leak), before
    verdict, out = drill(loyalty_lab, runs, "db-connection-exhaustion", "LoyaltyPostgresConnectionsExhausted",
                         approval="approve")
    checks = assert_approved(verdict, out, runs, "db-connection-exhaustion", "LoyaltyPostgresConnectionsExhausted",
                             "critical", scrape=r"job loyalty-postgres: http://127\.0\.0\.1:\d+/metrics as "
                                                r"loyalty-compose")
    holder = re.search(r"db-connections-exhausted: injected \(92 idle sessions of drill-leaked-pool as loyalty, held "
                       r"by pid (\d+)\)", out)
    assert holder, out[:3000]
    # the check run terminated nothing: the leaked sessions were all there before the approval
    assert re.search(r"92 sessions of drill-leaked-pool left in pg_stat_activity", checks["check_changed_nothing"].detail)
    assert checks["leaked_sessions_terminated"].ok, checks["leaked_sessions_terminated"].detail
    assert re.search(r"postgres_exporter \(pid \d+\) stopped by PID", out), out[-3000:]
    # the lab as found: the holder gone (it ends once the runbook terminated every session it held: the drill repaired
    # nothing), none of its sessions left, the others' connections as before
    assert "the drill repairs its own fault" not in out
    assert not pids.pid_alive(int(holder.group(1)))
    after = client_sessions(loyalty_lab)
    assert not after.get(leak) and sum(after.values()) <= sum(before.values()) + 2, (before, after)
    assert_left_clean(loyalty_lab, runs, out, processes=4)  # the chain's three and the postgres_exporter
