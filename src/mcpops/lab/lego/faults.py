"""The seed's faults on the LEGO lab, each with its repair. A fault breaks the real thing (the HSM process, the
token, the deployment's spec, PostgreSQL's connection slots, the namespace) so that a runbook's own steps cure it;
the repair is what the lab does when no runbook did, and ends with the stack healthy again (stack.wait_healthy).

| fault | breaks | repair |
| --- | --- | --- |
| hsm-down | the HSM service stopped (by its PID): /health 503, signed writes refused | start it again, same port |
| hsm-slow | every HSM answer delayed past the dashboard's 1 s HSM timeout | clear the delay |
| hsm-token-removed | the SoftHSM2 token dir moved away: signing fails | move it back |
| bad-image | `set image` to a `-broken` tag: the new pods crash-loop, the rollout never completes | `rollout undo` |
| scaled-to-zero | dashboard scaled to 0: no pod answers | scale back to the stack's replicas |
| db-connections-exhausted | idle sessions of lego_mcp up to max_connections: "too many clients" | close them |
| compromised-pod | an unexpected process and an outbound connection attempt written into a pod's log | delete the pod |
| oom-killed | one pod of the current ReplicaSet OOMKilled in a loop (the others keep serving) | delete that pod |
| pods-unhealthy | every Ready dashboard pod answers /health 503 (a wedged worker: a restart cures it) | clear it |
| pod-not-ready | one pod of the current ReplicaSet running but never Ready (the others keep serving) | delete that pod |
| oom-new-revision | `set env LAB_FAULT=oom`: a new revision whose pod is OOMKilled in a loop, the old pods serving | unset it |
| namespace-wiped | the namespace deleted (and waited for) | full recovery: stack.deploy() |
| high-load | concurrent requests on every Ready dashboard pod, from a process (dashboard_load) | stop it; scale back |
"""

import datetime
import json
import time
from pathlib import Path

from mcpops.lab.lego import dashboard
from mcpops.lab.lego.hsm_process import LegoError
from mcpops.lab.lego.stack import DB_NAME, DB_USER, DEADLINE, NAMESPACE

HSM_SLOW_MS = 2500  # over the manifests' HSM_TIMEOUT_SECONDS=1
BAD_IMAGE_SUFFIX = "-broken"  # the node agent's default bad suffix
LEAK_APPLICATION = "celery-worker"  # application_name of the leaked sessions, as pg_stat_activity shows them
# What the security runbook looks for in a compromised pod's log (documentation addresses: RFC 5737).
INTRUDER_PROCESS = "/tmp/.X11-cache/kworkerds"
INTRUDER_PEER = "203.0.113.66:3333"


def _stamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the HSM

def hsm_down(stack):
    stack.hsm.stop()


def hsm_down_repair(stack):
    stack.hsm.start()


def hsm_slow(stack):
    stack.hsm.set_slow(HSM_SLOW_MS)


def hsm_slow_repair(stack):
    stack.hsm.clear_slow()


def hsm_token_removed(stack):
    stack.hsm.remove_token()


def hsm_token_removed_repair(stack):
    stack.hsm.restore_token()


# -- the deployment

def bad_image(stack):
    """The dashboard's image set to its tag + `-broken`; returns the bad image."""
    deployment = stack.get_json("deployment", "dashboard")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    if image.endswith(BAD_IMAGE_SUFFIX):
        return image
    bad = image + BAD_IMAGE_SUFFIX
    stack.kubectl("set", "image", "deployment/dashboard", f"dashboard={bad}")
    return bad


def bad_image_repair(stack):
    deployment = stack.get_json("deployment", "dashboard")
    if deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(BAD_IMAGE_SUFFIX):
        stack.kubectl("rollout", "undo", "deployment/dashboard")


def scaled_to_zero(stack):
    stack.kubectl("scale", "deployment/dashboard", "--replicas=0")


def scaled_to_zero_repair(stack):
    stack.kubectl("scale", "deployment/dashboard", f"--replicas={stack.replicas}")


# -- PostgreSQL

def db_connections_exhausted(stack):
    """Open idle lego_mcp sessions until the server refuses one; returns how many are held."""
    import psycopg

    while True:
        try:
            conn = psycopg.connect(autocommit=True, connect_timeout=5, application_name=LEAK_APPLICATION,
                                   **stack.pg.dsn(user=DB_USER, dbname=DB_NAME, password=stack.db_password, tcp=True))
        except psycopg.OperationalError as exc:
            if "too many" in str(exc) or "remaining connection slots" in str(exc):
                break
            raise LegoError(f"cannot open a lego_mcp session: {exc}") from None
        conn.execute("SELECT 1")  # then idle, as a leaked pool's sessions are
        stack.held_connections.append(conn)
        if len(stack.held_connections) > stack.pg.max_connections:
            raise LegoError("PostgreSQL accepted more sessions than max_connections")
    return len(stack.held_connections)


