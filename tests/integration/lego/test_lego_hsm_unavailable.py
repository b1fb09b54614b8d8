"""playbooks/lego-hsm-unavailable.yml on the LEGO stack, from the `hsm-down` fault back to healthy: the run names the
HSM unreachable from the controller and from the dashboard pods; with the fallback asked and confirmed the dashboard
is healthy signing in software-fallback and a write gets a fallback-signed audit record; once the HSM is repaired the
after-recovery run turns the fallback off and verifies the audit chain end to end, listing that record. Check mode
changes nothing (resourceVersions, the database); the fallback without its confirmation is refused before anything,
and so is an after-recovery run while the HSM is still down. No HSM PIN or DB password in any output or report.

The fallback key: every dashboard replica keeps the one software key in the inventory's lego_hsm_fallback_key_dir
(HSM_FALLBACK_KEY_DIR, set with the fallback), so that its public half outlives the pods for the chain check."""

import json
import os
import re
import stat
import urllib.error
import urllib.request

import psycopg

from lego_playbook_runs import lego_inventory, report, run_lego_playbook
from mcpops.lab.lego import faults
from mcpops.lab.lego.stack import DB_NAME, DB_USER

PLAYBOOK = "lego-hsm-unavailable"
FALLBACK = {"enable_fallback": True, "confirm_reduced_security": "yes"}


def summary_text(report_dir):
    return "\n".join(line for entry in report(report_dir)["summary"] for line in entry["lines"])


def resource_versions(stack):
    """{kind/name: resourceVersion} of what a runbook could change in the namespace (events aside)."""
    items = stack.get_json("pods,deployments,replicasets,statefulsets,secrets,configmaps,networkpolicies,services")
    return {"%s/%s" % (i["kind"], i["metadata"]["name"]): i["metadata"]["resourceVersion"] for i in items["items"]}


def dashboard_env(stack):
    container = stack.get_json("deployment", "dashboard")["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container.get("env") or [] if "value" in e}


def db_state(stack):
    """The audit chain's size and head, and every equipment status: what a write would change."""
    with psycopg.connect(connect_timeout=5, **stack.pg.dsn(user=DB_USER, dbname=DB_NAME, password=stack.db_password,
                                                           tcp=True)) as conn:
        chain = (conn.execute("SELECT count(*) FROM audit_log").fetchone(),
                 conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone())
        equipment = conn.execute("SELECT equipment_id, status FROM equipment ORDER BY 1").fetchall()
    return chain, equipment


def set_status(url, equipment_id, status):
    """POST a status change to one dashboard pod: (HTTP status, body)."""
    request = urllib.request.Request("%s/api/v8/equipment/%s/status" % (url, equipment_id), method="POST",
                                     data=json.dumps({"status": status, "actor": "hsm-runbook-test"}).encode(),
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=20) as answer:
            return answer.status, json.loads(answer.read().decode())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode() or "null")


def secrets_of(stack):
    """The canaries: both HSM PINs and the DB password."""
    return [(stack.hsm.token_dir / name).read_text().strip() for name in ("so.pin", "user.pin")] + [stack.db_password]


def files_under(directory):
    for root, _dirs, names in os.walk(directory):
        for name in names:
            yield os.path.join(root, name)


def assert_no_secret(stack, procs, report_dirs):
    texts = {}
    for i, proc in enumerate(procs):
        texts["stdout %d" % i], texts["stderr %d" % i] = proc.stdout, proc.stderr
    for directory in report_dirs:
        texts.update({p: open(p, encoding="utf-8", errors="replace").read() for p in files_under(directory)})
    for value in secrets_of(stack):
        assert len(value) >= 8
        for where, text in texts.items():
            assert value not in text, "a secret in %s" % where


def leave_healthy(stack):
    """The HSM back, the fallback off and its key dir unset (the shipped template's env), the stack healthy."""
    faults.repair(stack, "hsm-down")
    env = dashboard_env(stack)
    if env.get("HSM_FALLBACK_ENABLED") != "false" or "HSM_FALLBACK_KEY_DIR" in env:
        stack.kubectl("set", "env", "deployment/dashboard", "HSM_FALLBACK_ENABLED=false", "HSM_FALLBACK_KEY_DIR-")
    stack.wait_healthy()


