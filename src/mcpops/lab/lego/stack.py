"""The LEGO MCP lab stack: what every LEGO runbook runs against, composed of real parts on loopback, each our child
and stopped by its PID:

- the Kubernetes control plane (given, e.g. a test session's, or our own) and a node agent watching `lego-mcp`;
- a private PostgreSQL cluster (initdb/pg_ctl) with the `lego_mcp` database, owned by the `lego_mcp` role whose
  password is generated here (never printed);
- the lab HSM service (SoftHSM2 through PKCS#11, HTTPS with the lab's test CA);
- the collection's base manifests (extensions/kubernetes/lego-mcp/base) applied after the environment's Secret
  `lego-mcp-secrets` and ConfigMap `lego-mcp-hsm` (never shipped: they hold this lab's values), then waited on until
  every dashboard pod is Ready and answers /health healthy, signing with the HSM.

`deploy()` is also the "full recovery" of a wiped namespace. Faults: lego/faults.py; inventory: lego/inventory.py.
"""

import json
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from mcpops.lab.fixtures.pg_cluster import PgCluster
from mcpops.lab.kube import node_identity
from mcpops.lab.kube.control_plane import ControlPlane
from mcpops.lab.kube.node_process import NodeAgentProcess
from mcpops.lab.lego import dashboard
from mcpops.lab.lego.hsm_process import HsmProcess, LegoError
from mcpops.lab.loopback import free_port

NAMESPACE = dashboard.NAMESPACE
NODE_NAME = "mcpops-lab-node-lego"
DB_NAME = "lego_mcp"
DB_USER = "lego_mcp"
SECRET_NAME = "lego-mcp-secrets"
HSM_CONFIGMAP = "lego-mcp-hsm"
ENV_ROLE = "mcpops-lab:node-agent-lego-env"
# its own pod network: other agents on a shared control plane hand out 127.77.x.y, and a served pod binds its IP.
# Each stack takes one /24 of 127.78.0.0/16 at random, so that two stacks on one machine (two test sessions) do not
# hand out the same pod IPs.
POD_NETWORKS = "127.78.%d.0/24"


def pod_network():
    """A /24 of 127.78.0.0/16 for this stack's pods (the agent counts from its start: .1, .2, ...)."""
    return POD_NETWORKS % (1 + secrets.randbelow(254))


MAX_CONNECTIONS = 30  # small, so that "DB connections exhausted" is cheap to cause
DEADLINE = 180  # seconds for pods to roll out; a loaded CI machine is slow
MANIFESTS = Path(__file__).resolve().parents[4] / "extensions" / "kubernetes" / "lego-mcp"


