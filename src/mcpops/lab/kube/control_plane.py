"""A private Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager, our children,
started in that order (each waited for with a deadline) and stopped in reverse by their PIDs, never the system's.

Everything listens on 127.0.0.1 on ports free at start; the state (etcd's data, certificates, tokens, logs, the
kubeconfig) lives in one private temp dir removed at stop. The API server authenticates static tokens (an admin in
system:masters, the controller manager as system:kube-controller-manager) and service-account tokens, authorizes
with RBAC and runs its default admission plugins. The controller manager runs each controller with its own service
account, so Deployments make ReplicaSets and ReplicaSets make Pods; nothing schedules or runs them (no scheduler,
no kubelet: pods stay Pending until the lab node agent binds them).
"""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from mcpops.lab import pids
from mcpops.lab.kube.build import KubeBinaries
from mcpops.lab.kube.errors import KubeLabError
from mcpops.lab.kube.pki import ControlPlanePki, Identity
from mcpops.lab.loopback import free_port

START_TIMEOUT = 120  # seconds for each process to become ready; a loaded CI machine is slow
STOP_TIMEOUT = 30
SERVICE_CIDR = "10.96.0.0/24"  # only allocated, never routed: nothing here makes a network
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"


def find_etcd():
    path = shutil.which("etcd")
    if path:
        return path
    raise KubeLabError("etcd not found on PATH: install the Debian package etcd-server (scripts/bootstrap does when "
                       "root); the lab runs its own etcd, never the system's service")


