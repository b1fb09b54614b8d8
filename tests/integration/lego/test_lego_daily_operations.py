"""Seed 001's Daily Operations on the LEGO stack: playbooks/lego-morning-health-check.yml and
playbooks/lego-shift-handover.yml. The morning check is healthy on the stack; in check mode it changes no API object
and no row, and its overnight log review counts the error lines written into a pod's log in its window (and not one
older); a piece of equipment set to `error` through the API is a finding the play fails on, and the shift handover
picks that finding up together with a failed run's report planted in a temporary runs dir. The DB password (the
inventory's lego_db_password) is in no output, report, findings or handover file."""

import datetime
import json
import re
import urllib.request
from pathlib import Path

from lego_playbook_runs import lego_inventory, report, run_lego_playbook
from mcpops.lab.lego import dashboard
from mcpops.lab.lego.stack import DB_NAME, DB_USER, NAMESPACE

MORNING = "lego-morning-health-check"
HANDOVER = "lego-shift-handover"
STAMP = "%Y-%m-%dT%H:%M:%SZ"
LOG_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")


def stamp(moment=None):
    return (moment or datetime.datetime.now(datetime.timezone.utc)).strftime(STAMP)


def set_equipment_status(stack, equipment_id, status):
    url = sorted(stack.dashboard_urls().values())[0] + "/api/v8/equipment/%s/status" % equipment_id
    request = urllib.request.Request(url, data=json.dumps({"status": status, "actor": "test"}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as answer:
        assert answer.status == 200


def api_objects(stack):
    """{kind/name: resourceVersion} of every object of the namespace a runbook could touch."""
    items = stack.get_json("deployments,replicasets,statefulsets,pods,services,networkpolicies,configmaps,secrets")
    return {"%s/%s" % (o["kind"], o["metadata"]["name"]): o["metadata"]["resourceVersion"] for o in items["items"]}


def database_state(stack):
    import psycopg

    with psycopg.connect(**stack.pg.dsn(user=DB_USER, dbname=DB_NAME, password=stack.db_password, tcp=True)) as conn:
        equipment = conn.execute("SELECT equipment_id, status, updated_at FROM equipment ORDER BY 1").fetchall()
        audit = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    return equipment, audit


def error_lines_in_window(stack, pod, hours=12):
    """grep -i error over the pod's log lines stamped in the last `hours` (a line without a stamp takes the one before
    it, as the node agent's kubelet API serves them)."""
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
    count, last = 0, None
    for line in Path(stack.agent.pod_log(NAMESPACE, pod, "dashboard")).read_text().splitlines():
        match = LOG_STAMP.match(line)
        if match:
            last = datetime.datetime.strptime(match.group(1), STAMP).replace(tzinfo=datetime.timezone.utc)
        if last is not None and last >= since and "error" in line.lower():
            count += 1
    return count


def assert_no_secret(stack, proc, *directories):
    texts = [proc.stdout, proc.stderr]
    for directory in directories:
        texts += [p.read_text(errors="replace") for p in Path(directory).rglob("*") if p.is_file()]
    assert all(stack.db_password not in text for text in texts)
    assert all(stack.api_key not in text for text in texts)


def morning_check(stack, tmp_path, report_dir, flags=()):
    proc = run_lego_playbook(lego_inventory(stack, tmp_path / "inventory"), report_dir, MORNING, flags=flags)
    findings = json.loads((Path(report_dir) / "findings.json").read_text())
    return proc, findings


def test_the_morning_check_is_healthy_on_the_stack(lego_stack, tmp_path):
    proc, findings = morning_check(lego_stack, tmp_path, tmp_path / "runs" / "morning")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert findings["healthy"] is True and findings["findings"] == [], findings
    assert findings["dashboard"]["ready"] == 2 and findings["dashboard"]["healthy"] is True
    # the seed's jq '.data[] | {id: .equipment_id, status: .status}' of the lab's equipment
    assert {row["id"]: row["status"] for row in findings["equipment"]}["CNC-001"] == "operational"
    assert "equipment PRN-002 (Bambu X1 Carbon #2) is maintenance" in findings["notes"]  # planned: a note only
    assert findings["database"]["accepting"] is True and "accepting connections" in findings["database"]["pg_isready"]
    assert findings["alerts"] == {"checked": False, "prometheus": None, "firing": []}
    assert sorted(findings["logs"]["error_lines"]) == sorted(findings["dashboard"]["pods"])
    assert "Nothing wrong found" in out and "alerts: not configured" in out
    assert report(tmp_path / "runs" / "morning")["status"] == "ok"
    assert_no_secret(lego_stack, proc, tmp_path / "runs")


def test_check_mode_changes_nothing_and_the_overnight_review_counts_the_error_lines(lego_stack, tmp_path):
    pod = sorted(lego_stack.dashboard_urls())[0]
    now = datetime.datetime.now(datetime.timezone.utc)
    written = ["%s ERROR GET /api/v8/equipment 503 4.2ms database: overnight test %d" % (stamp(now), n)
               for n in range(3)]
    written.append("%s WARN worker: Error while flushing overnight test" % stamp(now))
    # older than the window: --since=12h must leave it out
    written.append("%s ERROR GET /health 503 1.0ms database: yesterday's test" % stamp(now - datetime.timedelta(hours=13)))
    with open(lego_stack.agent.pod_log(NAMESPACE, pod, "dashboard"), "a", encoding="utf-8") as log:
        log.write("\n".join(written) + "\n")
    expected = error_lines_in_window(lego_stack, pod)
    assert expected >= 4  # the four written now, and whatever the pod logged before in the window

    objects, rows = api_objects(lego_stack), database_state(lego_stack)
    proc, findings = morning_check(lego_stack, tmp_path, tmp_path / "runs" / "morning-check", flags=("--check",))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert api_objects(lego_stack) == objects
    assert database_state(lego_stack) == rows

    assert findings["check_mode"] is True
    assert findings["logs"]["error_lines"][pod] == expected, findings["logs"]
    assert "%s: %d error lines in the last 12h" % (pod, expected) in findings["notes"]
    examples = findings["logs"]["examples"][pod]
    assert len(examples) == 3 and examples[-1].endswith("Error while flushing overnight test")
    assert not any("yesterday's test" in line for lines in findings["logs"]["examples"].values() for line in lines)
    assert_no_secret(lego_stack, proc, tmp_path / "runs")


def test_a_faulty_machine_is_a_finding_and_the_handover_picks_it_up_with_a_failed_run(lego_stack, tmp_path):
    runs = tmp_path / "runs"
    morning_dir = runs / ("%s-%s" % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"), MORNING))
    # a failed run of another runbook during the shift, as the incident_report callback writes it
    failed_dir = runs / "20250101T000000Z-lego-service-outage"
    failed_dir.mkdir(parents=True)
    (failed_dir / "report.json").write_text(json.dumps({
        "runbook": {"id": "lego-service-outage", "title": "LEGO MCP service outage P1", "changes": True},
        "status": "failed", "check_mode": False, "started": stamp(), "ended": stamp(),
        "timeline": [{"step": "Smoke test", "host": "lego-controller", "status": "failed",
                      "message": "dashboard pod answered 503 on /health"}],
        "summary": [], "manual_steps": ["Escalate to the on-call lead"]}))

    set_equipment_status(lego_stack, "CNC-001", "error")
    try:
        proc, findings = morning_check(lego_stack, tmp_path, morning_dir)
        handover_dir = tmp_path / "handover"
        handover = run_lego_playbook(lego_inventory(lego_stack, tmp_path / "inventory"), handover_dir, HANDOVER,
                                     {"runs_dir": str(runs), "handover_hours": 12})
    finally:
        set_equipment_status(lego_stack, "CNC-001", "operational")

    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-6000:]
    assert findings["healthy"] is False
    assert findings["findings"] == ["equipment CNC-001 (Shapeoko 5 Pro) is error"], findings
    assert "Morning health check of LEGO MCP found:" in out and "CNC-001 (Shapeoko 5 Pro) is error" in out
    assert report(morning_dir)["status"] == "failed"

    assert handover.returncode == 0, (handover.stdout + handover.stderr)[-6000:]
    document = (handover_dir / "handover.md").read_text()
    data = json.loads((handover_dir / "handover.json").read_text())
    assert data["morning_check"]["run"] == morning_dir.name
    assert data["morning_check"]["findings"] == findings["findings"]
    assert "- FINDING: equipment CNC-001 (Shapeoko 5 Pro) is error" in document
    assert sorted(run["name"] for run in data["incidents"]) == sorted([failed_dir.name, morning_dir.name])
    assert "lego-service-outage: FAILED" in document and "dashboard pod answered 503 on /health" in document
    assert "[ ] Escalate to the on-call lead" in document
    assert "| CNC-001 | Shapeoko 5 Pro | cnc | error |" in document  # manufacturing status, from the API
    assert {e["id"]: e["status"] for e in data["equipment"]}["CNC-001"] == "error"
    assert "morning check %s: 1 findings" % morning_dir.name in handover.stdout
    assert report(handover_dir)["status"] == "ok"
    assert_no_secret(lego_stack, proc, runs)
    assert_no_secret(lego_stack, handover, handover_dir)
    # the stack is as it was: every pod healthy and CNC-001 operational again
    assert lego_stack.wait_healthy()
    status = dashboard.get_json(sorted(lego_stack.dashboard_urls().values())[0] + "/api/v8/equipment")[1]
    assert {e["equipment_id"]: e["status"] for e in status["data"]}["CNC-001"] == "operational"