class LegoStack:
    """`start()` then `stop()` (or a `with` block). `plane` is a started ControlPlane or None (then we start and stop
    our own). `replicas` is the dashboard's healthy size (the manifests' 2)."""

    def __init__(self, plane=None, base=None, out=print, ready_delay=0.5, backoff_base=2.0, manifests=MANIFESTS):
        self.plane = plane
        self._own_plane = plane is None
        self._base = base
        self.out = out or (lambda line: None)
        self.manifests = Path(manifests)
        self.agent_options = {"ready_delay": ready_delay, "backoff_base": backoff_base}
        self.replicas = 2
        self.pod_network = pod_network()
        self.dir = None
        self.pg = None
        self.hsm = None
        self.agent = None
        self.db_password = None
        self.api_key = None
        self.held_connections = []  # the "DB connections exhausted" fault's sessions
        self.compromised = None  # the pod the "compromised pod" fault wrote into

    # -- where things are

    @property
    def database_url(self):
        return f"postgresql://{DB_USER}:{self.db_password}@127.0.0.1:{self.pg.port}/{DB_NAME}"

    def kubectl(self, *args, **kwargs):
        return self.plane.kubectl("-n", NAMESPACE, *args, **kwargs)

    def get_json(self, *args):
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def dashboard_urls(self):
        """{pod name: http://<pod IP>:8000} of the Ready dashboard pods."""
        return dashboard.ready_urls(dashboard.pods(self.plane))

    # -- start and stop

    def start(self):
        if self.dir:
            return self
        self.dir = tempfile.mkdtemp(prefix="mcpops-lego-", dir=self._base or "/tmp")
        Path(self.dir).chmod(0o700)
        try:
            if self.plane is None:
                self.plane = ControlPlane(base=self._base, out=self.out).start()
            self.db_password = secrets.token_urlsafe(18)
            self.api_key = "lego-" + secrets.token_urlsafe(24)
            self.pg = PgCluster(free_port(), max_connections=MAX_CONNECTIONS, base=self._base).start()
            with self.pg.admin() as admin:
                # the password reaches the server as a literal of this statement only: never a log or argv
                admin.execute(f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{self.db_password}'")
                admin.execute(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")
            self.hsm = HsmProcess(Path(self.dir) / "hsm", free_port()).init().start()
            self.agent = NodeAgentProcess(self.plane.kubeconfig, node_name=NODE_NAME, namespaces=(NAMESPACE,),
                                          pod_network=self.pod_network, base=self._base, **self.agent_options).start()
            self.grant_agent_env()
            self.clear_stale_namespace()
            self.deploy()
        except BaseException:
            self.stop()
            raise
        self.out(f"LEGO lab ready: dashboard pods {sorted(self.dashboard_urls().values())}, HSM {self.hsm.url}, "
                 f"PostgreSQL 127.0.0.1:{self.pg.port}")
        return self

    def stop(self):
        """Stop what we started, each by its PID: the agent (and the services it ran), the HSM, PostgreSQL, our own
        control plane. On a shared control plane the namespace is deleted first (and waited for)."""
        self.release_connections()
        if self.agent is not None:
            if not self._own_plane and self.plane is not None:
                # while the agent still runs, so that it confirms the pods' deletion and the namespace goes
                self.plane.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", f"--timeout={DEADLINE}s",
                                   check=False, timeout=DEADLINE + 30)
            self.agent.stop()
            self.agent = None
        if self.hsm is not None:
            self.hsm.stop()
        if self.pg is not None:
            self.pg.stop()
            self.pg = None
        if self._own_plane and self.plane is not None:
            self.plane.stop()
            self.plane = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- the application

    def deploy(self):
        """The namespace, then its Secret and HSM ConfigMap, then every base manifest; wait until healthy. The order
        matters: a pod started before its Secret exists would run without DATABASE_URL (docs/dev/lego-lab.md)."""
        self.wait_namespace_gone()
        self.plane.kubectl("apply", "-f", str(self.manifests / "base" / "00-namespace.yml"))
        self.apply_environment()
        self.plane.kubectl("apply", "-f", str(self.manifests / "base"))
        return self.wait_healthy()

    def environment_objects(self):
        """The Secret and the ConfigMap of this lab, as API objects (the Secret's values never on a command line)."""
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": SECRET_NAME, "namespace": NAMESPACE},
                  "stringData": {"database-url": self.database_url, "db-password": self.db_password,
                                 "api-key": self.api_key}}
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": HSM_CONFIGMAP, "namespace": NAMESPACE},
                  "data": {"HSM_URL": self.hsm.url, "HSM_CA_FILE": str(self.hsm.ca_file)}}
        return [secret, config]

    def clear_stale_namespace(self):
        """A shared control plane may hold a `lego-mcp` left by an earlier user (its pods never bound: no agent
        watched it): delete it, now that our agent confirms its pods' deletion, so that we start from the manifests."""
        proc = self.plane.kubectl("get", "namespace", NAMESPACE, check=False)
        if proc.returncode == 0:
            self.out(f"deleting the namespace {NAMESPACE} an earlier user of this control plane left")
            self.plane.kubectl("delete", "namespace", NAMESPACE, f"--timeout={DEADLINE}s", timeout=DEADLINE + 30)

    def grant_agent_env(self):
        """Let the node agent read the two objects its served pods' env names, by name only, as a kubelet's node
        authorizer lets it read the Secrets of its own pods: a ClusterRole with resourceNames (it outlives a wiped
        namespace), bound to the agent's account. Its own role grants no secrets at all (node_identity)."""
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": ENV_ROLE},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": [SECRET_NAME],
                           "verbs": ["get"]},
                          {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [HSM_CONFIGMAP],
                           "verbs": ["get"]}]}
        binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": ENV_ROLE},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ENV_ROLE},
                   "subjects": [{"kind": "ServiceAccount", "name": node_identity.ACCOUNT,
                                 "namespace": node_identity.NAMESPACE}]}
        self.plane.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                 "items": [role, binding]}))

    def apply_environment(self):
        body = {"apiVersion": "v1", "kind": "List", "items": self.environment_objects()}
        self.plane.kubectl("apply", "-f", "-", input=json.dumps(body))

    def wait_namespace_gone(self, deadline=DEADLINE):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            proc = self.plane.kubectl("get", "namespace", NAMESPACE, "-o", "json", check=False)
            if proc.returncode != 0:
                return
            if not json.loads(proc.stdout)["metadata"].get("deletionTimestamp"):
                return  # there and not going: apply works on it
            time.sleep(0.5)
        raise LegoError(f"namespace {NAMESPACE} was still terminating after {deadline}s")

    def health_of_all(self):
        """{pod: (status, body)} of /health on every Ready dashboard pod."""
        return {name: dashboard.health(url) for name, url in self.dashboard_urls().items()}

    def healthy(self, replicas=None):
        """True when the dashboard has `replicas` Ready pods of its current template, each healthy and signing with
        the HSM, and celery-worker is available; else a string saying what is not yet so."""
        replicas = self.replicas if replicas is None else replicas
        for name in ("dashboard", "celery-worker"):
            proc = self.kubectl("get", "deployment", name, "-o", "json", check=False)
            if proc.returncode != 0:
                return f"no deployment {name}"
            status = json.loads(proc.stdout).get("status") or {}
            want = replicas if name == "dashboard" else json.loads(proc.stdout)["spec"]["replicas"]
            if status.get("updatedReplicas", 0) != want or status.get("readyReplicas", 0) != want \
                    or status.get("replicas", 0) != want:
                return f"{name}: {status}"
        answers = self.health_of_all()
        if len(answers) != replicas:
            return f"{len(answers)} Ready dashboard pods, want {replicas}"
        for pod, (code, body) in answers.items():
            good = isinstance(body, dict) and (body.get("status"), body.get("signing")) == ("healthy", "hsm")
            if code != 200 or not good:
                return f"{pod} /health: {code} {body}"
        return True

    def wait_healthy(self, replicas=None, deadline=DEADLINE):
        end = time.monotonic() + deadline
        last = None
        while time.monotonic() < end:
            last = self.healthy(replicas)
            if last is True:
                return self.dashboard_urls()
            time.sleep(0.5)
        raise LegoError(f"the LEGO lab was not healthy within {deadline}s: {last}; the agent's log "
                        f"{self.agent.log_path if self.agent else '-'}")

    def release_connections(self):
        for conn in self.held_connections:
            try:
                conn.close()
            except Exception:  # already terminated by a runbook's pg_terminate_backend: nothing to release
                pass
        self.held_connections = []
