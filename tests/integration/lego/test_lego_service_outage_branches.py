"""playbooks/lego-service-outage.yml's other root causes on the LEGO stack (seed 001, "Runbook: Service Outage (P1)",
step 4 "Restart pods (if OOM or transient)" and "Rollback deployment (if recent change)"): one pod of the current
revision OOMKilled in a loop is cured by a rollout restart; a NEW revision whose pods are OOMKilled while the older
ReplicaSet still serves is rolled back (a restart would start the bad revision again); Ready pods answering unhealthy
with the database and the HSM fine (a wedged worker), or a pod of the current revision stuck not Ready, are cured by
a rollout restart, the root cause saying which was seen; a healthy dashboard gets no fix at all and keeps every object
as it was. Each test leaves the stack healthy (faults.repair in a finally); the database password (a canary: it is in
the inventory) never shows."""

import datetime
import time

from lego_playbook_runs import lego_inventory, run_lego_playbook
from test_lego_service_outage import assert_no_secret, audit_rows, summary_of, versions

from mcpops.lab.lego import faults

PLAYBOOK = "lego-service-outage"
RESTART_WORDS = "restart pods (if OOM or transient): kubectl rollout restart deployment/dashboard"


def deployment(stack):
    return stack.get_json("deployment", "dashboard")


def restarted_at(stack):
    """The template's kubectl.kubernetes.io/restartedAt (what a rollout restart sets), None when never restarted."""
    annotations = deployment(stack)["spec"]["template"]["metadata"].get("annotations") or {}
    return annotations.get("kubectl.kubernetes.io/restartedAt")


def utc_stamp():
    """Now as the API server writes times: restartedAt set by this run is not earlier (the strings sort as times)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dashboard_pods(stack):
    return {p["metadata"]["name"] for p in stack.get_json("pods", "-l", "app=dashboard")["items"]}


def image_of(stack):
    return deployment(stack)["spec"]["template"]["spec"]["containers"][0]["image"]


def root_cause(summary):
    """The summary's "Root cause: ..." line."""
    return next(line for line in summary.splitlines() if line.startswith("Root cause: "))


def revision(obj):
    return int(obj["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0"))


def newest_replicaset(stack):
    """(name, revision) of the dashboard's newest ReplicaSet: the revision the deployment rolls out."""
    newest = max(stack.get_json("replicasets", "-l", "app=dashboard")["items"], key=revision)
    return newest["metadata"]["name"], revision(newest)


def owner_of(stack, pod):
    return stack.get_json("pod", pod)["metadata"]["ownerReferences"][0]["name"]


def test_a_pod_oomkilled_in_the_current_revision_is_restarted(lego_stack, tmp_path):
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    try:
        oom = faults.inject(stack, "oom-killed")
        before_pods, before_restart, image = dashboard_pods(stack), restarted_at(stack), image_of(stack)
        generation = deployment(stack)["metadata"]["generation"]
        assert oom in before_pods

        started = utc_stamp()
        proc = run_lego_playbook(inventory, tmp_path / "report", PLAYBOOK)
        assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
        out = " ".join(proc.stdout.split())
        assert "last state terminated: OOMKilled exit 137" in out, out[-6000:]  # describe of the OOM pod
        summary = summary_of(tmp_path / "report")
        assert "Root cause: OOM: %s OOMKilled" % oom in summary, summary
        assert "Fix: %s (decided from the root cause)" % RESTART_WORDS in summary, summary
        assert "RECOVERED" in summary and "NOT RECOVERED" not in summary, summary
        # a restart: the template restamped by this run (not an older revision's back), same image, one new
        # generation; every pod replaced, the OOM one gone
        assert restarted_at(stack) not in (None, before_restart) and restarted_at(stack) >= started
        assert image_of(stack) == image
        assert deployment(stack)["metadata"]["generation"] == generation + 1
        assert not dashboard_pods(stack) & before_pods
        assert stack.healthy() is True
        assert_no_secret(stack, proc, tmp_path / "report")
    finally:
        faults.repair(stack, "oom-killed")


def test_oom_in_a_new_revision_while_the_old_one_serves_is_rolled_back(lego_stack, tmp_path):
    """`kubectl set env deployment/dashboard LAB_FAULT=oom`: the new revision's pod is OOMKilled in a loop while the
    previous ReplicaSet's pods keep serving: the release is the cause, so rollback (not restart, which would roll the
    same template out again)."""
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    containers = deployment(stack)["spec"]["template"]["spec"]["containers"]
    before_restart = restarted_at(stack)
    serving, serving_revision = newest_replicaset(stack)
    try:
        oom = faults.inject(stack, "oom-new-revision")
        bad, bad_revision = newest_replicaset(stack)
        assert bad != serving and owner_of(stack, oom) == bad
        assert stack.healthy() is not True

        proc = run_lego_playbook(inventory, tmp_path / "report", PLAYBOOK)
        assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
        summary = summary_of(tmp_path / "report")
        cause = root_cause(summary)
        assert cause.startswith("Root cause: OOM after a recent change: %s: " % oom), summary
        assert "(last OOMKilled)" in cause or "%s: OOMKilled" % oom in cause, cause
        assert ("in the newest revision %d, while revision %d still serves" % (bad_revision, serving_revision)) in cause
        assert "a restart would start revision %d again" % bad_revision in cause, cause
        assert "Fix: rollback deployment (if recent change): kubectl rollout undo deployment/dashboard " \
               "(decided from the root cause)" in summary, summary
        assert "Revision %d -> %d" % (bad_revision, bad_revision + 1) in summary, summary
        assert "RECOVERED" in summary and "NOT RECOVERED" not in summary, summary
        assert "Smoke test: passed" in summary, summary
        # rolled back, not restarted: the previous revision's template (no LAB_FAULT, same image, the restartedAt it
        # had), its ReplicaSet the newest again; the OOM pod gone
        assert deployment(stack)["spec"]["template"]["spec"]["containers"] == containers
        assert restarted_at(stack) == before_restart
        assert newest_replicaset(stack) == (serving, bad_revision + 1)
        assert oom not in dashboard_pods(stack)
        assert stack.healthy() is True
        assert_no_secret(stack, proc, tmp_path / "report")
    finally:
        faults.repair(stack, "oom-new-revision")