def db_connections_exhausted_repair(stack):
    stack.release_connections()


# -- security

def compromised_pod(stack):
    """Write an unexpected process and an outbound connection attempt into a Ready dashboard pod's log, as a
    runtime security sensor would report them; returns the pod's name."""
    pods = [p for p in dashboard.pods(stack.plane) if dashboard.is_ready(p)]
    if not pods:
        raise LegoError("no Ready dashboard pod to compromise")
    name = sorted(p["metadata"]["name"] for p in pods)[0]
    lines = [f"{_stamp()} WARN security: unexpected process started: {INTRUDER_PROCESS} -o stratum+tcp://"
             f"{INTRUDER_PEER} (pid 31337, parent /bin/sh, user app)",
             f"{_stamp()} WARN security: outbound connection attempt to {INTRUDER_PEER} (tcp) by pid 31337 "
             f"({INTRUDER_PROCESS})"]
    with open(stack.agent.pod_log(NAMESPACE, name, "dashboard"), "a", encoding="utf-8") as log:
        log.write("\n".join(lines) + "\n")
    stack.compromised = name
    return name


def compromised_pod_repair(stack):
    """The compromised pod deleted (its ReplicaSet makes a clean one); the quarantine policy removed."""
    name = getattr(stack, "compromised", None)
    if name:
        stack.kubectl("delete", "pod", name, "--ignore-not-found", "--wait=true", timeout=120)
    stack.kubectl("delete", "networkpolicy", "quarantine", "--ignore-not-found")
    stack.compromised = None


# -- one pod of the current revision (as a container that outgrew its memory, or a wedged worker)

def _current_replicaset(stack):
    """The dashboard's newest ReplicaSet (highest deployment.kubernetes.io/revision), as an API object."""
    listed = stack.get_json("replicasets", "-l", dashboard.SELECTOR)["items"]
    return max(listed, key=lambda rs: int(rs["metadata"].get("annotations", {}).get(
        "deployment.kubernetes.io/revision", "0")))


def _has_oom(container):
    return any(e.get("name") == "LAB_FAULT" and e.get("value") == "oom" for e in container.get("env") or [])


def oom_killed(stack, deadline=120):
    """One pod of the current ReplicaSet OOMKilled in a loop, owned by that ReplicaSet, the other pods serving: the
    node agent reads OOM from a container's LAB_FAULT=oom, and a pod's env cannot change, so the deployment is paused,
    its ReplicaSet's template given LAB_FAULT=oom until the ReplicaSet replaces a deleted pod with it, then restored
    and the deployment resumed (no new revision). A rollout restart cures it. Returns the pod's name."""
    return _one_current_pod_with(stack, "oom", deadline)


def _has_lab_fault(container, value):
    return any(e.get("name") == "LAB_FAULT" and e.get("value") == value for e in container.get("env") or [])


def _one_current_pod_with(stack, lab_fault, deadline):
    """One pod of the current ReplicaSet with LAB_FAULT=<lab_fault>, made as oom_killed says; its name."""
    rs = _current_replicaset(stack)
    name = rs["metadata"]["name"]
    stack.kubectl("rollout", "pause", "deployment/dashboard")
    try:
        env = rs["spec"]["template"]["spec"]["containers"][0].get("env") or []
        stack.kubectl("patch", "replicaset", name, "--type=json", "-p", json.dumps(
            [{"op": "add", "path": "/spec/template/spec/containers/0/env/-",
              "value": {"name": "LAB_FAULT", "value": lab_fault}}]))
        end = time.monotonic() + deadline
        oom = None
        while oom is None and time.monotonic() < end:
            pods = [p for p in dashboard.pods(stack.plane) if not p["metadata"].get("deletionTimestamp")
                    and any(o.get("name") == name for o in p["metadata"].get("ownerReferences") or [])]
            oom = next((p["metadata"]["name"] for p in pods
                        if _has_lab_fault(p["spec"]["containers"][0], lab_fault)), None)
            if oom is None and len(pods) == stack.replicas and all(dashboard.is_ready(p) for p in pods):
                # the ReplicaSet replaces it from its template; should it not have seen the patch yet, again
                victim = sorted(p["metadata"]["name"] for p in pods)[0]
                stack.kubectl("delete", "pod", victim, "--wait=false")
            time.sleep(0.5)
        if oom is None:
            raise LegoError(f"ReplicaSet {name} made no LAB_FAULT={lab_fault} pod within {deadline}s")
    finally:
        # the template as the deployment's again (LAB_FAULT last: removed by its index), then resumed
        env_now = stack.get_json("replicaset", name)["spec"]["template"]["spec"]["containers"][0].get("env") or []
        patch = [{"op": "remove", "path": f"/spec/template/spec/containers/0/env/{i}"}
                 for i in reversed(range(len(env), len(env_now))) if env_now[i].get("name") == "LAB_FAULT"]
        if patch:
            stack.kubectl("patch", "replicaset", name, "--type=json", "-p", json.dumps(patch))
        stack.kubectl("rollout", "resume", "deployment/dashboard")
    return oom


