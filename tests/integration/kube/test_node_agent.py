"""The lab node agent (mcpops.lab.kube.node_agent) on the session's control plane: it registers a Ready node with
its own identity, binds pods and runs them (simulated) so that Deployments roll out, crash-loop on a bad image,
come back with `rollout undo`, scale to zero and back, and go not ready under LAB_FAULT; it runs a reference service
for a pod that asks for one, and stops by its PID leaving no process.

One agent for the module (watching its own namespace, so the other kube tests' pods are not touched); each test
works in its own Deployment. Back-off and readiness are shortened (ready after 0.5 s, back-off from 1 s)."""

import json
import os
import subprocess
import urllib.request

import pytest

from mcpops.lab import pids
from mcpops.lab.kube.node_process import NodeAgentProcess
import polling

NAMESPACE = "lego-mcp-node"
NODE = "mcpops-lab-node-k3"
DEADLINE = 30  # seconds for the controllers and the agent to act; they normally take one or two


@pytest.fixture(scope="module")
def agent(kube_control_plane):
    kube_control_plane.kubectl("create", "namespace", NAMESPACE)
    process = NodeAgentProcess(kube_control_plane.kubeconfig, node_name=NODE, namespaces=(NAMESPACE,),
                               ready_delay=0.5, backoff_base=1.0)
    process.start()
    print(f"node agent ready in {process.start_seconds}s (PID {process.pid})")
    try:
        yield process
    finally:
        process.stop()
        kube_control_plane.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def kubectl(plane, *args, check=True, timeout=60):
    return plane.kubectl("-n", NAMESPACE, *args, check=check, timeout=timeout)


def get_json(plane, *args):
    return json.loads(kubectl(plane, "get", *args, "-o", "json").stdout)


def pods(plane, app):
    return get_json(plane, "pods", "-l", f"app={app}")["items"]


def wait_for(what, probe, deadline=DEADLINE):
    return polling.wait_for(what, probe, deadline)


def create_deployment(plane, name, image, replicas, env=None, annotations=None, port=None):
    container = {"name": name, "image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if port:
        container["ports"] = [{"containerPort": port}]
    labels = {"app": name}
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels, "annotations": annotations or {}},
                                  "spec": {"containers": [container]}}}}
    plane.kubectl("apply", "-f", "-", input=json.dumps(body))


def rollout_status(plane, name, timeout):
    return kubectl(plane, "rollout", "status", f"deployment/{name}", f"--timeout={timeout}s", check=False,
                   timeout=timeout + 30)


def ready(pod):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def running_and_ready(plane, app, count, image=None):
    """The app's pods when exactly `count` are there, all Running and Ready (with `image`, when given)."""
    items = pods(plane, app)
    ok = len(items) == count and all(
        p["status"].get("phase") == "Running" and ready(p) and not p["metadata"].get("deletionTimestamp")
        and (image is None or p["spec"]["containers"][0]["image"] == image) for p in items)
    return items if ok else None


def test_the_agent_registers_a_ready_node_with_its_own_identity(kube_control_plane, agent):
    node = json.loads(kube_control_plane.kubectl("get", "node", NODE, "-o", "json").stdout)
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"
    assert node["status"]["capacity"] == {"cpu": "4", "memory": "8Gi", "pods": "110"}
    lease = json.loads(kube_control_plane.kubectl("get", "lease", NODE, "-n", "kube-node-lease",
                                                  "-o", "json").stdout)
    assert lease["spec"]["holderIdentity"] == NODE
    # its own token: a node's rights, not the admin's
    own = [str(kube_control_plane.binaries.kubectl), f"--kubeconfig={agent.dir}/kubeconfig"]
    assert subprocess.run(own + ["get", "nodes"], capture_output=True, check=False).returncode == 0
    refused = subprocess.run(own + ["get", "secrets", "-n", "kube-system"], capture_output=True, text=True,
                             check=False)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower()