def test_hsm_down_fallback_on_request_then_after_recovery_verifies_the_chain(lego_stack, tmp_path):
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    key_dir = tmp_path / "fallback-key"
    key_dir.mkdir(mode=0o700)
    (inventory / "group_vars" / "gateways" / "hsm_fallback.yml").write_text(
        "---\nlego_hsm_fallback_key_dir: %s\n" % json.dumps(str(key_dir)))
    faults.inject(stack, "hsm-down")
    try:
        # a write while the HSM is down and the fallback off: refused, nothing written (the ticket counts it)
        code, body = set_status(sorted(stack.dashboard_urls().values())[0], "CNC-001", "idle")
        assert code == 503 and body["error"] == "hsm_unavailable", body

        # while the HSM is down: named unreachable from the controller and the pods; the fallback on, confirmed
        pods = sorted(stack.dashboard_urls())
        down_dir = tmp_path / "down"
        down = run_lego_playbook(inventory, down_dir, PLAYBOOK, FALLBACK)
        assert down.returncode == 0, down.stdout[-6000:] + down.stderr[-3000:]
        summary = summary_text(down_dir)
        assert re.search(r"HSM from the controller \(\S+\): UNREACHABLE - https://127\.0\.0\.1:%d/health no answer"
                         % stack.hsm.port, summary), summary
        assert "Connection refused" in summary
        assert re.search(r"HSM from the pods \(\S+\): UNREACHABLE - ", summary), summary
        assert "WARNING: SOFTWARE FALLBACK ENABLED" in summary and "REDUCED SECURITY" in summary
        assert "WARNING: SOFTWARE FALLBACK ENABLED" in down.stdout
        assert re.search(r"Impact: [1-9]\d* signed write\(s\) refused with the HSM unavailable", summary), summary

        # the dashboard: fallback set, healthy, every pod signing in software-fallback
        env = dashboard_env(stack)
        assert env["HSM_FALLBACK_ENABLED"] == "true" and env["HSM_FALLBACK_KEY_DIR"] == str(key_dir)
        answers = stack.health_of_all()
        assert len(answers) == stack.replicas, answers
        for pod, (code, body) in answers.items():
            assert code == 200 and body["status"] == "healthy" and body["signing"] == "software-fallback", (pod, body)
        # the rollout's new pods, each with its signing mode (the report masks some pod names as random-looking)
        assert re.search(r"Fallback: set HSM_FALLBACK_ENABLED, HSM_FALLBACK_KEY_DIR; dashboard healthy, signing: "
                         r"\S+ software-fallback, \S+ software-fallback$", summary, re.M), summary
        assert not set(pods) & set(answers)

        # the vendor ticket: the probe error with its time, the pods' own HSM errors from their logs (before the roll)
        ticket = down_dir / "hsm-vendor-ticket.md"
        assert stat.S_IMODE(ticket.stat().st_mode) == 0o600
        text = ticket.read_text()
        assert re.search(r"## The HSM from the controller \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)", text), text
        assert "Connection refused" in text and "State: unreachable" in text
        assert re.search(r"dashboard-\S+: \S+ ERROR GET /health 503 .*hsm: .*Connection refused", text), text
        assert re.search(r"dashboard-\S+: \S+ ERROR POST /api/v8/equipment/CNC-001/status 503 .*audit: ", text), text

        # a write while the HSM is down: signed by the software fallback
        code, body = set_status(sorted(stack.dashboard_urls().values())[0], "LSR-001", "maintenance")
        assert code == 200 and body["signed_by"] == "software-fallback", body
        fallback_id = body["audit_id"]

        # the HSM repaired; the after-recovery run: fallback off, dashboard with the HSM, the chain verified
        faults.repair(stack, "hsm-down")
        after_dir = tmp_path / "after"
        after = run_lego_playbook(inventory, after_dir, PLAYBOOK, {"after_recovery": True})
        assert after.returncode == 0, after.stdout[-6000:] + after.stderr[-3000:]
        assert dashboard_env(stack)["HSM_FALLBACK_ENABLED"] == "false"
        assert stack.healthy() is True  # every pod signing with the HSM again
        summary = summary_text(after_dir)
        assert "HSM from the controller" in summary and ": HEALTHY - " in summary, summary
        assert "After recovery: fallback off (HSM_FALLBACK_ENABLED=false); dashboard healthy" in summary
        match = re.search(r"Audit chain: (\d+) records, verified end to end \(every hash, link and signature\); "
                          r"signed in software fallback: (\d+) \(ids ([0-9, ]+);", summary)
        assert match, summary
        assert int(match.group(2)) >= 1 and str(fallback_id) in match.group(3).split(", "), summary
        assert int(match.group(1)) >= fallback_id

        assert_no_secret(stack, [down, after], [down_dir, after_dir])
    finally:
        leave_healthy(stack)