def oom_killed_repair(stack):
    """The OOM pods (found by their spec, so that a repair in another process finds them too) deleted: their
    ReplicaSet makes clean ones from the restored template."""
    stack.kubectl("rollout", "resume", "deployment/dashboard", check=False)  # not paused: kubectl says so
    for pod in dashboard.pods(stack.plane):
        if _has_oom(pod["spec"]["containers"][0]):
            stack.kubectl("delete", "pod", pod["metadata"]["name"], "--ignore-not-found", "--wait=true", timeout=120)


def _service_faults(stack, pod):
    """The faults.json of the reference service the node agent runs for `pod` (mcpops.lab.services.faults)."""
    return Path(stack.agent.dir) / "pods" / pod["metadata"]["uid"] / "state" / "faults.json"


def pod_not_ready(stack, deadline=120):
    """One pod of the current ReplicaSet running but never Ready (LAB_FAULT=not-ready: its readiness probe fails), the
    other pods serving, made as oom_killed makes its pod (no new revision): a pod stuck in a revision that serves
    fine, which a rollout restart replaces. Returns the pod's name."""
    return _one_current_pod_with(stack, "not-ready", deadline)


def pod_not_ready_repair(stack):
    """The never-Ready pods (found by their spec) deleted: their ReplicaSet makes clean ones."""
    stack.kubectl("rollout", "resume", "deployment/dashboard", check=False)
    for pod in dashboard.pods(stack.plane):
        if _has_lab_fault(pod["spec"]["containers"][0], "not-ready"):
            stack.kubectl("delete", "pod", pod["metadata"]["name"], "--ignore-not-found", "--wait=true", timeout=120)


# -- a new release that outgrew its memory (the newest revision fails, the previous one still serves)

def _oom_killed_once(pod):
    return any(((s.get("lastState") or {}).get("terminated") or {}).get("reason") == "OOMKilled"
               for s in (pod.get("status") or {}).get("containerStatuses") or [])


def oom_new_revision(stack, deadline=DEADLINE):
    """`kubectl set env deployment/dashboard LAB_FAULT=oom`: a new revision whose pod the node agent OOMKills in a loop;
    its rollout never completes and the previous ReplicaSet's pods keep serving (maxUnavailable 0), as a release
    that outgrew its memory limit. A restart starts the same revision again; a rollback cures it. Waits until the
    new pod was OOMKilled once (before, it looks like a pod still starting); returns its name."""
    stack.kubectl("set", "env", "deployment/dashboard", "LAB_FAULT=oom")
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        name = _current_replicaset(stack)["metadata"]["name"]
        for pod in dashboard.pods(stack.plane):
            if (not pod["metadata"].get("deletionTimestamp") and _has_oom(pod["spec"]["containers"][0])
                    and any(o.get("name") == name for o in pod["metadata"].get("ownerReferences") or [])
                    and _oom_killed_once(pod)):
                return pod["metadata"]["name"]
        time.sleep(0.5)
    raise LegoError(f"no pod of the LAB_FAULT=oom revision was OOMKilled within {deadline}s")


def oom_new_revision_repair(stack):
    """LAB_FAULT unset on the deployment when it is still there (a runbook's rollback took it away): the template is
    the previous revision's again, whose ReplicaSet takes over."""
    container = stack.get_json("deployment", "dashboard")["spec"]["template"]["spec"]["containers"][0]
    if any(e.get("name") == "LAB_FAULT" for e in container.get("env") or []):
        stack.kubectl("set", "env", "deployment/dashboard", "LAB_FAULT-")


PODS_UNHEALTHY_REASON = "request workers wedged (lab fault)"


