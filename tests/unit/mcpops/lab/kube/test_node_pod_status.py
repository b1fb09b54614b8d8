"""The pod status the lab node agent writes: a pure function of the pod's spec, its start and the time."""

import datetime

import pytest

from mcpops.lab.kube.node_pod_status import (CRASH, NOT_READY, OOM, Settings, container_fault, crash_timeline,
                                             image_tag, pod_status)

T0 = datetime.datetime(2026, 12, 5, 12, 0, 0, tzinfo=datetime.timezone.utc)
SETTINGS = Settings(ready_delay=2.0, backoff_base=10.0, backoff_cap=40.0)


def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def pod(image="lego/dashboard:1.0", env=None):
    container = {"name": "app", "image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {"metadata": {"uid": "u-1", "name": "p", "namespace": "lego-mcp"}, "spec": {"containers": [container]}}


def status_at(seconds, **kwargs):
    return pod_status(pod(**kwargs), T0, at(seconds), SETTINGS, "127.0.0.1", "127.77.0.2")


def condition(status, kind):
    return next(c for c in status["conditions"] if c["type"] == kind)


@pytest.mark.parametrize("image, tag", [("lego/app:1.2", "1.2"), ("registry:5000/app:2.0-broken", "2.0-broken"),
                                        ("registry:5000/app", ""), ("app@sha256:abc", ""), ("app", "")])
def test_image_tag_ignores_registry_ports_and_digests(image, tag):
    assert image_tag(image) == tag


def test_faults_come_from_the_image_tag_and_lab_fault_env():
    assert container_fault({"image": "app:1.0-broken"}, SETTINGS) == CRASH
    assert container_fault({"image": "broken-registry:5000/app:1.0"}, SETTINGS) is None
    assert container_fault({"image": "app:1", "env": [{"name": "LAB_FAULT", "value": "oom"}]}, SETTINGS) == OOM
    assert container_fault({"image": "app:1", "env": [{"name": "LAB_FAULT", "value": "Not-Ready"}]},
                           SETTINGS) == NOT_READY
    assert container_fault({"image": "app:1", "env": [{"name": "LAB_FAULT", "value": "nonsense"}]}, SETTINGS) is None
    assert container_fault({"image": "app:1-bad"}, Settings(bad_image_suffixes=("-bad",))) == CRASH


def test_a_healthy_pod_runs_at_once_and_is_ready_after_the_delay():
    early, later = status_at(1), status_at(3)
    assert early["phase"] == later["phase"] == "Running"
    assert condition(early, "Ready")["status"] == "False"
    assert condition(later, "Ready") == {"type": "Ready", "status": "True",
                                         "lastTransitionTime": "2026-12-05T12:00:02Z", "lastProbeTime": None}
    container = later["containerStatuses"][0]
    assert container["ready"] and container["restartCount"] == 0 and "running" in container["state"]
    assert later["podIP"] == "127.77.0.2" and later["startTime"] == "2026-12-05T12:00:00Z"


def test_the_status_changes_only_at_transitions_so_the_agent_writes_it_rarely():
    assert status_at(3) == status_at(300)
    assert status_at(12.5, image="app:1-broken") == status_at(13, image="app:1-broken")


def test_crash_timeline_backs_off_doubling_up_to_the_cap():
    # runs 1 s, waits 10, runs 1, waits 20, runs 1, waits 40, then 40 (the cap)
    assert crash_timeline(0.5, SETTINGS) == (0, True, 0.0, None)
    assert crash_timeline(5, SETTINGS) == (0, False, 0.0, 1.0)
    assert crash_timeline(11.5, SETTINGS) == (1, True, 11.0, 1.0)
    assert crash_timeline(20, SETTINGS) == (1, False, 11.0, 12.0)
    assert crash_timeline(33, SETTINGS)[0] == 2
    assert crash_timeline(34 + 40 + 1 + 40 + 0.5, SETTINGS)[0] == 4


def test_a_bad_image_crash_loops_with_growing_restarts_and_never_ready():
    waiting = status_at(5, image="app:1-broken")
    container = waiting["containerStatuses"][0]
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert container["lastState"]["terminated"]["exitCode"] == 1 and not container["ready"]
    assert waiting["phase"] == "Running" and condition(waiting, "Ready")["status"] == "False"
    assert status_at(40, image="app:1-broken")["containerStatuses"][0]["restartCount"] == 2


def test_oom_is_a_crash_loop_whose_last_state_is_oomkilled():
    container = status_at(5, env={"LAB_FAULT": "oom"})["containerStatuses"][0]
    assert container["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert container["lastState"]["terminated"]["exitCode"] == 137


def test_not_ready_runs_but_never_becomes_ready():
    status = status_at(600, env={"LAB_FAULT": "not-ready"})
    container = status["containerStatuses"][0]
    assert "running" in container["state"] and not container["ready"]
    assert condition(status, "Ready")["reason"] == "ContainersNotReady"


def test_a_service_that_does_not_answer_holds_ready_back():
    held = pod_status(pod(), T0, at(10), SETTINGS, "127.0.0.1", "127.77.0.2", serving_ready=False)
    assert condition(held, "Ready")["status"] == "False"
