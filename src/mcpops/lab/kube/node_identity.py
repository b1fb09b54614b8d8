"""The lab node agent's own identity: a ServiceAccount in kube-system bound to a ClusterRole that allows what a
kubelet and a scheduler do here (nodes, their status and lease; pods, their binding, status and final deletion;
events), and a kubeconfig with a token for it from the TokenRequest API. Made by the admin, once a control plane."""

from mcpops.lab.kube.node_api import ApiError, write_kubeconfig

NAMESPACE = "kube-system"
ACCOUNT = "mcpops-lab-node-agent"
ROLE = "mcpops-lab:node-agent"
TOKEN_SECONDS = 7 * 24 * 3600  # longer than any test session; the plane's dir and its keys go at stop anyway

RULES = [
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "create", "update", "patch"]},
    {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["get", "update", "patch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
    {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["get", "update", "patch"]},
    {"apiGroups": [""], "resources": ["pods/binding", "bindings"], "verbs": ["create"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "update", "patch"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update", "patch"]},
]


def objects():
    """The ServiceAccount, ClusterRole and ClusterRoleBinding, as API objects."""
    return [
        ("/api/v1/namespaces/kube-system/serviceaccounts",
         {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": ACCOUNT, "namespace": NAMESPACE}}),
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": ROLE},
          "rules": RULES}),
        ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": ROLE},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE},
          "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": NAMESPACE}]}),
    ]


def ensure_identity(admin, kubeconfig_path):
    """Create the agent's account and role (already there is fine), then write `kubeconfig_path` with a fresh
    token for it. `admin` is an ApiClient with the admin's kubeconfig. Returns the user name the API server sees."""
    for path, body in objects():
        try:
            admin.post(path, body)
        except ApiError as exc:
            if exc.status != 409:  # AlreadyExists: made by an earlier agent of this plane
                raise
    answer = admin.post(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{ACCOUNT}/token",
                        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                         "spec": {"expirationSeconds": TOKEN_SECONDS}})
    user = f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
    write_kubeconfig(kubeconfig_path, admin.server, admin.ca_pem, user, answer["status"]["token"])
    return user