def pods_unhealthy(stack):
    """Every Ready dashboard pod's service answers /health 503 (its faults.json), the database and the HSM fine and
    the pods still Ready: a pod state a restart clears (new pods, new state). Returns the pods' names."""
    names = []
    for pod in dashboard.pods(stack.plane):
        if dashboard.is_ready(pod):
            path = _service_faults(stack, pod)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"unhealthy": True, "reason": PODS_UNHEALTHY_REASON}))
            names.append(pod["metadata"]["name"])
    if not names:
        raise LegoError("no Ready dashboard pod to make unhealthy")
    return sorted(names)


def pods_unhealthy_repair(stack):
    for path in Path(stack.agent.dir).glob("pods/*/state/faults.json"):
        path.unlink(missing_ok=True)


# -- everything

def namespace_wiped(stack):
    stack.plane.kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=300s", timeout=330)


def namespace_wiped_repair(stack):
    stack.deploy()


# -- a high-traffic period (nothing breaks: lego-scale-high-load scales up for it, and down after it)

LOAD_SPREAD_WAIT = 120  # seconds for the load to reach every Ready dashboard pod on a loaded machine


def high_load(stack, status_file=None):
    """Concurrent requests on the dashboard from a process of its own (mcpops.lab.lego.dashboard_load), spread over
    the Ready pods as a Service would; waits until every Ready pod answered it. Returns its PID (the Popen is kept on
    the stack for the repair)."""
    from mcpops.lab.lego import dashboard_load

    status_file = status_file or Path(stack.dir) / "dashboard-load.json"
    proc = dashboard_load.start(stack, status_file)
    stack.load = proc
    try:
        dashboard_load.wait_spread(status_file, lambda: stack.dashboard_urls(), LOAD_SPREAD_WAIT, proc)
    except LookupError as exc:
        stop_load(proc)
        raise LegoError(f"high-load: {exc}") from None
    return proc.pid


def stop_load(proc):
    """The load process stopped (SIGTERM: it writes its last status) and reaped."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except Exception:  # subprocess.TimeoutExpired: it did not stop on SIGTERM
            proc.kill()
            proc.wait(timeout=10)


def manifest_replicas(stack):
    """{(kind, name): replicas} of the Deployments and StatefulSets of the shipped base manifests (the healthy size)."""
    import yaml

    found = {}
    for path in sorted((Path(stack.manifests) / "base").glob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") in ("Deployment", "StatefulSet"):
                found[(doc["kind"], doc["metadata"]["name"])] = int(doc["spec"].get("replicas", 1))
    return found


def high_load_repair(stack):
    """The load stopped (a load process this stack started; the recorded lab stops its own by PID first), each
    workload back to the manifests' replicas (what the runbook's scale down does when it ran)."""
    stop_load(getattr(stack, "load", None))
    stack.load = None
    for (kind, name), replicas in manifest_replicas(stack).items():
        stack.kubectl("scale", f"{kind.lower()}/{name}", f"--replicas={replicas}")


FAULTS = {
    "hsm-down": (hsm_down, hsm_down_repair),
    "hsm-slow": (hsm_slow, hsm_slow_repair),
    "hsm-token-removed": (hsm_token_removed, hsm_token_removed_repair),
    "bad-image": (bad_image, bad_image_repair),
    "scaled-to-zero": (scaled_to_zero, scaled_to_zero_repair),
    "db-connections-exhausted": (db_connections_exhausted, db_connections_exhausted_repair),
    "compromised-pod": (compromised_pod, compromised_pod_repair),
    "oom-killed": (oom_killed, oom_killed_repair),
    "pods-unhealthy": (pods_unhealthy, pods_unhealthy_repair),
    "pod-not-ready": (pod_not_ready, pod_not_ready_repair),
    "oom-new-revision": (oom_new_revision, oom_new_revision_repair),
    "namespace-wiped": (namespace_wiped, namespace_wiped_repair),
    "high-load": (high_load, high_load_repair),
}


def inject(stack, name):
    """Break the stack with fault `name`; returns what the fault reports (a pod, an image, a count) or None."""
    if name not in FAULTS:
        raise LegoError(f"unknown LEGO fault {name!r}; known: {', '.join(FAULTS)}")
    return FAULTS[name][0](stack)


def repair(stack, name):
    """Undo fault `name` (a no-op when a runbook already did) and wait until the stack is healthy again."""
    if name not in FAULTS:
        raise LegoError(f"unknown LEGO fault {name!r}; known: {', '.join(FAULTS)}")
    FAULTS[name][1](stack)
    return stack.wait_healthy()
