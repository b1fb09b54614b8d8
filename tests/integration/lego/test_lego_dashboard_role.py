"""roles/lego_dashboard on the LEGO stack: every Ready dashboard pod asked on its pod IP; a broken HSM shows on each;
a crash-looping pod of the current ReplicaSet beside two Ready ones of the old (a bad rollout) is not healthy; a pod of
the current ReplicaSet that is not Ready counts once its grace has passed."""

import json
import time

from lego_playbook_runs import HERE, lego_inventory, run_lego_playbook
from test_lego_service_outage import wait_crash_loop

from mcpops.lab.lego import faults
from mcpops.lab.lego.stack import DEADLINE


def probe(stack, tmp_path, name, extra=None):
    out = tmp_path / ("%s.json" % name)
    proc = run_lego_playbook(lego_inventory(stack, tmp_path / "inventory"), tmp_path / ("report-" + name),
                             HERE / "playbooks" / "dashboard_probe.yml", dict(extra or {}, probe_out=str(out)))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return json.loads(out.read_text())


def test_each_ready_dashboard_pod_is_asked_on_its_own_ip_and_a_down_hsm_shows_on_every_one(lego_stack, tmp_path):
    healthy = probe(lego_stack, tmp_path, "healthy")
    ready = [p for p in healthy["pods"] if p["ready"]]
    assert healthy["healthy"] is True and int(healthy["ready"]) == len(ready) == 2, healthy
    assert sorted(healthy["answered"]) == sorted(p["name"] for p in ready)
    assert all(p["ip"].startswith("127.") for p in ready) and healthy["problems"] == []

    faults.inject(lego_stack, "hsm-down")
    try:
        broken = probe(lego_stack, tmp_path, "hsm-down")
    finally:
        faults.repair(lego_stack, "hsm-down")
    assert broken["healthy"] is False
    assert sorted(p.split(":")[0] for p in broken["problems"]) == sorted(broken["answered"]), broken["problems"]


def test_a_crash_looping_pod_of_a_bad_rollout_beside_two_ready_ones_is_not_healthy(lego_stack, tmp_path):
    try:
        faults.inject(lego_stack, "bad-image")
        crashing = wait_crash_loop(lego_stack)
        # a crashed container counts at once, whatever the grace
        seen = probe(lego_stack, tmp_path, "bad-rollout", {"lego_dashboard_ready_grace": 3600})
    finally:
        faults.repair(lego_stack, "bad-image")
    pods = {p["name"]: p for p in seen["pods"]}
    ready = sorted(name for name, p in pods.items() if p["ready"])
    assert int(seen["ready"]) == 2 and sorted(seen["answered"]) == ready, seen
    # the two Ready pods are the old revision's and answer healthy: only the crash-looping one makes it unhealthy
    assert seen["healthy"] is False, seen
    assert pods[crashing]["current"] is True and pods[crashing]["stuck"] is True, pods[crashing]
    assert all(pods[name]["current"] is False for name in ready), pods
    assert len(seen["problems"]) == 1, seen["problems"]
    problem = seen["problems"][0]
    assert problem.startswith("%s: not ready (" % crashing), problem
    assert pods[crashing]["reason"] in ("CrashLoopBackOff", "Error") and pods[crashing]["reason"] in problem, problem


def wait_not_ready_pod(stack, deadline=DEADLINE):
    """Until a dashboard pod of LAB_FAULT=not-ready runs (Running, never Ready); its name."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for pod in stack.get_json("pods", "-l", "app=dashboard")["items"]:
            env = pod["spec"]["containers"][0].get("env") or []
            if {"name": "LAB_FAULT", "value": "not-ready"} in env and pod.get("status", {}).get("phase") == "Running":
                return pod["metadata"]["name"]
        time.sleep(0.5)
    raise AssertionError("no not-ready dashboard pod running within %ss" % deadline)


def test_a_current_pod_not_ready_counts_once_its_grace_has_passed(lego_stack, tmp_path):
    stack = lego_stack
    try:
        # a rollout whose new pod runs but never becomes Ready (a failing readiness probe), the old pods serving
        stack.kubectl("set", "env", "deployment/dashboard", "LAB_FAULT=not-ready")
        starting = wait_not_ready_pod(stack)
        within = probe(stack, tmp_path, "within-grace", {"lego_dashboard_ready_grace": 3600})
        past = probe(stack, tmp_path, "past-grace", {"lego_dashboard_ready_grace": 0})
    finally:
        env = stack.get_json("deployment", "dashboard")["spec"]["template"]["spec"]["containers"][0].get("env") or []
        if any(e.get("name") == "LAB_FAULT" for e in env):
            stack.kubectl("rollout", "undo", "deployment/dashboard")
        stack.wait_healthy()
    assert within["healthy"] is True and within["problems"] == [], within
    assert within["waiting"] == [starting], within
    assert past["healthy"] is False and past["waiting"] == [], past
    assert len(past["problems"]) == 1 and past["problems"][0].startswith(
        "%s: not ready (Running, restarts 0, " % starting), past["problems"]
    assert "past the 0 s grace" in past["problems"][0], past["problems"]