def test_a_deployment_of_three_becomes_available_and_its_pods_run_on_the_node(kube_control_plane, agent):
    create_deployment(kube_control_plane, "dashboard", "lego/dashboard:1.0", 3)
    status = rollout_status(kube_control_plane, "dashboard", DEADLINE)
    assert status.returncode == 0, status.stdout + status.stderr
    items = wait_for("3 Running and Ready pods", lambda: running_and_ready(kube_control_plane, "dashboard", 3))
    assert {p["spec"]["nodeName"] for p in items} == {NODE}
    assert all(p["status"]["podIP"].startswith("127.77.") for p in items)
    assert len({p["status"]["podIP"] for p in items}) == 3
    reasons = {e["reason"] for e in get_json(kube_control_plane, "events")["items"]
               if e["involvedObject"]["name"] == items[0]["metadata"]["name"]}
    assert {"Scheduled", "Started"} <= reasons
    log = agent.pod_log(NAMESPACE, items[0]["metadata"]["name"], "dashboard").read_text()
    assert "container started (image lego/dashboard:1.0" in log


def test_kubectl_logs_reads_the_container_log_through_the_api_server(kube_control_plane, agent):
    create_deployment(kube_control_plane, "auditor", "lego/auditor:1.0", 1)
    pod = wait_for("a Ready pod", lambda: running_and_ready(kube_control_plane, "auditor", 1))[0]["metadata"]["name"]
    logs = kubectl(kube_control_plane, "logs", pod, "--since=1h")
    assert logs.stdout == "lab: container started (image lego/auditor:1.0, simulated)\n"
    stamped = kubectl(kube_control_plane, "logs", pod, "--timestamps", "--tail=1").stdout
    assert stamped.endswith("Z lab: container started (image lego/auditor:1.0, simulated)\n")
    assert kubectl(kube_control_plane, "logs", pod, "--since-time=2999-01-01T00:00:00Z").stdout == ""
    refused = kubectl(kube_control_plane, "exec", pod, "--", "true", check=False)
    assert refused.returncode != 0 and "exec, attach, port-forward cannot work" in refused.stderr


