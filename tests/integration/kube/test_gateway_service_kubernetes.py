"""The gateway_service role's kubernetes backend for real (issue 18): kubernetes.core's modules and the Python
kubernetes client against the session's lab control plane, with a node agent of this module's own running the pods
(simulated: docs/dev/kube-node-agent.md) in this module's own namespace. Driven through ansible-playbook and the role
(tests/integration/kube/playbooks/gateway_service_k8s.yml), one action a run.

Status; restart, scale up and down, stop and start, set_env (idempotent, unset, secret values never shown), rollback
(the previous revision, --to-revision, after a bad image), each waiting for the rollout; a rollout to a crash-looping
image fails naming the pods' reason; check mode changes nothing in the API server (the objects' resourceVersions);
bad input (a missing deployment, a revision it has not got, negative replicas, a bad env name) is refused with
nothing changed."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcpops.lab.kube.node_process import NodeAgentProcess
from pg_testbed import PASSWORDS, REPO, ansible_env, assert_no_canary, cluster  # noqa: F401 (cluster: a fixture)
import polling

BIN = Path(sys.executable).parent
PLAYBOOK = Path(__file__).parent / "playbooks" / "gateway_service_k8s.yml"
NAMESPACE = "gwsvc-h18a"
NODE = "mcpops-lab-node-gwsvc"
DEADLINE = 60  # seconds for the controllers and the agent to act; they normally take one or two
SECRET_CANARY = "CANARYk8sEnvSecret7Qx2"


@pytest.fixture(scope="module")
def agent(kube_control_plane):
    kube_control_plane.kubectl("create", "namespace", NAMESPACE)
    process = NodeAgentProcess(kube_control_plane.kubeconfig, node_name=NODE, namespaces=(NAMESPACE,),
                               ready_delay=0.5, backoff_base=1.0)
    process.start()
    try:
        yield process
    finally:
        process.stop()
        kube_control_plane.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


# -- the API server, read directly ------------------------------------------------------------------------------

def kubectl(plane, *args, check=True):
    return plane.kubectl("-n", NAMESPACE, *args, check=check)


def get_json(plane, *args):
    return json.loads(kubectl(plane, "get", *args, "-o", "json").stdout)


def create_deployment(plane, name, image, replicas, env=None):
    container = {"name": name, "image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    labels = {"app": name}
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}
    plane.kubectl("apply", "-f", "-", input=json.dumps(body))
    wait_rolled_out(plane, name)


def wait_rolled_out(plane, name):
    """kubectl rollout status, then until the old pods are gone too (terminating ones count: they change)."""
    proc = kubectl(plane, "rollout", "status", f"deployment/{name}", f"--timeout={DEADLINE}s", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    desired = get_json(plane, "deployment", name)["spec"]["replicas"]

    def settled():
        items = get_json(plane, "pods", "-l", f"app={name}")["items"]
        return len(items) == desired and all(ready(p) for p in items)

    wait_for(f"exactly {desired} pods of {name}, all Ready", settled)


def pods(plane, app):
    items = get_json(plane, "pods", "-l", f"app={app}")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready(pod):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def versions(plane, app):
    """Every object of the app the role could touch, by kind/name, with its resourceVersion."""
    out = {}
    for kind in ("deployment", "replicasets", "pods"):
        for item in get_json(plane, kind, "-l", f"app={app}")["items"] if kind != "deployment" else \
                [get_json(plane, "deployment", app)]:
            out[f"{item['kind']}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return out


def env_of(plane, name):
    container = get_json(plane, "deployment", name)["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container.get("env") or []}


def wait_for(what, probe, deadline=DEADLINE):
    return polling.wait_for(what, probe, deadline)


# -- the role, through ansible-playbook --------------------------------------------------------------------------

class Run:
    def __init__(self, proc, status):
        self.proc, self.status = proc, status
        self.text = " ".join(proc.stdout.split())  # the default callback folds long lines
        recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost")]
        self.changed = int(recap[-1].split("changed=")[1].split()[0]) if recap else None

    @property
    def ok(self):
        return self.proc.returncode == 0

    def output(self):
        return self.proc.stdout[-8000:] + self.proc.stderr[-3000:] + "\n" + self.text[-3000:]


def role(plane, tmp_path, action, deployment, *flags, **extra):
    """One run of the role; Run with its output, the changed count of the recap and the status it left."""
    status_file = tmp_path / f"status-{action}-{time.monotonic_ns()}.json"
    extra_vars = dict(test_action=action, test_namespace=NAMESPACE, deployment=deployment,
                      kubeconfig=str(plane.kubeconfig),
                      status_file=str(status_file), ansible_python_interpreter=sys.executable, **extra)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               MCPOPS_RUNS_DIR=str(tmp_path / "runs"), no_proxy="127.0.0.1,localhost",
               # the lab's kubectl (the API server's version) first: the role's state read runs `kubectl`
               PATH=f"{plane.binaries.bin}:{BIN}:{os.environ.get('PATH', '')}")
    env.pop("KUBECONFIG", None)  # only what the play says reaches the API server
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(PLAYBOOK), "-e",
                           json.dumps(extra_vars), *flags], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    (tmp_path / f"{status_file.stem}.out").write_text(proc.stdout + proc.stderr)  # kept for a failure's reader
    status = json.loads(status_file.read_text()) if status_file.exists() else None
    assert SECRET_CANARY not in proc.stdout + proc.stderr
    for path in (tmp_path / "runs").rglob("*"):  # the incident report of the run, and its JSON summary
        assert not path.is_file() or SECRET_CANARY not in path.read_text(errors="replace"), path
    return Run(proc, status)


# -- the tests ---------------------------------------------------------------------------------------------------

def test_status_reads_the_deployment_its_pods_and_revisions(kube_control_plane, agent, tmp_path):
    create_deployment(kube_control_plane, "web", "lab/web:1.0", 2)
    run = role(kube_control_plane, tmp_path, "status", "web")
    assert run.ok, run.output()
    status = run.status
    assert status["available"] and status["running"] and status["state"] == "Running"
    assert status["desired_replicas"] == 2 and len(status["replicas"]) == 2
    assert {r["image"] for r in status["replicas"]} == {"lab/web:1.0"}
    assert status["revision"] == "1" and [r["revision"] for r in status["revisions"]] == [1]
    assert status["rollout"]["complete"] and status["rollout"]["message"] == "successfully rolled out"
    assert run.changed == 0


def test_check_mode_changes_nothing_in_the_api_server(kube_control_plane, agent, tmp_path):
    create_deployment(kube_control_plane, "calm", "lab/calm:1.0", 2, env={"DB_POOL_SIZE": "10"})
    kubectl(kube_control_plane, "set", "image", "deployment/calm", "calm=lab/calm:1.1")
    wait_rolled_out(kube_control_plane, "calm")
    before = versions(kube_control_plane, "calm")
    runs = {
        "restart": role(kube_control_plane, tmp_path, "restart", "calm", "--check"),
        "stop": role(kube_control_plane, tmp_path, "stop", "calm", "--check"),
        "scale": role(kube_control_plane, tmp_path, "scale", "calm", "--check", replicas=4),
        "rollback": role(kube_control_plane, tmp_path, "rollback", "calm", "--check", revision=1),
        "set_env": role(kube_control_plane, tmp_path, "set_env", "calm", "--check", "--diff",
                        env={"DB_POOL_SIZE": 30, "API_TOKEN": SECRET_CANARY}),
    }
    for action, run in runs.items():
        assert run.ok, (action, run.output())
    assert versions(kube_control_plane, "calm") == before
    assert env_of(kube_control_plane, "calm") == {"DB_POOL_SIZE": "10"}
    assert "Check mode: would restart" in runs["restart"].text
    assert f"-n {NAMESPACE} rollout restart deployment/calm" in runs["restart"].text
    assert "Check mode: would roll deployment/calm back from revision 2 (lab/calm:1.1) to revision 1" \
        in runs["rollback"].text
    assert "Check mode: would set on deployment/calm: calm: DB_POOL_SIZE 10 -> 30; " \
           "calm: API_TOKEN (unset) -> (secret, not shown)" in runs["set_env"].text
    assert "set env deployment/calm DB_POOL_SIZE=30 API_TOKEN=********" in runs["set_env"].text
    # the k8s modules asked the API server (a dry run) and would have changed it
    assert runs["scale"].changed >= 1 and runs["restart"].changed >= 1


def test_restart_rolls_new_pods_and_waits_for_them(kube_control_plane, agent, tmp_path):
    create_deployment(kube_control_plane, "rr", "lab/rr:1.0", 2)
    old = {p["metadata"]["name"] for p in pods(kube_control_plane, "rr")}
    run = role(kube_control_plane, tmp_path, "restart", "rr")
    assert run.ok, run.output()
    # the role returned only once the rollout was complete: the new pods Ready, the old ones gone
    status = run.status
    assert status["rollout"]["complete"] and status["revision"] == "2"
    assert len(status["replicas"]) == 2 and not ({r["id"] for r in status["replicas"]} & old)
    now = pods(kube_control_plane, "rr")
    assert len(now) == 2 and all(ready(p) for p in now) and not ({p["metadata"]["name"] for p in now} & old)
    template = get_json(kube_control_plane, "deployment", "rr")["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    assert run.changed >= 1


def test_scale_up_down_stop_and_start(kube_control_plane, agent, tmp_path):
    create_deployment(kube_control_plane, "sc", "lab/sc:1.0", 1)
    up = role(kube_control_plane, tmp_path, "scale", "sc", replicas=3)
    assert up.ok, up.output()
    assert up.status["rollout"]["available"] == 3 and len(pods(kube_control_plane, "sc")) == 3
    assert all(ready(p) for p in pods(kube_control_plane, "sc"))
    again = role(kube_control_plane, tmp_path, "scale", "sc", replicas=3)
    assert again.ok and again.changed == 0, again.output()

    down = role(kube_control_plane, tmp_path, "scale", "sc", replicas=1)
    assert down.ok, down.output()
    assert down.status["rollout"]["complete"] and len(down.status["replicas"]) == 1

    stop = role(kube_control_plane, tmp_path, "stop", "sc")
    assert stop.ok, stop.output()
    assert stop.status["replicas"] == [] and stop.status["state"] == "absent"
    assert get_json(kube_control_plane, "pods", "-l", "app=sc")["items"] == []  # not even terminating ones

    start = role(kube_control_plane, tmp_path, "start", "sc", replicas=2)
    assert start.ok, start.output()
    assert start.status["running"] and start.status["rollout"]["available"] == 2
    assert len(pods(kube_control_plane, "sc")) == 2 and all(ready(p) for p in pods(kube_control_plane, "sc"))


def test_set_env_rolls_out_once_and_is_idempotent(kube_control_plane, agent, tmp_path):
    create_deployment(kube_control_plane, "dash", "lab/dash:1.0", 2, env={"DB_POOL_SIZE": "10", "OLD_FLAG": "x"})
    wanted = {"DB_POOL_SIZE": 30, "HSM_FALLBACK_ENABLED": True, "API_TOKEN": SECRET_CANARY, "OLD_FLAG": None}
    run = role(kube_control_plane, tmp_path, "set_env", "dash", env=wanted)
    assert run.ok, run.output()
    assert env_of(kube_control_plane, "dash") == {"DB_POOL_SIZE": "30", "HSM_FALLBACK_ENABLED": "true",
                                                 "API_TOKEN": SECRET_CANARY}
    assert run.status["revision"] == "2" and run.status["rollout"]["complete"]
    assert not run.status["env_plan"]["changed"]  # read again after the rollout: as asked
    assert ("Setting on deployment/dash: dash: DB_POOL_SIZE 10 -> 30; dash: HSM_FALLBACK_ENABLED (unset) -> true"
            in run.text)
    assert "dash: OLD_FLAG x -> (unset)" in run.text
    assert "API_TOKEN (unset) -> (secret, not shown)" in run.text
    new_pods = pods(kube_control_plane, "dash")
    assert len(new_pods) == 2 and all(ready(p) for p in new_pods)
    assert all({e["name"]: e.get("value") for e in p["spec"]["containers"][0]["env"]}["DB_POOL_SIZE"] == "30"
               for p in new_pods)

    rv = versions(kube_control_plane, "dash")
    again = role(kube_control_plane, tmp_path, "set_env", "dash", env=wanted)
    assert again.ok and again.changed == 0, again.output()
    assert "nothing, every variable is already as asked" in again.text
    assert versions(kube_control_plane, "dash") == rv and again.status["revision"] == "2"


def test_rollback_after_a_bad_image_and_to_a_revision(kube_control_plane, agent, tmp_path):
    plane = kube_control_plane
    create_deployment(plane, "api", "lab/api:1.0", 2)                           # revision 1
    kubectl(plane, "set", "image", "deployment/api", "api=lab/api:1.1")
    wait_rolled_out(plane, "api")                                               # revision 2
    kubectl(plane, "set", "image", "deployment/api", "api=lab/api:1.2-broken")  # revision 3: crash loop
    wait_for("a crash-looping pod of the bad image", lambda: [
        p for p in pods(plane, "api") if p["spec"]["containers"][0]["image"] == "lab/api:1.2-broken"
        and "waiting" in (p["status"].get("containerStatuses") or [{}])[0].get("state", {})])

    back = role(plane, tmp_path, "rollback", "api")
    assert back.ok, back.output()
    assert "Rolling deployment/api back from revision 3 (lab/api:1.2-broken) to revision 2 (lab/api:1.1" in back.text
    assert back.status["rollout"]["complete"] and back.status["revision"] == "4"
    now = pods(plane, "api")
    assert len(now) == 2 and all(ready(p) and p["spec"]["containers"][0]["image"] == "lab/api:1.1" for p in now)

    # to the bad revision on purpose: the wait sees the new pods crash and says why, long before its timeout
    bad = role(plane, tmp_path, "rollback", "api", revision=3, timeout=300)
    assert not bad.ok
    assert "did not roll out after rollback" in bad.text and "The new pods fail:" in bad.text
    assert "CrashLoopBackOff (image lab/api:1.2-broken, last exit 1 Error" in bad.text, bad.output()

    previous = role(plane, tmp_path, "rollback", "api")  # the newest revision below the current one: 1.1
    assert previous.ok, previous.output()
    assert all(p["spec"]["containers"][0]["image"] == "lab/api:1.1" for p in pods(plane, "api"))

    first = role(plane, tmp_path, "rollback", "api", revision=1)
    assert first.ok, first.output()
    assert "to revision 1 (lab/api:1.0" in first.text
    assert "deployment/api runs lab/api:1.0 again" in first.text
    now = pods(plane, "api")
    assert len(now) == 2 and all(ready(p) and p["spec"]["containers"][0]["image"] == "lab/api:1.0" for p in now)


def test_bad_input_is_refused_and_nothing_changes(kube_control_plane, agent, tmp_path):
    plane = kube_control_plane
    create_deployment(plane, "firm", "lab/firm:1.0", 1)
    before = versions(plane, "firm")

    missing = role(plane, tmp_path, "restart", "nosuch")
    assert not missing.ok
    assert "Cannot read the state of the gateway through kubernetes" in missing.text
    assert 'deployments.apps \\"nosuch\\" not found' in missing.text or 'deployments.apps "nosuch" not found' \
        in missing.text, missing.output()
    assert "Nothing was changed" in missing.text

    revision = role(plane, tmp_path, "rollback", "firm", revision=99)
    assert not revision.ok
    assert "Cannot roll back deployment/firm in %s: deployment/firm has no revision 99; it is at revision 1. " \
           "Its revisions: 1. Nothing was changed." % NAMESPACE in revision.text, revision.output()

    earlier = role(plane, tmp_path, "rollback", "firm")
    assert not earlier.ok and "no earlier revision to roll back to" in earlier.text

    negative = role(plane, tmp_path, "scale", "firm", replicas=-1)
    assert not negative.ok and "scale needs gateway_service_replicas >= 0" in negative.text

    bad_name = role(plane, tmp_path, "set_env", "firm", env={"1BAD NAME": "x", "API_TOKEN": SECRET_CANARY})
    assert not bad_name.ok and "is not a valid environment variable name" in bad_name.text, bad_name.output()

    container = role(plane, tmp_path, "set_env", "firm", env={"A": "1"}, containers=["sidecar"])
    assert not container.ok
    assert "Cannot set env on deployment/firm in %s: deployment/firm has no container sidecar; its containers: firm" \
        % NAMESPACE in container.text, container.output()

    assert versions(plane, "firm") == before
    assert get_json(plane, "deployments")["items"] and "nosuch" not in {
        d["metadata"]["name"] for d in get_json(plane, "deployments")["items"]}


# -- db-connection-exhaustion step 4 on kubernetes: the deployment's env, not a host file --------------------------

def test_db_connection_exhaustion_raises_db_pool_size_on_the_deployment(kube_control_plane, agent, cluster, tmp_path):
    plane = kube_control_plane
    create_deployment(plane, "dashboard", "lego/dashboard:8.0", 2, env={"DB_POOL_SIZE": "10", "LOG_LEVEL": "info"})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    pg = run_dir / "vars-pg.json"  # the login password only ever in this 0600 file
    pg.touch(mode=0o600)
    pg.write_text(json.dumps(dict(pg_login_host="127.0.0.1", pg_login_port=cluster.port, pg_login_user="dba",
                                  pg_login_password=PASSWORDS["dba"], pg_login_db="postgres")))
    inventory = run_dir / "inventory.json"
    inventory.write_text(json.dumps({"gateways": {"hosts": {"lego-k8s": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "mcp_service": "lego-mcp",
        "gateway_platform": "kubernetes", "gateway_k8s_namespace": NAMESPACE, "gateway_k8s_deployment": "dashboard",
        "gateway_k8s_kubeconfig": str(plane.kubeconfig), "gateway_service_start_timeout": DEADLINE}}}}))
    env = ansible_env(run_dir)
    env["PATH"] = f"{plane.binaries.bin}:{env['PATH']}"
    env["MCPOPS_RUNS_DIR"] = str(run_dir / "runs")  # the incident reports, searched for the password below
    env.pop("KUBECONFIG", None)

    def exhaustion(*flags):
        proc = subprocess.run([str(BIN / "ansible-playbook"), "playbooks/db-connection-exhaustion.yml", "-i",
                               str(inventory), "-e", f"@{pg}", "-e", "idle_for=1h", "-e", "pool_size=30", *flags],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        (run_dir / "output.txt").open("a").write(proc.stdout + proc.stderr)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
        return " ".join(proc.stdout.split())

    before = versions(plane, "dashboard")
    check = exhaustion("--check", "--diff")
    assert "DB_POOL_SIZE: 10 -> 30 on deployment/dashboard (rolled out) - check mode: nothing changed or rolled out" \
        in check
    assert versions(plane, "dashboard") == before and env_of(plane, "dashboard")["DB_POOL_SIZE"] == "10"

    done = exhaustion()
    assert "Step 4: Increase pool size (temporary): on the deployment (kubernetes), set env DB_POOL_SIZE=30" in done
    assert "DB_POOL_SIZE: 10 -> 30 on deployment/dashboard (rolled out)" in done
    assert env_of(plane, "dashboard") == {"DB_POOL_SIZE": "30", "LOG_LEVEL": "info"}
    now = pods(plane, "dashboard")
    assert len(now) == 2 and all(ready(p) for p in now)
    assert all({e["name"]: e["value"] for e in p["spec"]["containers"][0]["env"]}["DB_POOL_SIZE"] == "30" for p in now)

    rolled = versions(plane, "dashboard")
    again = exhaustion()
    assert "DB_POOL_SIZE: 30 -> 30 on deployment/dashboard (already set: no rollout)" in again
    assert versions(plane, "dashboard") == rolled
    assert_no_canary(run_dir, check, done, again)
    assert list((run_dir / "runs").rglob("report.md"))  # the reports were there to search
