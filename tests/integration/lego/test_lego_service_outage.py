"""playbooks/lego-service-outage.yml on the LEGO stack (seed 001, "Runbook: Service Outage (P1)"): from a crash loop
after a bad image back to healthy by a rollback the playbook decides itself, with check mode first changing nothing;
from a dashboard scaled to zero back by scale; bad input refused before anything is read. Each test leaves the stack
healthy (faults.repair in a finally). The database password (a canary: it is in the inventory) never shows."""

import time

from lego_playbook_runs import lego_inventory, report, run_lego_playbook

from mcpops.lab.lego import faults
from mcpops.lab.lego.stack import DEADLINE

PLAYBOOK = "lego-service-outage"


def summary_of(report_dir):
    """The run's summary lines (runbook_summary), one text."""
    return "\n".join(line for entry in report(report_dir)["summary"] for line in entry["lines"])


def versions(stack, crashing=()):
    """{kind/name: resourceVersion} of the namespace's deployments, replica sets and pods; for a crash-looping pod
    (`crashing`), whose status the node agent updates at each simulated restart, its uid (the same pod, not replaced)
    and the image its spec runs."""
    listed = stack.get_json("deployments,replicasets,pods")
    out = {}
    for item in listed["items"]:
        meta = item["metadata"]
        key = "%s/%s" % (item["kind"], meta["name"])
        if item["kind"] == "Pod" and meta["name"] in crashing:
            out[key] = (meta["uid"], item["spec"]["containers"][0]["image"])
        else:
            out[key] = meta["resourceVersion"]
    return out


def dashboard_image(stack):
    return stack.get_json("deployment", "dashboard")["spec"]["template"]["spec"]["containers"][0]["image"]


def wait_crash_loop(stack, deadline=DEADLINE):
    """Until a dashboard pod shows CrashLoopBackOff (the node agent's back-off); its name."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for pod in stack.get_json("pods", "-l", "app=dashboard")["items"]:
            for status in pod.get("status", {}).get("containerStatuses") or []:
                if (status.get("state", {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                    return pod["metadata"]["name"]
        time.sleep(0.5)
    raise AssertionError("no dashboard pod reached CrashLoopBackOff within %ss" % deadline)


def audit_rows(stack):
    """(count, newest actor) of the audit log, read as the database owner."""
    import psycopg

    from mcpops.lab.lego.stack import DB_NAME, DB_USER
    with psycopg.connect(autocommit=True, **stack.pg.dsn(user=DB_USER, dbname=DB_NAME, password=stack.db_password,
                                                         tcp=True)) as conn:
        count = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        newest = conn.execute("SELECT actor, signed_by FROM audit_log ORDER BY ts DESC, id DESC LIMIT 1").fetchone()
    return count, newest


def assert_no_secret(stack, proc, report_dir):
    canary = stack.db_password
    assert canary and canary not in proc.stdout and canary not in proc.stderr
    for path in report_dir.rglob("*"):
        if path.is_file():
            assert canary not in path.read_text(errors="replace"), path


def test_crash_loop_after_a_bad_image_is_rolled_back_check_mode_first(lego_stack, tmp_path):
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    good = dashboard_image(stack)
    try:
        bad = faults.inject(stack, "bad-image")
        crashing = wait_crash_loop(stack)
        audit_before = audit_rows(stack)

        before = versions(stack, crashing=[crashing])
        checked = run_lego_playbook(inventory, tmp_path / "report-check", PLAYBOOK, flags=["--check"])
        assert checked.returncode == 0, checked.stdout[-6000:] + checked.stderr[-2000:]
        assert versions(stack, crashing=[crashing]) == before, "check mode changed an object"
        assert dashboard_image(stack) == bad
        assert audit_rows(stack) == audit_before, "check mode made the smoke test's write"
        summary = summary_of(tmp_path / "report-check")
        assert "Check mode, nothing changed: would rollback" in summary, summary
        assert "would rollback deployment (if recent change): kubectl rollout undo deployment/dashboard" in summary
        assert_no_secret(stack, checked, tmp_path / "report-check")

        proc = run_lego_playbook(inventory, tmp_path / "report", PLAYBOOK)
        assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
        # step 3 saw the crash loop: describe, the events and the crashed container's log (the YAML callback wraps
        # long lines: compared with the whitespace collapsed)
        out = " ".join(proc.stdout.split())
        assert "%s: CrashLoopBackOff" % crashing in out
        assert "image %s: state waiting (CrashLoopBackOff)" % bad in out
        assert "Back-off restarting failed container" in out
        assert "lab: container exited 1 (bad image), simulated" in out  # logs --previous
        assert "accepting connections" in out and "network policies: dashboard-allow-http" in out
        summary = summary_of(tmp_path / "report")
        assert "Root cause: crash loop after a recent change" in summary, summary
        assert "Fix: rollback deployment (if recent change)" in summary and "(decided from the root cause)" in summary
        assert "RECOVERED" in summary and "NOT RECOVERED" not in summary, summary
        assert "Smoke test: passed, audit-signed write" in summary and "signed by hsm) read back" in summary, summary
        for step in ("1. Acknowledge Incident", "2. Initial Assessment", "3. Identify Root Cause", "4. Implement Fix",
                     "5. Verify Recovery"):
            assert step in summary.split("Timeline:")[1], step
        assert dashboard_image(stack) == good
        assert stack.healthy() is True
        count, newest = audit_rows(stack)
        assert count == audit_before[0] + 1 and tuple(newest) == ("mcpops-smoke-test", "hsm")
        assert_no_secret(stack, proc, tmp_path / "report")
        manual = report(tmp_path / "report")["manual_steps"]
        assert "6. Post-Incident: schedule post-mortem within 48 hours" in manual, manual
        assert "6. Post-Incident: update runbook if new scenario" in manual, manual
    finally:
        faults.repair(stack, "bad-image")


def test_a_dashboard_scaled_to_zero_is_scaled_back(lego_stack, tmp_path):
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    try:
        faults.inject(stack, "scaled-to-zero")
        proc = run_lego_playbook(inventory, tmp_path / "report", PLAYBOOK, {"replicas": stack.replicas})
        assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
        summary = summary_of(tmp_path / "report")
        assert "Root cause: no dashboard pod to serve: deployment/dashboard wants 0 replicas" in summary, summary
        assert "Fix: scale up (if load related): kubectl scale deployment/dashboard --replicas=%d" % stack.replicas \
            in summary, summary
        assert "replicas 0 -> %d" % stack.replicas in summary, summary
        assert stack.get_json("deployment", "dashboard")["spec"]["replicas"] == stack.replicas
        assert stack.healthy() is True
        assert_no_secret(stack, proc, tmp_path / "report")
    finally:
        faults.repair(stack, "scaled-to-zero")


def test_bad_input_is_refused_before_anything_is_read(lego_stack, tmp_path):
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    before = versions(stack)
    for extra in ({"remedy": "reboot"}, {"replicas": -1}, {"remedy": "scale", "replicas": "5; rm"}):
        proc = run_lego_playbook(inventory, tmp_path / ("report-%d" % len(str(extra))), PLAYBOOK, extra)
        assert proc.returncode != 0, extra
        assert "Bad input" in proc.stdout and "Nothing was read or changed" in proc.stdout, proc.stdout[-3000:]
        assert "Initial Assessment" not in proc.stdout
    assert versions(stack) == before
