"""The lab node agent's loop against a recorded API (no cluster): it binds Pending pods of its namespaces only,
writes a status only when it changes, finishes deletions with grace 0, renews its lease, and gives each pod its own
loopback IP."""

import datetime

import pytest

from mcpops.lab.kube.node_agent import NodeAgent, main
from mcpops.lab.kube.node_api import ApiError
from mcpops.lab.kube.node_pod_status import Settings

T0 = datetime.datetime(2026, 12, 5, 12, 0, 0, tzinfo=datetime.timezone.utc)


class RecordedApi:
    """Answers GETs of pod lists from `pods` ({namespace: [pod]}), records every call."""

    server = "https://127.0.0.1:1"

    def __init__(self, pods=None, missing=()):
        self.pods = pods or {}
        self.missing = set(missing)
        self.calls = []

    def get(self, path, **query):
        self.calls.append(("GET", path, None))
        namespace = path.split("/")[4]
        return {"items": self.pods.get(namespace, [])}

    def _answer(self, method, path, body):
        self.calls.append((method, path, body))
        if path in self.missing:
            raise ApiError(f"{method} {path}: 404", status=404)
        return {}

    def post(self, path, body):
        return self._answer("POST", path, body)

    def patch(self, path, body, kind="merge"):
        return self._answer("PATCH", path, body)

    def delete(self, path, body=None):
        return self._answer("DELETE", path, body)

    def paths(self, method):
        return [path for m, path, _ in self.calls if m == method]


def pending(name, namespace="lego-mcp", uid=None, **spec):
    return {"metadata": {"name": name, "namespace": namespace, "uid": uid or f"uid-{name}"},
            "spec": {"containers": [{"name": "app", "image": "lego/app:1.0"}], **spec}, "status": {"phase": "Pending"}}


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def agent_for(api, tmp_path, clock):
    return NodeAgent(api, tmp_path, node_name="n1", namespaces=("lego-mcp",), settings=Settings(ready_delay=1),
                     clock=clock, out=lambda line: None)


def test_a_pending_pod_of_a_watched_namespace_is_bound_started_and_given_a_status(tmp_path, clock):
    api = RecordedApi({"lego-mcp": [pending("a")], "other": [pending("b", namespace="other")]})
    agent_for(api, tmp_path, clock).tick()
    binding = [body for m, path, body in api.calls if path == "/api/v1/namespaces/lego-mcp/pods/a/binding"]
    assert binding == [{"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "a", "namespace": "lego-mcp"},
                        "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}]
    status = [body for m, path, body in api.calls if path == "/api/v1/namespaces/lego-mcp/pods/a/status"]
    assert status[0]["status"]["phase"] == "Running" and status[0]["status"]["podIP"] == "127.77.0.2"
    assert not [path for path in api.paths("POST") if "/other/" in path]
    reasons = [body["reason"] for m, path, body in api.calls if path.endswith("/events") and m == "POST"]
    assert reasons[:1] == ["Scheduled"] and "Started" in reasons
    assert "container started" in (tmp_path / "logs" / "lego-mcp_a_app.log").read_text()


def test_pods_of_other_nodes_and_other_schedulers_are_left_alone(tmp_path, clock):
    api = RecordedApi({"lego-mcp": [pending("x", nodeName="someone-else"),
                                    pending("y", schedulerName="my-scheduler")]})
    agent_for(api, tmp_path, clock).tick()
    assert api.paths("POST") == [] and api.paths("PATCH") == []


def test_the_status_is_written_again_only_when_it_changes(tmp_path, clock):
    pod = pending("a")
    api = RecordedApi({"lego-mcp": [pod]})
    agent = agent_for(api, tmp_path, clock)
    agent.tick()
    pod["spec"]["nodeName"] = "n1"
    status_path = "/api/v1/namespaces/lego-mcp/pods/a/status"
    clock.now = T0 + datetime.timedelta(seconds=0.5)
    agent.tick()
    assert api.paths("PATCH").count(status_path) == 1
    clock.now = T0 + datetime.timedelta(seconds=2)  # ready now
    agent.tick()
    agent.tick()
    assert api.paths("PATCH").count(status_path) == 2


def test_a_deleted_pod_is_finished_with_grace_zero_and_its_uid_as_precondition(tmp_path, clock):
    pod = pending("a", nodeName="n1")
    pod["metadata"]["deletionTimestamp"] = "2026-12-05T12:00:00Z"
    api = RecordedApi({"lego-mcp": [pod]})
    agent_for(api, tmp_path, clock).tick()
    deletes = [body for m, path, body in api.calls if m == "DELETE"]
    assert deletes == [{"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                        "preconditions": {"uid": "uid-a"}}]


def test_each_pod_gets_its_own_ip_and_a_gone_pod_gives_it_back(tmp_path, clock):
    api = RecordedApi({"lego-mcp": [pending("a"), pending("b")]})
    agent = agent_for(api, tmp_path, clock)
    agent.tick()
    assert sorted(r.ip for r in agent.records.values()) == ["127.77.0.2", "127.77.0.3"]
    api.pods["lego-mcp"] = [dict(pending("b"), spec=dict(pending("b")["spec"], nodeName="n1"))]
    agent.tick()
    assert [r.ip for r in agent.records.values()] == ["127.77.0.3"]
    assert agent.allocate_ip() == "127.77.0.2"


def test_heartbeat_creates_the_lease_when_missing(tmp_path, clock):
    lease = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1"
    api = RecordedApi(missing={lease})
    agent = agent_for(api, tmp_path, clock)
    agent.register()
    created = [body for m, path, body in api.calls
               if m == "POST" and path == "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"]
    assert created[0]["spec"]["holderIdentity"] == "n1"
    node = [body for m, path, body in api.calls if path == "/api/v1/nodes"][0]
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"


def test_a_crash_loop_is_logged_and_backs_off_once_a_crash(tmp_path, clock):
    pod = pending("a")
    pod["spec"]["containers"][0]["image"] = "lego/app:1.0-broken"
    api = RecordedApi({"lego-mcp": [pod]})
    agent = agent_for(api, tmp_path, clock)
    agent.tick()
    pod["spec"]["nodeName"] = "n1"
    for seconds in (2, 3, 4, 12):  # crashes at 1 s and 12 s (back-off 10 s)
        clock.now = T0 + datetime.timedelta(seconds=seconds)
        agent.tick()
    backoffs = [(m, body) for m, path, body in api.calls if body and body.get("reason") == "BackOff" or
                (m == "PATCH" and "/events/" in path)]
    assert [m for m, _ in backoffs] == ["POST", "PATCH"]
    assert (tmp_path / "logs" / "lego-mcp_a_app.log").read_text().count("exited 1 (bad image)") == 2


def test_a_pod_network_off_loopback_is_refused(tmp_path, capsys):
    assert main(["--kubeconfig", "/nonexistent", "--state-dir", str(tmp_path), "--pod-network", "10.0.0.0/24"]) == 2
    assert "not loopback" in capsys.readouterr().err
