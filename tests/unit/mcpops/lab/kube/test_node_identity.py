"""The node agent's identity: its account, role and binding made once (already there is fine), and a 0600
kubeconfig with its token that the agent's client reads back; the token stays out of reprs."""

import json
import stat

import pytest

from mcpops.lab.fixtures.ca import TestCA
from mcpops.lab.kube.node_api import ApiClient, ApiError
from mcpops.lab.kube.node_identity import ACCOUNT, RULES, ensure_identity

TOKEN = "agent-token-not-for-output"


@pytest.fixture(scope="module")
def ca_pem(tmp_path_factory):
    path = tmp_path_factory.mktemp("ca") / "ca.crt"
    TestCA(name="node identity test", with_intermediate=False).write_root(path)
    return path.read_text()


class Admin:
    def __init__(self, ca_pem, existing=()):
        self.server = "https://127.0.0.1:6443"
        self.ca_pem = ca_pem
        self.existing = set(existing)
        self.posted = []

    def post(self, path, body):
        self.posted.append(path)
        if path in self.existing:
            raise ApiError(f"POST {path}: 409 exists", status=409, reason="AlreadyExists")
        if path.endswith("/token"):
            assert body["kind"] == "TokenRequest"
            return {"status": {"token": TOKEN}}
        return {}


def test_the_identity_is_made_and_its_kubeconfig_read_back(tmp_path, ca_pem):
    admin = Admin(ca_pem, existing={"/apis/rbac.authorization.k8s.io/v1/clusterroles"})
    user = ensure_identity(admin, tmp_path / "kubeconfig")
    assert user == f"system:serviceaccount:kube-system:{ACCOUNT}"
    assert admin.posted[-1] == f"/api/v1/namespaces/kube-system/serviceaccounts/{ACCOUNT}/token"
    assert stat.S_IMODE((tmp_path / "kubeconfig").stat().st_mode) == 0o600
    assert json.loads((tmp_path / "kubeconfig").read_text())["users"][0]["user"]["token"] == TOKEN
    client = ApiClient.from_kubeconfig(tmp_path / "kubeconfig")
    assert client.server == "https://127.0.0.1:6443" and client.ca_pem == ca_pem
    assert TOKEN not in repr(client)


def test_another_refusal_than_already_exists_stops_it(tmp_path, ca_pem):
    class Forbidden(Admin):
        def post(self, path, body):
            raise ApiError(f"POST {path}: 403 forbidden", status=403)

    with pytest.raises(ApiError, match="403"):
        ensure_identity(Forbidden(ca_pem), tmp_path / "kubeconfig")
    assert not (tmp_path / "kubeconfig").exists()


def test_the_role_grants_a_node_what_it_needs_and_no_secrets():
    granted = {(group, resource) for rule in RULES for group in rule["apiGroups"] for resource in rule["resources"]}
    assert {("", "pods/binding"), ("", "pods/status"), ("", "nodes/status"), ("", "events"),
            ("coordination.k8s.io", "leases")} <= granted
    assert not [r for r in granted if r[1] in ("secrets", "*")]
