"""The lab node agent: the kubelet and the scheduler the lab has not got, in one loop with no threads.

`python -m mcpops.lab.kube.node_agent --kubeconfig <its own> --state-dir <dir> [--namespace lego-mcp ...]` runs
until SIGTERM. Against the lab API server, with its own token (node_identity), it
- registers a Node (Ready; cpu, memory and pods capacity) and renews its Ready condition and its lease;
- binds every Pending pod of the namespaces it watches to itself (pods/binding), and writes its status as a node
  would (node_pod_status: Running, Ready after a delay, or the fault its spec asks for);
- finishes the deletion of its pods (a bound pod stays Terminating until its node confirms: DELETE, grace 0);
- writes the events a kubelet and a scheduler would (Scheduled, Pulled, Created, Started, BackOff, Unhealthy,
  Killing), and each container's log as a file, `<state>/logs/<namespace>_<pod>_<container>.log`, which its
  kubelet API stand-in (node_kubelet_api, a child) serves to `kubectl logs` through the API server;
- runs a reference service (`python -m mcpops.lab.services <name>`) for a pod annotated
  `lab.mcpops.io/serve: <name>`, on the pod's loopback IP and its port, with the container's env; stops it by its
  PID when the pod goes. A service that needs a database (`lego-mcp`: DATABASE_URL) is skipped without one.

Nothing runs an image: containers, probes, volumes and networking are simulated (docs/dev/kube-node-agent.md).
"""

import argparse
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from mcpops.lab import pids
from mcpops.lab.kube.node_api import ApiClient, ApiError
from mcpops.lab.kube.node_env import resolved_env
from mcpops.lab.kube.node_pod_status import (CRASH, NOT_READY, OOM, Settings, faults_of, pod_status, stamp)

DEFAULT_NODE = "mcpops-lab-node"
DEFAULT_NAMESPACES = ("lego-mcp",)
DEFAULT_POD_NETWORK = "127.77.0.0/16"
CAPACITY = {"cpu": "4", "memory": "8Gi", "pods": "110"}
KUBELET_VERSION = "v1.20.2-mcpops-lab"
LEASE_SECONDS = 40
SERVE_ANNOTATION = "lab.mcpops.io/serve"
PORT_ANNOTATION = "lab.mcpops.io/port"
DEFAULT_SERVE_PORT = 8080
# what each reference service cannot start without; without it the agent says so and serves nothing
SERVE_NEEDS = {"lego-mcp": ("DATABASE_URL",)}
SERVICE_STOP_SECONDS = 10
KUBELET_API_START_SECONDS = 15


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


class PodRecord:
    """What the agent remembers of one of its pods: when it started, its IP, the status last written, the events
    already sent, the service run for it."""

    def __init__(self, uid, started, ip):
        self.uid = uid
        self.started = started
        self.ip = ip
        self.last_status = None
        self.events = {}  # reason -> (event name, count)
        self.crashes_logged = 0
        self.unhealthy_said = False
        self.service = None
        self.serve_note = None  # why nothing is served, once said


