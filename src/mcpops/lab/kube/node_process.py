"""The lab node agent as our child: its identity made with the admin's kubeconfig, the process started, waited for
(its Node Ready in the API server, with a deadline) and stopped by its PID, with the services it ran for pods."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mcpops.lab import pids
from mcpops.lab.kube.errors import KubeLabError
from mcpops.lab.kube.node_agent import DEFAULT_NAMESPACES, DEFAULT_NODE, DEFAULT_POD_NETWORK
from mcpops.lab.kube.node_api import ApiClient, ApiError
from mcpops.lab.kube.node_identity import ensure_identity

START_TIMEOUT = 30
STOP_TIMEOUT = 15


class NodeAgentProcess:
    """`start()` then `stop()` (or a `with` block). `admin_kubeconfig` is the control plane's (`plane.kubeconfig`);
    `dir` holds the agent's kubeconfig (0600), its log (`agent.log`) and the pods' logs (`logs/`)."""

    def __init__(self, admin_kubeconfig, node_name=DEFAULT_NODE, namespaces=DEFAULT_NAMESPACES, ready_delay=2.0,
                 bad_image_suffixes=("-broken",), backoff_base=10.0, pod_network=DEFAULT_POD_NETWORK,
                 interval=0.25, base=None):
        self.admin = ApiClient.from_kubeconfig(admin_kubeconfig)
        self.node_name = node_name
        self.namespaces = tuple(namespaces)
        self.options = {"ready_delay": ready_delay, "bad_image_suffixes": tuple(bad_image_suffixes),
                        "backoff_base": backoff_base, "pod_network": pod_network, "interval": interval}
        self._base = base
        self.dir = None
        self.proc = None
        self.start_seconds = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def log_path(self):
        return Path(self.dir) / "agent.log"

    def pod_log(self, namespace, pod, container):
        return Path(self.dir) / "logs" / f"{namespace}_{pod}_{container}.log"

    def argv(self):
        o = self.options
        argv = [sys.executable, "-m", "mcpops.lab.kube.node_agent", f"--kubeconfig={Path(self.dir) / 'kubeconfig'}",
                f"--state-dir={self.dir}", f"--node-name={self.node_name}", f"--ready-delay={o['ready_delay']}",
                f"--backoff-base={o['backoff_base']}", f"--pod-network={o['pod_network']}",
                f"--interval={o['interval']}"]
        argv += [f"--namespace={ns}" for ns in self.namespaces]
        argv += [f"--bad-image-suffix={suffix}" for suffix in o["bad_image_suffixes"]]
        return argv

    def start(self):
        if self.proc:
            return self
        started = time.monotonic()
        self.dir = tempfile.mkdtemp(prefix="mcpops-kube-node-", dir=self._base or "/tmp")
        os.chmod(self.dir, 0o700)
        try:
            ensure_identity(self.admin, Path(self.dir) / "kubeconfig")
        except ApiError as exc:
            raise KubeLabError(f"cannot make the node agent's identity with the admin kubeconfig: {exc}") from None
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        self._wait_ready()
        self.start_seconds = round(time.monotonic() - started, 1)
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop(keep_dir=True)
                raise KubeLabError(f"the node agent exited {self.proc.returncode} at start-up; its log "
                                   f"{self.log_path}:\n{self.log_tail()}")
            if self.node_ready():
                return
            time.sleep(0.2)
        self.stop(keep_dir=True)
        raise KubeLabError(f"node {self.node_name} was not Ready within {START_TIMEOUT}s; the agent's log "
                           f"{self.log_path}:\n{self.log_tail()}")

    def node_ready(self):
        try:
            node = self.admin.get(f"/api/v1/nodes/{self.node_name}")
        except ApiError:
            return False
        return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions") or [])

    def log_tail(self, lines=20):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def service_pids(self):
        """The PIDs of the services the agent started for pods (each recorded in pods/<uid>/service.pid)."""
        return _read_pids(Path(self.dir).glob("pods/*/service.pid"))

    def child_pids(self):
        """The agent's children: its pods' services and its kubelet API (kubelet/kubelet-api.pid)."""
        return self.service_pids() + _read_pids(Path(self.dir).glob("kubelet/kubelet-api.pid"))

    def stop(self, keep_dir=False):
        """SIGTERM the agent (it stops its children), SIGKILL after STOP_TIMEOUT; then stop any child it left (by
        its recorded PID, only while that PID still runs our code). Raises when something outlived it all."""
        if self.proc is None:
            return
        pids.stop_child(self.proc, STOP_TIMEOUT)
        left = [pid for pid in self.child_pids() if pids.pid_alive(pid) and _ours(pid)]
        left = pids.terminate(left) if left else []
        if self.dir and not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if left or pids.pid_alive(self.proc.pid):
            raise KubeLabError(f"still running after stop: node agent {self.proc.pid}, children {left}")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _read_pids(paths):
    found = []
    for path in paths:
        try:
            found.append(int(path.read_text().strip()))
        except (OSError, ValueError):
            continue
    return found


def _ours(pid):
    """True while pid runs one of the agent's children (a PID reused by something else is never signalled)."""
    argv = " ".join(pids.cmdline(pid))
    return "mcpops.lab.services" in argv or "mcpops.lab.kube.node_kubelet_api" in argv