class ControlPlane:
    """`start()` then `stop()` (or a `with` block). `kubeconfig` is the admin's; `kubectl(...)` runs Debian's
    kubectl against it; `pids` names each process's PID; `start_seconds` is how long the start took."""

    def __init__(self, binaries=None, base=None, out=print):
        self.binaries = binaries or KubeBinaries(out=out)
        self._base = base
        self._out = out
        self.dir = None
        self.procs = {}
        self.admin = Identity("mcpops-lab-admin", groups=("system:masters",))
        self.controller_identity = Identity("system:kube-controller-manager")
        self.ports = {}
        self.start_seconds = None

    # -- where things are

    @property
    def server(self):
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def kubeconfig(self):
        return Path(self.dir) / "kubeconfig"

    @property
    def pids(self):
        return {name: proc.pid for name, proc in self.procs.items()}

    def log_path(self, name):
        return Path(self.dir) / f"{name}.log"

    # -- start and stop

    def start(self):
        if self.procs:
            return self
        etcd = find_etcd()
        self.binaries.ensure()
        started = time.monotonic()
        self.dir = tempfile.mkdtemp(prefix="mcpops-kube-", dir=self._base or "/tmp")
        os.chmod(self.dir, 0o700)
        self.ports = {name: free_port() for name in ("etcd", "etcd_peer", "apiserver", "controller_manager")}
        pki = ControlPlanePki(Path(self.dir) / "pki")
        pki.write([self.admin, self.controller_identity])
        pki.write_kubeconfig(self.kubeconfig, self.server, self.admin)
        pki.write_kubeconfig(Path(self.dir) / "controller-manager.kubeconfig", self.server, self.controller_identity)
        try:
            self._spawn("etcd", self._etcd_argv(etcd))
            self._wait_ready("etcd", f"http://127.0.0.1:{self.ports['etcd']}/health")
            self._spawn("kube-apiserver", self._apiserver_argv(pki))
            self._wait_ready("kube-apiserver", f"{self.server}/readyz", cafile=pki.ca_cert, token=self.admin.token)
            self._spawn("kube-controller-manager", self._controller_manager_argv(pki))
            self._wait_ready("kube-controller-manager", f"http://127.0.0.1:{self.ports['controller_manager']}/healthz")
        except KubeLabError:
            self.stop(keep_dir=True)
            raise
        self.start_seconds = round(time.monotonic() - started, 1)
        self._say(f"Kubernetes control plane ready in {self.start_seconds:.1f}s at {self.server} "
                  f"(kubeconfig {self.kubeconfig})")
        return self

    def stop(self, keep_dir=False):
        """Stop every process by its PID (SIGTERM, then SIGKILL), the controller manager first; remove the dir
        unless keep_dir (a failed start keeps it for its logs). Raises when a process outlived its SIGKILL."""
        for name in reversed(list(self.procs)):
            pids.stop_child(self.procs[name], STOP_TIMEOUT)
        left = [name for name, proc in self.procs.items() if pids.pid_alive(proc.pid)]
        self.procs = {}
        if self.dir and not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if left:
            raise KubeLabError("still running after SIGKILL: " + ", ".join(left))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- clients

    def kubectl(self, *args, input=None, check=True, timeout=60):
        """Debian's kubectl as the admin; a CompletedProcess (text). check: KubeLabError with its stderr on failure."""
        argv = [str(self.binaries.kubectl), f"--kubeconfig={self.kubeconfig}", *args]
        proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, check=False,
                              env=dict(os.environ, KUBECONFIG=str(self.kubeconfig)))
        if check and proc.returncode != 0:
            raise KubeLabError(f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc

    def log_tails(self, lines=15):
        """The last lines of each process's log, one block a process."""
        blocks = []
        for name in ("etcd", "kube-apiserver", "kube-controller-manager"):
            try:
                text = self.log_path(name).read_text(errors="replace").splitlines()[-lines:]
            except (OSError, TypeError):
                continue
            blocks.append(f"--- {name} ({self.log_path(name)}):\n" + "\n".join(text))
        return "\n".join(blocks)

    # -- the processes

    def _etcd_argv(self, etcd):
        client = f"http://127.0.0.1:{self.ports['etcd']}"
        peer = f"http://127.0.0.1:{self.ports['etcd_peer']}"
        return [etcd, "--name=mcpops-lab", f"--data-dir={Path(self.dir) / 'etcd'}",
                f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=mcpops-lab={peer}", "--initial-cluster-state=new", "--log-level=warn"]

    def _apiserver_argv(self, pki):
        return [str(self.binaries.apiserver),
                f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.ports['apiserver']}",
                "--insecure-port=0",  # 1.20 would otherwise serve unauthenticated HTTP on 127.0.0.1:8080
                f"--tls-cert-file={pki.serving_cert}", f"--tls-private-key-file={pki.serving_key}",
                f"--cert-dir={Path(self.dir) / 'pki'}",
                f"--token-auth-file={pki.token_file}", "--authorization-mode=RBAC",
                f"--service-account-key-file={pki.sa_pub}", f"--service-account-signing-key-file={pki.sa_key}",
                f"--service-account-issuer={SA_ISSUER}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # the `kubernetes` service's endpoints would be 127.0.0.1, which Endpoints validation refuses
                "--endpoint-reconciler-type=none",
                "--profiling=false", "--v=1"]

    def _controller_manager_argv(self, pki):
        kubeconfig = Path(self.dir) / "controller-manager.kubeconfig"
        return [str(self.binaries.controller_manager), f"--kubeconfig={kubeconfig}",
                "--address=127.0.0.1", f"--port={self.ports['controller_manager']}",  # healthz, plain HTTP
                "--secure-port=0", "--leader-elect=false", "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki.sa_key}", f"--root-ca-file={pki.ca_cert}",
                f"--service-cluster-ip-range={SERVICE_CIDR}", "--profiling=false", "--v=1"]

    def _spawn(self, name, argv):
        with open(self.log_path(name), "ab") as log:
            self.procs[name] = subprocess.Popen(argv, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT)

    def _wait_ready(self, name, url, cafile=None, token=None):
        proc = self.procs[name]
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise KubeLabError(f"{name} exited {proc.returncode} at start-up; the logs:\n{self.log_tails()}")
            if _http_status(url, cafile, token) == 200:
                return
            time.sleep(0.2)
        raise KubeLabError(f"{name} was not ready at {url} within {START_TIMEOUT}s; the logs:\n{self.log_tails()}")

    def _say(self, line):
        if self._out:
            self._out(line)


def _http_status(url, cafile=None, token=None, timeout=2.0):
    """The status of GET url (TLS checked against cafile), or None when nothing answers. Never through a proxy."""
    handlers = [urllib.request.ProxyHandler({})]
    if cafile:
        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(cafile))))
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError, socket.timeout):
        return None