class NodeAgent:
    """One pass of the loop is `tick()`; `run()` repeats it until stopped; `close()` stops the services."""

    def __init__(self, api, state_dir, node_name=DEFAULT_NODE, namespaces=DEFAULT_NAMESPACES, settings=None,
                 pod_network=DEFAULT_POD_NETWORK, node_ip="127.0.0.1", interval=0.25, heartbeat=10.0,
                 clock=utcnow, out=None, kubelet_port=None):
        self.api = api
        self.state_dir = Path(state_dir)
        self.node = node_name
        self.namespaces = tuple(namespaces)
        self.settings = settings or Settings()
        self.network = ipaddress.ip_network(pod_network)
        self.node_ip = node_ip
        self.interval = interval
        self.heartbeat_every = heartbeat
        self.clock = clock
        self.out = out or (lambda line: print(line, file=sys.stderr, flush=True))
        self.kubelet_port = kubelet_port
        self.helpers = []  # our children besides the pods' services (the kubelet API), stopped at close
        self.records = {}
        self._next_heartbeat = 0.0
        self._stopping = False

    # -- the node

    def node_status(self):
        now = stamp(self.clock())
        conditions = [{"type": kind, "status": "False", "reason": reason, "message": message}
                      for kind, reason, message in (
                          ("MemoryPressure", "KubeletHasSufficientMemory", "lab node: no memory pressure"),
                          ("DiskPressure", "KubeletHasNoDiskPressure", "lab node: no disk pressure"),
                          ("PIDPressure", "KubeletHasSufficientPID", "lab node: no PID pressure"))]
        conditions.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                           "message": "mcpops lab node agent is posting ready status"})
        for condition in conditions:
            condition.update(lastHeartbeatTime=now, lastTransitionTime=self._registered_at)
        return {"capacity": CAPACITY, "allocatable": CAPACITY, "conditions": conditions,
                # an IP only: given a Hostname, the API server would look the node's name up in DNS
                "addresses": [{"type": "InternalIP", "address": self.node_ip}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port or 0}},
                "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": os.uname().release,
                             "osImage": "mcpops lab node agent (simulated)", "containerRuntimeVersion": "lab://1",
                             "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                             "operatingSystem": "linux", "architecture": "amd64"}}

    def register(self):
        self._registered_at = stamp(self.clock())
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node, "labels": {"kubernetes.io/hostname": self.node,
                                                           "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                                                           "node.mcpops.io/lab": "true"}},
                "status": self.node_status()}
        try:
            self.api.post("/api/v1/nodes", node)
        except ApiError as exc:
            if exc.status != 409:
                raise
            self.api.patch(f"/api/v1/nodes/{self.node}/status", {"status": self.node_status()})
        self.out(f"node {self.node} registered (Ready)")
        self.heartbeat()

    def heartbeat(self):
        """Renew the node's Ready condition and its lease, so the node lifecycle controller never marks it NotReady
        (and taints it, and evicts its pods)."""
        self.api.patch(f"/api/v1/nodes/{self.node}/status", {"status": self.node_status()})
        micro = self.clock().strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.node}"
        try:
            self.api.patch(path, {"spec": {"renewTime": micro}})
        except ApiError as exc:
            if exc.status != 404:
                raise
            self.api.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                          {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                           "metadata": {"name": self.node, "namespace": "kube-node-lease"},
                           "spec": {"holderIdentity": self.node, "leaseDurationSeconds": LEASE_SECONDS,
                                    "renewTime": micro}})
        self._next_heartbeat = time.monotonic() + self.heartbeat_every

    # -- the loop

    def run(self):
        def stop(_signum, _frame):
            self._stopping = True
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            self.register()
            while not self._stopping:
                try:
                    if time.monotonic() >= self._next_heartbeat:
                        self.heartbeat()
                    self.tick()
                except ApiError as exc:  # the API server restarting or slow: say so, try again next pass
                    self.out(f"api: {exc}")
                time.sleep(self.interval)
        finally:
            self.close()
        return 0

    def tick(self):
        seen = set()
        for namespace in self.namespaces:
            for pod in self.api.get(f"/api/v1/namespaces/{namespace}/pods")["items"]:
                seen.add(pod["metadata"]["uid"])
                self.handle(pod)
        for uid in [uid for uid in self.records if uid not in seen]:
            self.forget(uid)

    def handle(self, pod):
        spec, meta = pod["spec"], pod["metadata"]
        node = spec.get("nodeName")
        if not node:
            if not meta.get("deletionTimestamp") and spec.get("schedulerName", "default-scheduler") == \
                    "default-scheduler":
                self.bind(pod)
            return
        if node != self.node:
            return
        if meta.get("deletionTimestamp"):
            self.finish_deletion(pod)
            return
        self.update(pod)

    def bind(self, pod):
        meta = pod["metadata"]
        ns, name = meta["namespace"], meta["name"]
        try:
            self.api.post(f"/api/v1/namespaces/{ns}/pods/{name}/binding",
                          {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": ns},
                           "target": {"apiVersion": "v1", "kind": "Node", "name": self.node}})
        except ApiError as exc:
            if exc.status in (404, 409):  # deleted meanwhile, or bound by someone else
                return
            raise
        self.event(pod, "Scheduled", f"Successfully assigned {ns}/{name} to {self.node}",
                   component="default-scheduler")
        pod["spec"]["nodeName"] = self.node
        record = self.record(pod)
        for container in pod["spec"]["containers"]:
            image = container.get("image", "")
            self.event(pod, "Pulled", f'Container image "{image}" already present on machine (simulated)')
            self.event(pod, "Created", f"Created container {container['name']}")
            self.event(pod, "Started", f"Started container {container['name']}")
            self.log(pod, container["name"], f"lab: container started (image {image}, simulated)")
        self.update(pod, record)

    def update(self, pod, record=None):
        record = record or self.record(pod)
        now = self.clock()
        serving_ready = self.serve(pod, record)
        status = pod_status(pod, record.started, now, self.settings, self.node_ip, record.ip,
                            serving_ready=serving_ready)
        self.note_faults(pod, record, status)
        if status != record.last_status:
            meta = pod["metadata"]
            try:
                self.api.patch(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
                               {"status": status})
            except ApiError as exc:
                if exc.status == 404:
                    return
                raise
            record.last_status = status

    def finish_deletion(self, pod):
        meta = pod["metadata"]
        record = self.records.get(meta["uid"])
        if record is not None:
            self.event(pod, "Killing", "Stopping container(s) " +
                       " ".join(c["name"] for c in pod["spec"]["containers"]))
        self.forget(meta["uid"])
        for container in pod["spec"]["containers"]:
            self.log(pod, container["name"], "lab: container stopped (pod deleted)")
        try:
            self.api.delete(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                            {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                             "preconditions": {"uid": meta["uid"]}})
        except ApiError as exc:
            if exc.status not in (404, 409):
                raise

    def record(self, pod):
        uid = pod["metadata"]["uid"]
        record = self.records.get(uid)
        if record is None:
            status = pod.get("status") or {}
            started = parse_time(status["startTime"]) if status.get("startTime") else self.clock()
            record = PodRecord(uid, started, status.get("podIP") or self.allocate_ip())
            self.records[uid] = record
        return record

    def allocate_ip(self):
        used = {record.ip for record in self.records.values()}
        for address in self.network.hosts():
            text = str(address)
            if address.packed[-1] > 1 and text not in used:
                return text
        raise ApiError(f"pod network {self.network} is full")

    def forget(self, uid):
        """Stop the pod's service and drop its state, as a node drops a deleted pod's sandbox."""
        record = self.records.pop(uid, None)
        if record is not None and record.service is not None:
            pids.stop_child(record.service, SERVICE_STOP_SECONDS)
            record.service = None
        shutil.rmtree(self.state_dir / "pods" / uid, ignore_errors=True)

    def close(self):
        for uid in list(self.records):
            self.forget(uid)
        for proc in self.helpers:
            pids.stop_child(proc, SERVICE_STOP_SECONDS)

    # -- faults, events and logs

    def note_faults(self, pod, record, status):
        """Log each simulated crash once, and send BackOff once a back-off (Unhealthy once a pod)."""
        faults = faults_of(pod, self.settings)
        for container in status["containerStatuses"]:
            fault = faults.get(container["name"])
            if fault in (CRASH, OOM):
                crashes = container["restartCount"] + (0 if container["started"] else 1)
                while record.crashes_logged < crashes:
                    record.crashes_logged += 1
                    why = "was OOMKilled (exit 137)" if fault == OOM else "exited 1 (bad image)"
                    self.log(pod, container["name"], f"lab: container {why}, simulated")
                    self.event(pod, "BackOff", "Back-off restarting failed container", kind="Warning")
            elif fault == NOT_READY and not record.unhealthy_said:
                record.unhealthy_said = True
                self.event(pod, "Unhealthy", "Readiness probe failed: LAB_FAULT=not-ready (simulated)",
                           kind="Warning")

    def event(self, pod, reason, message, kind="Normal", component="kubelet"):
        """Create the pod's event for reason, or count it again (as the kubelet aggregates repeats)."""
        meta = pod["metadata"]
        ns = meta["namespace"]
        record = self.records.get(meta["uid"])
        now = stamp(self.clock())
        known = record.events.get(reason) if record else None
        try:
            if known:
                name, count = known
                self.api.patch(f"/api/v1/namespaces/{ns}/events/{name}", {"count": count + 1, "lastTimestamp": now})
                record.events[reason] = (name, count + 1)
                return
            name = f"{meta['name']}.{uuid.uuid4().hex[:16]}"
            self.api.post(f"/api/v1/namespaces/{ns}/events", {
                "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
                "involvedObject": {"kind": "Pod", "apiVersion": "v1", "namespace": ns, "name": meta["name"],
                                   "uid": meta["uid"]},
                "reason": reason, "message": message, "type": kind, "count": 1,
                "source": {"component": component, "host": self.node},
                "firstTimestamp": now, "lastTimestamp": now,
                "reportingComponent": component, "reportingInstance": self.node})
        except ApiError as exc:  # an event is evidence, not state: never stop the loop for one
            self.out(f"event {reason} for {ns}/{meta['name']}: {exc}")
            return
        if record is not None and reason in ("BackOff", "Unhealthy"):
            record.events[reason] = (name, 1)

    def log_path(self, pod, container):
        meta = pod["metadata"]
        return self.state_dir / "logs" / f"{meta['namespace']}_{meta['name']}_{container}.log"

    def log(self, pod, container, line):
        path = self.log_path(pod, container)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{stamp(self.clock())} {line}\n")

    # -- a service run for a pod

    def serve(self, pod, record):
        """Start the pod's reference service when it asks for one; True when it needs none or answers on its port."""
        name = (pod["metadata"].get("annotations") or {}).get(SERVE_ANNOTATION)
        if not name:
            return True
        container = pod["spec"]["containers"][0]
        port = serve_port(pod)
        if faults_of(pod, self.settings).get(container["name"]) in (CRASH, OOM):
            return False
        if record.service is None and record.serve_note is None:
            env, unresolved = resolved_env(self.api, pod["metadata"]["namespace"], container)
            missing = [var for var in SERVE_NEEDS.get(name, ()) if not env.get(var)]
            if missing:
                record.serve_note = f"not serving {name}: the container has no {', '.join(missing)}" + (
                    f" (unresolved: {'; '.join(unresolved)})" if unresolved else "")
                self.event(pod, "LabServeSkipped", record.serve_note, kind="Warning")
                return True
            record.service = self.start_service(pod, record, name, port, env)
        if record.service is not None and record.service.poll() is not None and record.serve_note is None:
            record.serve_note = f"{name} exited {record.service.returncode}"
            self.event(pod, "LabServeExited", record.serve_note + " (its log: the container's log file)",
                       kind="Warning")
        if record.service is None or record.service.poll() is not None:
            return record.serve_note is not None and record.service is None
        return port_open(record.ip, port)

    def start_service(self, pod, record, name, port, env):
        state = self.state_dir / "pods" / record.uid
        state.mkdir(parents=True, exist_ok=True)
        child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **env,
                     "MCPOPS_SERVICE_LISTEN": f"{record.ip}:{port}", "MCPOPS_SERVICE_STATE_DIR": str(state / "state")}
        container = pod["spec"]["containers"][0]["name"]
        self.log(pod, container, f"lab: serving {name} on {record.ip}:{port}")
        with open(self.log_path(pod, container), "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "mcpops.lab.services", name], env=child_env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    cwd=str(state))
        (state / "service.pid").write_text(f"{proc.pid}\n")
        return proc


def serve_port(pod):
    annotations = pod["metadata"].get("annotations") or {}
    if annotations.get(PORT_ANNOTATION, "").isdigit():
        return int(annotations[PORT_ANNOTATION])
    for container in pod["spec"]["containers"]:
        for port in container.get("ports") or []:
            if port.get("containerPort"):
                return int(port["containerPort"])
    return DEFAULT_SERVE_PORT


def port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m mcpops.lab.kube.node_agent",
                                     description="The lab's node agent: registers a node, binds and runs pods "
                                                 "(simulated), until SIGTERM.")
    parser.add_argument("--kubeconfig", required=True, help="the agent's own kubeconfig (node_identity)")
    parser.add_argument("--state-dir", required=True, help="pod logs and the services' state")
    parser.add_argument("--node-name", default=DEFAULT_NODE)
    parser.add_argument("--namespace", action="append", dest="namespaces",
                        help="a namespace to watch (repeat; default lego-mcp)")
    parser.add_argument("--ready-delay", type=float, default=Settings.ready_delay)
    parser.add_argument("--bad-image-suffix", action="append", dest="bad_suffixes",
                        help="an image tag suffix that crash-loops (repeat; default -broken)")
    parser.add_argument("--backoff-base", type=float, default=Settings.backoff_base)
    parser.add_argument("--pod-network", default=DEFAULT_POD_NETWORK, help="loopback CIDR the pod IPs come from")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between passes")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="seconds between node heartbeats")
    return parser.parse_args(argv)