def test_a_broken_image_crash_loops_and_rollout_undo_cures_it(kube_control_plane, agent):
    create_deployment(kube_control_plane, "worker", "lego/worker:2.0", 3)
    assert rollout_status(kube_control_plane, "worker", DEADLINE).returncode == 0
    kubectl(kube_control_plane, "set", "image", "deployment/worker", "worker=lego/worker:2.1-broken")

    def crash_looping():
        bad = [p for p in pods(kube_control_plane, "worker")
               if p["spec"]["containers"][0]["image"].endswith("-broken")]
        states = [s for p in bad for s in p["status"].get("containerStatuses") or []]
        return bad if states and all(s["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"
                                     and s["restartCount"] >= 1 and not s["ready"] for s in states) else None

    broken = wait_for("the new pods in CrashLoopBackOff with restarts", crash_looping)
    assert broken[0]["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1
    stuck = rollout_status(kube_control_plane, "worker", 3)
    assert stuck.returncode != 0, stuck.stdout
    assert len([p for p in pods(kube_control_plane, "worker") if ready(p)]) == 3  # the old ones still serve

    kubectl(kube_control_plane, "rollout", "undo", "deployment/worker")
    status = rollout_status(kube_control_plane, "worker", DEADLINE)
    assert status.returncode == 0, status.stdout + status.stderr
    wait_for("3 Ready pods of the old image, the broken ones gone",
             lambda: running_and_ready(kube_control_plane, "worker", 3, image="lego/worker:2.0"))


def test_scaled_to_zero_there_are_no_pods_and_back_to_two_they_run(kube_control_plane, agent):
    create_deployment(kube_control_plane, "replica", "lego/replica:1.0", 3)
    assert rollout_status(kube_control_plane, "replica", DEADLINE).returncode == 0
    kubectl(kube_control_plane, "scale", "deployment/replica", "--replicas=0")
    wait_for("no pods (the agent finishes each deletion)", lambda: pods(kube_control_plane, "replica") == [])
    kubectl(kube_control_plane, "scale", "deployment/replica", "--replicas=2")
    wait_for("2 Running and Ready pods", lambda: running_and_ready(kube_control_plane, "replica", 2))
    assert rollout_status(kube_control_plane, "replica", DEADLINE).returncode == 0


def test_lab_fault_not_ready_and_oom_come_from_the_pod_env(kube_control_plane, agent):
    create_deployment(kube_control_plane, "celery", "lego/celery:1.0", 1)
    assert rollout_status(kube_control_plane, "celery", DEADLINE).returncode == 0
    kubectl(kube_control_plane, "set", "env", "deployment/celery", "LAB_FAULT=not-ready")

    def not_ready_pod():
        items = [p for p in pods(kube_control_plane, "celery")
                 if any(e.get("value") == "not-ready" for e in p["spec"]["containers"][0].get("env") or [])]
        statuses = [s for p in items for s in p["status"].get("containerStatuses") or []]
        return items if statuses and all("running" in s["state"] and not s["ready"] for s in statuses) else None

    pod = wait_for("a Running pod that is not Ready", not_ready_pod)[0]
    assert pod["status"]["phase"] == "Running" and not ready(pod)
    assert rollout_status(kube_control_plane, "celery", 3).returncode != 0

    kubectl(kube_control_plane, "set", "env", "deployment/celery", "LAB_FAULT=oom")

    def oom_killed():
        for p in pods(kube_control_plane, "celery"):
            for s in p["status"].get("containerStatuses") or []:
                if s.get("lastState", {}).get("terminated", {}).get("reason") == "OOMKilled":
                    return s
        return None

    assert wait_for("a container whose last state is OOMKilled", oom_killed)["lastState"]["terminated"][
        "exitCode"] == 137
    kubectl(kube_control_plane, "set", "env", "deployment/celery", "LAB_FAULT-")
    assert rollout_status(kube_control_plane, "celery", DEADLINE).returncode == 0


def test_a_pod_that_asks_for_a_service_gets_it_on_its_ip_until_deleted(kube_control_plane, agent, tmp_path):
    token_file = tmp_path / "bot-token"
    token_file.write_text("123:lab-token\n")
    token_file.chmod(0o600)
    create_deployment(kube_control_plane, "notify", "lego/notify:1.0", 1, port=8443,
                      env={"TELEGRAM_BOT_TOKEN_FILE": str(token_file)},
                      annotations={"lab.mcpops.io/serve": "telegram-api"})
    pod = wait_for("the serving pod Ready", lambda: running_and_ready(kube_control_plane, "notify", 1))[0]
    url = f"http://{pod['status']['podIP']}:8443/health"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as answer:
        assert answer.status == 200 and json.loads(answer.read())["status"] == "ok"
    with open(f"{agent.dir}/pods/{pod['metadata']['uid']}/service.pid", encoding="utf-8") as fh:
        service_pid = int(fh.read())
    assert "mcpops.lab.services" in " ".join(pids.cmdline(service_pid))

    kubectl(kube_control_plane, "delete", "deployment", "notify")
    wait_for("the pod gone", lambda: pods(kube_control_plane, "notify") == [])
    wait_for("its service stopped", lambda: not pids.pid_alive(service_pid))


def test_lego_mcp_without_a_database_is_not_served_and_says_so(kube_control_plane, agent):
    create_deployment(kube_control_plane, "lego", "lego/lego-mcp:1.0", 1,
                      annotations={"lab.mcpops.io/serve": "lego-mcp"})
    pod = wait_for("the pod Ready", lambda: running_and_ready(kube_control_plane, "lego", 1))[0]
    events = get_json(kube_control_plane, "events")["items"]
    skipped = [e for e in events if e["involvedObject"]["name"] == pod["metadata"]["name"]
               and e["reason"] == "LabServeSkipped"]
    assert skipped and "DATABASE_URL" in skipped[0]["message"]
    assert not os.path.exists(f"{agent.dir}/pods/{pod['metadata']['uid']}/service.pid")


def test_the_agent_stops_by_pid_and_leaves_no_process(kube_control_plane, agent):
    token_file = agent.dir + "/bot-token"  # the agent's dir goes at stop, so the token file with it
    with open(token_file, "w") as fh:
        fh.write("123:lab-token\n")
    create_deployment(kube_control_plane, "last", "lego/last:1.0", 1, port=8444,
                      env={"TELEGRAM_BOT_TOKEN_FILE": token_file},
                      annotations={"lab.mcpops.io/serve": "telegram-api"})
    wait_for("the serving pod Ready", lambda: running_and_ready(kube_control_plane, "last", 1))
    children = agent.child_pids()
    assert len(children) == 2 and all(pids.pid_alive(pid) for pid in children)  # the service, the kubelet API
    agent_pid = agent.pid
    agent.stop()
    assert not pids.pid_alive(agent_pid)
    assert not [pid for pid in children if pids.pid_alive(pid)]
    assert not os.path.exists(agent.dir)
