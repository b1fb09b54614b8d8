"""The private control plane (mcpops.lab.kube): built from Debian's source and cached, Debian's kubectl works with
its kubeconfig, Deployments make ReplicaSets and (Pending) Pods, `rollout undo` brings back the old template, and
stop leaves no process behind."""

import json
import os

import pytest

from mcpops.lab.kube.build import GIT_VERSION, KubeBinaries
from mcpops.lab.kube.control_plane import ControlPlane
import polling

NAMESPACE = "lego-mcp-plane"
DEADLINE = 60  # seconds for the controllers to act; they normally take one or two


def deployment(name, image, replicas=2):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": name, "image": image}]}}}}


def apply(plane, *objects):
    plane.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def get_json(plane, *args):
    return json.loads(plane.kubectl("get", *args, "-o", "json").stdout)


def wait_for(what, probe, deadline=DEADLINE):
    return polling.wait_for(what, probe, deadline)


def replica_sets(plane, app):
    """{image: (revision, replicas)} of the app's ReplicaSets."""
    items = get_json(plane, "replicasets", "-n", NAMESPACE, "-l", f"app={app}")["items"]
    return {rs["spec"]["template"]["spec"]["containers"][0]["image"]:
            (rs["metadata"]["annotations"].get("deployment.kubernetes.io/revision"), rs["spec"]["replicas"])
            for rs in items}


@pytest.fixture(scope="module")
def lego_namespace(kube_control_plane):
    apply(kube_control_plane, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    return NAMESPACE


def test_binaries_come_from_the_cache_once_built(kube_binaries):
    said = []
    again = KubeBinaries(cache=kube_binaries.cache, out=said.append).ensure()
    assert said == [], "a second ensure() must not build"
    assert again.dir == kube_binaries.dir and str(again.dir).startswith(str(kube_binaries.cache))
    info = again.info()
    assert info["hash"] == again.hash and info["build_seconds"] > 0 and "go1." in info["go"]


def test_kubectl_talks_to_the_api_server_with_the_kubeconfig(kube_control_plane):
    versions = json.loads(kube_control_plane.kubectl("version", "-o", "json").stdout)
    assert versions["serverVersion"]["gitVersion"] == GIT_VERSION
    assert versions["clientVersion"]["gitVersion"] == GIT_VERSION  # Debian's kubernetes-client, not another kubectl
    assert kube_control_plane.server.startswith("https://127.0.0.1:")
    # the token is what authenticates: without it the API server refuses
    stranger = kube_control_plane.kubectl("get", "namespaces", "--token=not-a-lab-token", check=False)
    assert stranger.returncode != 0 and "Unauthorized" in stranger.stderr


def test_a_deployment_makes_a_replicaset_and_pending_pods(kube_control_plane, lego_namespace):
    apply(kube_control_plane, deployment("dashboard", "lego-mcp/dashboard:8.0.0", replicas=2))
    sets = wait_for("the dashboard ReplicaSet", lambda: replica_sets(kube_control_plane, "dashboard"))
    assert sets == {"lego-mcp/dashboard:8.0.0": ("1", 2)}

    def pods():
        items = get_json(kube_control_plane, "pods", "-n", lego_namespace, "-l", "app=dashboard")["items"]
        return items if len(items) == 2 else None

    for pod in wait_for("two dashboard pods", pods):
        # no scheduler and no kubelet yet: nothing binds or runs them
        assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"


def test_rollout_undo_restores_the_old_replicasets_template(kube_control_plane, lego_namespace):
    apply(kube_control_plane, deployment("celery-worker", "lego-mcp/worker:8.0.0", replicas=1))
    wait_for("revision 1", lambda: replica_sets(kube_control_plane, "celery-worker"))
    kube_control_plane.kubectl("set", "image", "deployment/celery-worker", "celery-worker=lego-mcp/worker:8.0.1-bad",
                               "-n", lego_namespace)
    wait_for("the bad image's ReplicaSet",
             lambda: replica_sets(kube_control_plane, "celery-worker").get("lego-mcp/worker:8.0.1-bad"))

    kube_control_plane.kubectl("rollout", "undo", "deployment/celery-worker", "-n", lego_namespace)

    def undone():
        sets = replica_sets(kube_control_plane, "celery-worker")
        return sets if sets.get("lego-mcp/worker:8.0.0", (None,))[0] == "3" else None

    sets = wait_for("the old ReplicaSet at revision 3", undone)
    assert set(sets) == {"lego-mcp/worker:8.0.0", "lego-mcp/worker:8.0.1-bad"}, "undo reuses the old ReplicaSet"
    rolled_back = get_json(kube_control_plane, "deployment/celery-worker", "-n", lego_namespace)
    assert rolled_back["spec"]["template"]["spec"]["containers"][0]["image"] == "lego-mcp/worker:8.0.0"
    assert rolled_back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    # the bad ReplicaSet keeps its surge pod: with no kubelet no pod becomes available, so maxUnavailable=0
    # forbids scaling it down (the lab node agent makes pods ready)


def test_stop_leaves_no_process_and_no_dir(kube_binaries, tmp_path):
    plane = ControlPlane(kube_binaries, base=tmp_path, out=None).start()
    started = plane.pids
    assert set(started) == {"etcd", "kube-apiserver", "kube-controller-manager"}
    assert all(os.path.exists(f"/proc/{pid}") for pid in started.values())
    state_dir = plane.dir
    plane.stop()
    assert [name for name, pid in started.items() if os.path.exists(f"/proc/{pid}")] == []
    assert not os.path.exists(state_dir)