def start_kubelet_api(state_dir, out):
    """The kubelet API stand-in (node_kubelet_api: container logs) on a free loopback port, with a self-signed
    certificate (the lab's API server does not check a kubelet's); (Popen, port) once it accepts connections."""
    from mcpops.lab.fixtures.ca import self_signed  # cryptography: only where the agent really starts

    directory = Path(state_dir) / "kubelet"
    directory.mkdir(parents=True, exist_ok=True)
    self_signed(["127.0.0.1"]).write(directory / "kubelet.crt", directory / "kubelet.key")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(directory / "kubelet-api.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "mcpops.lab.kube.node_kubelet_api", f"--state-dir={state_dir}",
                                 f"--port={port}", f"--cert={directory / 'kubelet.crt'}",
                                 f"--key={directory / 'kubelet.key'}"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    (directory / "kubelet-api.pid").write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + KUBELET_API_START_SECONDS
    while not port_open("127.0.0.1", port):
        if proc.poll() is not None or time.monotonic() > deadline:
            pids.stop_child(proc, SERVICE_STOP_SECONDS)
            raise ApiError(f"the kubelet API stand-in did not listen on 127.0.0.1:{port} (its log: "
                           f"{directory / 'kubelet-api.log'})")
        time.sleep(0.05)
    out(f"kubelet API (container logs) on https://127.0.0.1:{port}")
    return proc, port


def main(argv=None):
    args = parse_args(argv)
    network = ipaddress.ip_network(args.pod_network)
    if not network.is_loopback:
        print(f"node_agent: --pod-network {network} is not loopback (127.0.0.0/8)", file=sys.stderr)
        return 2
    settings = Settings(ready_delay=args.ready_delay, backoff_base=args.backoff_base,
                        bad_image_suffixes=tuple(args.bad_suffixes or Settings.bad_image_suffixes))
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    agent = NodeAgent(ApiClient.from_kubeconfig(args.kubeconfig), args.state_dir, node_name=args.node_name,
                      namespaces=args.namespaces or DEFAULT_NAMESPACES, settings=settings,
                      pod_network=str(network), interval=args.interval, heartbeat=args.heartbeat, out=say)
    kubelet_api, agent.kubelet_port = start_kubelet_api(args.state_dir, say)
    agent.helpers.append(kubelet_api)
    say(json.dumps({"node": args.node_name, "namespaces": list(agent.namespaces), "pid": os.getpid()}))
    return agent.run()

if __name__ == "__main__":
    sys.exit(main())