def test_check_mode_changes_nothing_and_bad_input_is_refused(lego_stack, tmp_path):
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    faults.inject(stack, "hsm-down")
    try:
        before, db_before = resource_versions(stack), db_state(stack)
        check_dir = tmp_path / "check"
        proc = run_lego_playbook(inventory, check_dir, PLAYBOOK, FALLBACK, flags=("--check",))
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
        assert resource_versions(stack) == before and db_state(stack) == db_before
        assert dashboard_env(stack)["HSM_FALLBACK_ENABLED"] == "false"
        summary = summary_text(check_dir)
        assert "Check mode: nothing was changed" in summary and "SOFTWARE FALLBACK WOULD BE ENABLED" in summary
        assert "UNREACHABLE" in summary and not (check_dir / "hsm-vendor-ticket.md").exists()

        # the fallback without its confirmation: refused before anything
        refused = run_lego_playbook(inventory, tmp_path / "unconfirmed", PLAYBOOK, {"enable_fallback": True})
        assert refused.returncode != 0
        assert "confirm_reduced_security=yes" in refused.stdout and "Nothing was changed" in refused.stdout
        assert resource_versions(stack) == before and db_state(stack) == db_before

        # both at once, and after recovery while the HSM is still down: refused, nothing changed
        both = run_lego_playbook(inventory, tmp_path / "both", PLAYBOOK, dict(FALLBACK, after_recovery=True))
        assert both.returncode != 0 and "Ask for one of them" in both.stdout
        early = run_lego_playbook(inventory, tmp_path / "early", PLAYBOOK, {"after_recovery": True})
        assert early.returncode != 0 and "The HSM is not back" in early.stdout, early.stdout[-4000:]
        assert resource_versions(stack) == before and db_state(stack) == db_before
        assert_no_secret(stack, [proc, refused, both, early], [check_dir])
    finally:
        leave_healthy(stack)


def test_a_slow_hsm_and_a_removed_token_are_named_as_such_and_nothing_changes(lego_stack, tmp_path):
    """The assessment alone (no fallback asked): a slow HSM answers the controller but too late for the pods' 1 s
    timeout; a removed token answers 503 `token: missing`. Neither run changes anything."""
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    before, db_before = resource_versions(stack), db_state(stack)
    expected = {"hsm-slow": ("slow", r"SLOW - https://\S+/health HTTP 200 in [2-9] s \(token present\)"),
                "hsm-token-removed": ("unhealthy",
                                      r"UNHEALTHY - https://\S+/health HTTP 503 in \d+ s: .*\(token missing\)")}
    for fault, (state, controller) in expected.items():
        faults.inject(stack, fault)
        try:
            run_dir = tmp_path / fault
            proc = run_lego_playbook(inventory, run_dir, PLAYBOOK)
            assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
            summary = summary_text(run_dir)
            assert re.search(r"HSM from the controller \(\S+\): " + controller, summary), summary
            assert re.search(r"HSM from the pods \(\S+\): UNREACHABLE - ", summary), summary
            assert "SOFTWARE FALLBACK" not in summary
            assert "State: %s" % state in (run_dir / "hsm-vendor-ticket.md").read_text()
            assert resource_versions(stack) == before and db_state(stack) == db_before
            assert_no_secret(stack, [proc], [run_dir])
        finally:
            faults.repair(stack, fault)