def test_a_pod_stuck_not_ready_in_the_current_revision_is_restarted_and_named(lego_stack, tmp_path):
    """A current pod that never gets Ready (no crash, the others serving) makes the dashboard unhealthy: the root
    cause names it as stuck, not as a Ready pod answering unhealthy."""
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    grace = 10  # the lego_dashboard role's lego_dashboard_ready_grace, short so the test need not wait a minute
    try:
        stuck = faults.inject(stack, "pod-not-ready")
        before_pods, before_restart, image = dashboard_pods(stack), restarted_at(stack), image_of(stack)
        created = datetime.datetime.strptime(stack.get_json("pod", stuck)["metadata"]["creationTimestamp"],
                                             "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        while datetime.datetime.now(datetime.timezone.utc) < created + datetime.timedelta(seconds=grace + 2):
            time.sleep(0.5)  # until the pod is past the grace: stuck, no longer "starting"

        started = utc_stamp()
        proc = run_lego_playbook(inventory, tmp_path / "report", PLAYBOOK, {"lego_dashboard_ready_grace": grace})
        assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
        summary = summary_of(tmp_path / "report")
        cause = root_cause(summary)
        assert cause.startswith("Root cause: transient (the database and the HSM fine): pods stuck not Ready, never "
                                "answered: %s: not ready (" % stuck), summary
        assert "past the %d s grace" % grace in cause, cause
        assert "Ready pods answer unhealthy" not in cause, cause
        assert "Fix: %s (decided from the root cause)" % RESTART_WORDS in summary, summary
        assert "RECOVERED" in summary and "NOT RECOVERED" not in summary, summary
        assert restarted_at(stack) not in (None, before_restart) and restarted_at(stack) >= started
        assert image_of(stack) == image
        assert not dashboard_pods(stack) & before_pods
        assert stack.healthy() is True
        assert_no_secret(stack, proc, tmp_path / "report")
    finally:
        faults.repair(stack, "pod-not-ready")


def test_ready_pods_answering_unhealthy_with_the_database_and_hsm_fine_are_restarted(lego_stack, tmp_path):
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    try:
        wedged = faults.inject(stack, "pods-unhealthy")
        before_restart, image = restarted_at(stack), image_of(stack)
        assert stack.healthy() is not True

        started = utc_stamp()
        proc = run_lego_playbook(inventory, tmp_path / "report", PLAYBOOK)
        assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
        # step 2 read what the pods said in the dashboard's log (the YAML callback wraps long lines)
        assert faults.PODS_UNHEALTHY_REASON in " ".join(proc.stdout.split()), proc.stdout[-6000:]
        summary = summary_of(tmp_path / "report")
        cause = root_cause(summary)
        assert cause.startswith("Root cause: transient (the database and the HSM fine): Ready pods answer unhealthy: "),\
            summary
        assert "%s: HTTP 503" % wedged[0] in cause, cause
        assert "stuck" not in cause, cause
        assert "Fix: %s (decided from the root cause)" % RESTART_WORDS in summary, summary
        assert "RECOVERED" in summary and "NOT RECOVERED" not in summary, summary
        assert "Smoke test: passed" in summary, summary
        assert restarted_at(stack) not in (None, before_restart) and restarted_at(stack) >= started
        assert image_of(stack) == image
        assert not dashboard_pods(stack) & set(wedged), "a wedged pod outlived the restart"
        assert stack.healthy() is True
        assert_no_secret(stack, proc, tmp_path / "report")
    finally:
        faults.repair(stack, "pods-unhealthy")


def test_a_healthy_dashboard_gets_no_fix_and_nothing_changes(lego_stack, tmp_path):
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    assert stack.healthy() is True
    before = versions(stack)
    audit_before = audit_rows(stack)
    proc = run_lego_playbook(inventory, tmp_path / "report", PLAYBOOK)
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
    summary = summary_of(tmp_path / "report")
    assert "Root cause: none found: every dashboard pod Ready and healthy, the database accepting connections" \
        in summary, summary
    assert "Fix: none (nothing wrong found) (decided from the root cause)" in summary, summary
    assert "RECOVERED" in summary and "NOT RECOVERED" not in summary, summary
    assert "4. Implement Fix: none (nothing wrong found)" in summary.split("Timeline:")[1], summary
    # no restart, rollback or scale: the deployments, replica sets and pods as they were; only the smoke test's
    # one signed audit record was written
    assert versions(stack) == before, "the none branch changed an object"
    count, newest = audit_rows(stack)
    assert count == audit_before[0] + 1 and tuple(newest) == ("mcpops-smoke-test", "hsm")
    assert stack.healthy() is True
    assert_no_secret(stack, proc, tmp_path / "report")
