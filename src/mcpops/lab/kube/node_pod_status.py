"""What a pod's status would be on a real node, from its own spec and how long it has run: the lab node agent
writes this instead of a kubelet's observations. A pure function of (pod, start, now, settings), so that the same
inputs give the same status (the agent writes only when it changes) and unit tests need no cluster.

Faults come from the pod's spec, so that a runbook's change (rollout undo, set env) really cures them:
- an image whose tag ends with one of the "bad" suffixes (`-broken`): the container crashes 1 s after each start
  and is restarted after the kubelet's back-off (10 s, doubled each time, at most 300 s): CrashLoopBackOff;
- `LAB_FAULT=oom` in a container's env: the same loop, its last state `OOMKilled` (exit 137);
- `LAB_FAULT=not-ready`: running, never ready (its readiness probe fails);
- otherwise running, and ready `ready_delay` seconds after the start.
"""

from dataclasses import dataclass
from datetime import timedelta

CRASH = "crash"
OOM = "oom"
NOT_READY = "not-ready"
RUN_SECONDS = 1.0  # how long a crashing container runs before it dies


@dataclass(frozen=True)
class Settings:
    ready_delay: float = 2.0
    bad_image_suffixes: tuple = ("-broken",)
    backoff_base: float = 10.0  # the kubelet's
    backoff_cap: float = 300.0


def image_tag(image):
    """The tag of an image reference (`repo:5000/app:1.2` -> `1.2`), '' when it has none (or only a digest)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def container_env(container):
    """The container's literal env values (valueFrom is not resolved: the lab has no kubelet to do it)."""
    return {e["name"]: e.get("value", "") for e in container.get("env") or [] if "name" in e}


def container_fault(container, settings):
    """CRASH, OOM, NOT_READY or None for one container spec."""
    tag = image_tag(container.get("image", ""))
    if tag and any(tag.endswith(suffix) for suffix in settings.bad_image_suffixes):
        return CRASH
    fault = container_env(container).get("LAB_FAULT", "").strip().lower()
    return fault if fault in (OOM, NOT_READY) else None


def crash_timeline(elapsed, settings):
    """Where a crash-looping container is `elapsed` seconds after its first start: (restart_count, running,
    last_start, last_finish), the times as offsets from the first start; last_finish None before the first crash."""
    start, restarts, backoff = 0.0, 0, settings.backoff_base
    while True:
        finish = start + RUN_SECONDS
        if elapsed < finish:
            previous_finish = None if restarts == 0 else start - _backoff(restarts - 1, settings)
            return restarts, True, start, previous_finish
        next_start = finish + backoff
        if elapsed < next_start:
            return restarts, False, start, finish
        start, restarts, backoff = next_start, restarts + 1, min(backoff * 2, settings.backoff_cap)


def _backoff(index, settings):
    return min(settings.backoff_base * 2 ** index, settings.backoff_cap)


def stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def container_status(pod_uid, container, started, now, settings):
    """(status dict, ready, ready_since) of one container."""
    name, image = container["name"], container.get("image", "")
    fault = container_fault(container, settings)
    status = {"name": name, "image": image, "imageID": f"lab://{image}",
              "containerID": f"lab://{pod_uid}/{name}", "lastState": {}}
    elapsed = (now - started).total_seconds()
    if fault in (CRASH, OOM):
        restarts, running, last_start, last_finish = crash_timeline(elapsed, settings)
        status["restartCount"] = restarts
        terminated = ({"exitCode": 137, "reason": "OOMKilled"} if fault == OOM
                      else {"exitCode": 1, "reason": "Error"})
        if running:
            status["state"] = {"running": {"startedAt": stamp(started + timedelta(seconds=last_start))}}
            if last_finish is not None:
                previous_start = last_finish - RUN_SECONDS
                status["lastState"] = {"terminated": dict(
                    terminated, startedAt=stamp(started + timedelta(seconds=previous_start)),
                    finishedAt=stamp(started + timedelta(seconds=last_finish)), containerID=status["containerID"])}
        else:
            status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message":
                                           f"back-off restarting failed container {name} in pod"}}
            status["lastState"] = {"terminated": dict(
                terminated, startedAt=stamp(started + timedelta(seconds=last_start)),
                finishedAt=stamp(started + timedelta(seconds=last_finish)), containerID=status["containerID"])}
        status.update(ready=False, started=running)
        return status, False, None
    status.update(restartCount=0, started=True, state={"running": {"startedAt": stamp(started)}})
    ready_at = started + timedelta(seconds=settings.ready_delay)
    ready = fault != NOT_READY and now >= ready_at
    status["ready"] = ready
    return status, ready, (ready_at if ready else None)


def pod_status(pod, started, now, settings, node_ip, pod_ip, serving_ready=True):
    """The status a node would report for `pod` (an API object) started at `started` (bound and run), at `now`.
    serving_ready: False while the service the agent runs for the pod does not answer yet (it holds Ready back)."""
    uid = pod["metadata"]["uid"]
    containers = pod["spec"]["containers"]
    results = [container_status(uid, c, started, now, settings) for c in containers]
    statuses = [r[0] for r in results]
    all_ready = all(r[1] for r in results) and serving_ready
    ready_since = max((r[2] for r in results), default=started) if all_ready else None
    started_at = stamp(started)
    ready_condition = {"status": "True", "lastTransitionTime": stamp(ready_since)} if all_ready else {
        "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": started_at,
        "message": "containers with unready status: [%s]" % " ".join(s["name"] for s in statuses if not s["ready"])}
    conditions = [
        {"type": "Initialized", "status": "True", "lastTransitionTime": started_at},
        dict(ready_condition, type="Ready"),
        dict(ready_condition, type="ContainersReady"),
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": started_at},
    ]
    for condition in conditions:
        condition["lastProbeTime"] = None
    return {"phase": "Running", "conditions": conditions, "hostIP": node_ip, "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}], "startTime": started_at, "qosClass": "BestEffort",
            "containerStatuses": statuses}


def faults_of(pod, settings):
    """{container name: fault} of the pod's containers that have one."""
    return {c["name"]: f for c in pod["spec"]["containers"] if (f := container_fault(c, settings))}
