"""playbooks/lego-scale-high-load.yml on the LEGO stack (seed 001, "Runbook: Scale for High Load"): the dashboard, the
celery workers and the read replica StatefulSet scaled up to 3/2/2 with every pod Ready (three dashboard pods
answering healthy), then down gradually to the stack's own 2/2/1, a step at a time; check mode changes nothing; bad
input (a negative replica count, a deployment that is not there) is refused before any change. The stack is left
at its original replica counts."""

import json

from lego_playbook_runs import lego_inventory, report, run_lego_playbook

PLAYBOOK = "lego-scale-high-load"
WORKLOADS = ("deployment/dashboard", "deployment/celery-worker", "statefulset/postgresql-replica")


def summary_of(report_dir):
    """The run's summary lines (runbook_summary), one text."""
    return "\n".join(line for entry in report(report_dir)["summary"] for line in entry["lines"])


def replicas(stack):
    """{workload: (spec replicas, ready replicas)}."""
    out = {}
    for workload in WORKLOADS:
        obj = stack.get_json(*workload.split("/"))
        out[workload] = (obj["spec"]["replicas"], (obj.get("status") or {}).get("readyReplicas", 0))
    return out


def versions(stack):
    """{kind/name: resourceVersion} of the three workloads and their pods."""
    listed = stack.get_json("deployments,statefulsets,pods")
    return {"%s/%s" % (i["kind"], i["metadata"]["name"]): i["metadata"]["resourceVersion"] for i in listed["items"]}


def test_scale_up_every_pod_ready_then_down_gradually_to_the_floor(lego_stack, tmp_path):
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    original = replicas(stack)
    assert original == {"deployment/dashboard": (2, 2), "deployment/celery-worker": (2, 2),
                        "statefulset/postgresql-replica": (1, 1)}
    up = {"dashboard_replicas": 3, "worker_replicas": 2, "replica_replicas": 2, "ready_timeout": 300}
    down = {"scale_down": True, "dashboard_floor": 2, "worker_floor": 2, "replica_floor": 1, "scale_down_step": 1,
            "scale_down_pause": 1, "ready_timeout": 300}
    try:
        before = versions(stack)
        checked = run_lego_playbook(inventory, tmp_path / "report-check", PLAYBOOK, up, flags=["--check"])
        assert checked.returncode == 0, checked.stdout[-5000:] + checked.stderr[-2000:]
        assert versions(stack) == before, "check mode changed an object"
        assert "Check mode, nothing changed: would scale up" in checked.stdout

        proc = run_lego_playbook(inventory, tmp_path / "report-up", PLAYBOOK, up)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
        assert replicas(stack) == {"deployment/dashboard": (3, 3), "deployment/celery-worker": (2, 2),
                                   "statefulset/postgresql-replica": (2, 2)}
        assert stack.healthy(replicas=3) is True  # the third dashboard pod answers healthy, with the HSM
        summary = summary_of(tmp_path / "report-up")
        assert "Deployment/dashboard 2 -> 3 (now 3 Ready)" in summary, summary
        assert "StatefulSet/postgresql-replica 1 -> 2 (now 2 Ready)" in summary, summary
        assert "not available (no metrics-server)" in summary and "HPA: none" in summary, summary
        assert "successfully rolled out" in proc.stdout  # the monitor's progress lines

        before = versions(stack)
        checked = run_lego_playbook(inventory, tmp_path / "report-check-down", PLAYBOOK, down, flags=["--check"])
        assert checked.returncode == 0, checked.stdout[-5000:] + checked.stderr[-2000:]
        assert versions(stack) == before, "check mode changed an object"

        proc = run_lego_playbook(inventory, tmp_path / "report-down", PLAYBOOK, down)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
        assert replicas(stack) == original
        assert "Deployment/dashboard 3 -> 2 (floor 2)" in proc.stdout
        assert "StatefulSet/postgresql-replica 2 -> 1 (floor 1)" in proc.stdout
        assert "Deployment/celery-worker" not in proc.stdout.split("Scale Down After Load")[1].split("TASK")[0], \
            "a workload at its floor was scaled"
        assert "Scale down: 2 steps of 1" in summary_of(tmp_path / "report-down")
        stack.wait_healthy()
    finally:
        stack.kubectl("scale", "deployment/dashboard", "--replicas=%d" % original["deployment/dashboard"][0])
        stack.kubectl("scale", "deployment/celery-worker", "--replicas=%d" % original["deployment/celery-worker"][0])
        stack.kubectl("scale", "statefulset/postgresql-replica",
                      "--replicas=%d" % original["statefulset/postgresql-replica"][0])
        stack.wait_healthy()


def test_a_scale_down_takes_several_steps_of_its_size(lego_stack, tmp_path):
    """From 4 dashboard pods to a floor of 2 with steps of 1: 4 -> 3 -> 2, each step Ready before the next."""
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    try:
        stack.kubectl("scale", "deployment/dashboard", "--replicas=4")
        stack.wait_healthy(replicas=4)
        proc = run_lego_playbook(inventory, tmp_path / "report", PLAYBOOK,
                                 {"scale_down": True, "dashboard_floor": 2, "worker_floor": 2, "replica_floor": 1,
                                  "scale_down_step": 1, "scale_down_pause": 1, "ready_timeout": 300})
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
        assert proc.stdout.index("Deployment/dashboard 4 -> 3") < proc.stdout.index("Deployment/dashboard 3 -> 2")
        assert replicas(stack)["deployment/dashboard"] == (2, 2)
    finally:
        stack.kubectl("scale", "deployment/dashboard", "--replicas=2")
        stack.wait_healthy()


def test_bad_input_is_refused_before_any_change(lego_stack, tmp_path):
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    before = versions(stack)

    negative = run_lego_playbook(inventory, tmp_path / "report-negative", PLAYBOOK,
                                 {"dashboard_replicas": -1, "worker_replicas": 2, "replica_replicas": 2})
    assert negative.returncode != 0 and "Bad input" in negative.stdout
    assert "Nothing was read or changed" in negative.stdout

    unknown = run_lego_playbook(inventory, tmp_path / "report-unknown", PLAYBOOK,
                                {"dashboard_replicas": 3, "worker_replicas": 2, "replica_replicas": 2,
                                 "worker_deployment": "celery-beat"})
    assert unknown.returncode != 0
    assert "No Deployment/celery-beat in namespace lego-mcp" in unknown.stdout, unknown.stdout[-3000:]
    assert "Nothing was changed" in unknown.stdout

    assert versions(stack) == before
    assert json.loads(stack.kubectl("get", "deployment", "dashboard", "-o", "json").stdout)["spec"]["replicas"] == 2
