"""LEGO MCP's alert drill without a lab (issue 21): what the Kubernetes lab offers its alert chain (a blackbox probe
of the dashboard Service's /health as the inventory host, KubeDrillLab.alert_targets), the Service's stand-in that
gives the probe a stable address over pod IPs that change (mcpops.drill.kube_service_address, against real HTTP
servers on loopback), and the plan: LegoMcpHealthFailing starts lego-service-outage through an approval on the
Kubernetes lab only."""

import http.server
import threading
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
import yaml

from mcpops.drill import alert_chain, scenarios
from mcpops.drill.alert_drill import ALERT_LABS, approval_inputs, plan_alert_drill
from mcpops.drill.kube_drill_lab import KubeDrillLab
from mcpops.drill.kube_service_address import ServiceAddress, endpoints_of
from mcpops.drill.scenarios import KUBERNETES, LEGO, LOCAL, DrillError
from mcpops.lab.fixtures.alerting_config import INVENTORY_HOST_LABEL, RULES_DIR
from mcpops.run.runbooks import discover

RULES = sorted(RULES_DIR.glob("*.rules.yml"))
OUTAGE = next(r for r in discover() if r.id == "lego-service-outage")


def scenario(fault):
    return next(s for s in scenarios.DRILLS["lego-service-outage"] if s.fault == fault)


class Pod:
    """A real HTTP server on loopback standing in for one dashboard pod: /health answers 200 with its name."""

    def __init__(self, name):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = ('{"pod": "%s", "path": "%s"}' % (name, self.path)).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def get(url):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def pods():
    made = [Pod("dashboard-a"), Pod("dashboard-b")]
    yield made
    for pod in made:
        pod.close()


def test_the_lab_offers_a_probe_of_the_dashboard_service_s_health_as_the_inventory_host(pods):
    """The adapter never brought up: its stack is stubbed, and its postgres_exporter (whose start against a real
    cluster is tests/integration/alerting/test_postgres_exporter.py's) is given as already running."""
    lab = KubeDrillLab.__new__(KubeDrillLab)
    lab.service_address = None
    stopped = []
    lab.db_exporter = SimpleNamespace(address="127.0.0.1:9187", pid=4242, stop=lambda: stopped.append(True))
    lab.stack = SimpleNamespace(dashboard_urls=lambda: {"dashboard-a": pods[0].url})
    try:
        [target, db] = lab.alert_targets(scenario("scaled-to-zero"))
        assert lab.alert_targets(None)[0] == target  # one stand-in for the drill, however often it is asked
        port = lab.service_address.port
        assert target == alert_chain.AlertTarget("lego-mcp-health", "lego-controller",
                                                 "http://127.0.0.1:%d/health" % port, probe=True)
        # the database's exporter, scraped as the same inventory host (LegoPostgresConnectionsExhausted's job)
        assert db == alert_chain.AlertTarget("lego-postgres", "lego-controller", "127.0.0.1:9187")
        assert alert_chain.rule_jobs(RULES, "LegoPostgresConnectionsExhausted") == [KubeDrillLab.DB_ALERT_JOB]
        postgres = alert_chain.scrape_configs([db])[0]
        assert postgres["job_name"] == "lego-postgres" and postgres["static_configs"][0]["targets"] == [
            "127.0.0.1:9187"] and "authorization" not in postgres
        assert get(target.address) == (200, '{"pod": "dashboard-a", "path": "/health"}')
        # the rule selects on that job, and names the LEGO runbook
        assert alert_chain.rule_jobs(RULES, "LegoMcpHealthFailing") == [KubeDrillLab.ALERT_JOB]
        [job] = alert_chain.scrape_configs([target], "127.0.0.1:9115")
        assert job["job_name"] == "lego-mcp-health" and job["metrics_path"] == "/probe"
        assert job["params"] == {"module": [alert_chain.HTTP_MODULE]}
        assert job["static_configs"] == [{"targets": ["http://127.0.0.1:%d/health" % port],
                                          "labels": {INVENTORY_HOST_LABEL: "lego-controller"}}]
        assert {"source_labels": [INVENTORY_HOST_LABEL], "target_label": "instance"} in job["relabel_configs"]
        assert job["relabel_configs"][-1] == {"target_label": "__address__", "replacement": "127.0.0.1:9115"}
    finally:
        line = lab.stop_alert_targets()
    assert line == ("postgres_exporter (pid 4242) stopped by PID; the dashboard Service's stand-in "
                    "http://127.0.0.1:%d/ closed (a thread of the drill)" % port)
    assert stopped == [True] and lab.db_exporter is None
    assert lab.service_address is None and lab.stop_alert_targets() is None
    with pytest.raises(OSError):
        get("http://127.0.0.1:%d/health" % port)  # nothing listens on it any more


def test_the_stand_in_answers_from_the_ready_pods_of_the_moment_and_503_without_one(pods, monkeypatch):
    from mcpops.drill import kube_service_address

    monkeypatch.setattr(kube_service_address, "RESOLVE_SECONDS", 0)  # every connection looks again
    ready = {"dashboard-a": pods[0].url, "dashboard-b": pods[1].url}
    service = ServiceAddress(lambda: ready.values()).start()
    try:
        answers = {get(service.url("/health"))[1] for _ in range(4)}
        assert answers == {'{"pod": "dashboard-a", "path": "/health"}', '{"pod": "dashboard-b", "path": "/health"}'}
        ready.clear()  # scaled to 0: the probe fails, and says why
        assert get(service.url("/health")) == (503, "no Ready endpoint of service dashboard\n")
        ready["dashboard-new"] = pods[1].url  # the runbook scaled it back: new pods, new IPs, the same address
        assert get(service.url("/health")) == (200, '{"pod": "dashboard-b", "path": "/health"}')

        def failing():
            raise RuntimeError("kubectl: the server is not answering")

        service.ready_urls = failing  # the API gone is no endpoint to the probe, never an exception in the thread
        assert get(service.url("/x"))[0] == 503
        assert service.connections == 7
    finally:
        service.stop()


def test_pod_urls_become_endpoints():
    assert endpoints_of(["http://127.78.4.12:8000", "http://127.78.4.3:8000", "nonsense"]) == [
        ("127.78.4.12", 8000), ("127.78.4.3", 8000)]


def test_lego_mcp_health_failing_starts_lego_service_outage_through_an_approval_on_the_kubernetes_lab():
    rule = next(r for path in RULES for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]
                if r.get("alert") == "LegoMcpHealthFailing")
    assert rule["labels"]["runbook"] == "lego-service-outage" and "auto_remediate" not in rule["labels"]
    assert ALERT_LABS[LEGO] == KUBERNETES
    scaled = scenario("scaled-to-zero")
    assert scaled.alert == "LegoMcpHealthFailing" and "lego-service-outage --fault scaled-to-zero" in \
        scenarios.alert_drillable()
    plan_alert_drill(OUTAGE, scaled, KUBERNETES, LEGO, "approve")
    plan_alert_drill(OUTAGE, scaled, KUBERNETES, LEGO, "deny")
    # the replicas to scale back to are not in the alert: the approver gives them
    assert approval_inputs(scaled) == ["-e", "replicas=2"]
    with pytest.raises(DrillError, match="does not allow auto-remediation: drill it with --approval"):
        plan_alert_drill(OUTAGE, scaled, KUBERNETES, LEGO)
    with pytest.raises(DrillError, match=r"drills lego-mcp on the kubernetes lab \(--lab kubernetes\) only"):
        plan_alert_drill(OUTAGE, scaled, LOCAL, LEGO, "approve")
    # a bad image leaves the old pods serving (maxUnavailable 0): /health never fails, no alert starts it
    with pytest.raises(DrillError, match="has no alert that fires on the lab"):
        plan_alert_drill(OUTAGE, scenario("bad-image"), KUBERNETES, LEGO, "approve")


def test_lego_postgres_connections_exhausted_starts_db_connection_exhaustion_through_an_approval():
    """The seed's "Database Connection Exhaustion" is db-connection-exhaustion's (docs/lego-mcp.md): its alert starts
    it on the Kubernetes lab, the chain scraping the database's exporter alone (the dashboard's probe would fire
    LegoMcpHealthFailing as well, whose minutes-long check run the watcher would run first)."""
    from mcpops.drill import lego_checks

    exhaustion = next(r for r in discover() if r.id == "db-connection-exhaustion")
    [drill] = [s for s in scenarios.DRILLS["db-connection-exhaustion"] if s.alert and LEGO in s.services]
    assert (drill.fault, drill.alert, drill.labs, drill.services) == (
        "db-connections-exhausted", "LegoPostgresConnectionsExhausted", (KUBERNETES,), (LEGO,))
    assert scenarios.alerted_scenario("db-connection-exhaustion", KUBERNETES, LEGO) is drill
    plan_alert_drill(exhaustion, drill, KUBERNETES, LEGO, "approve")
    with pytest.raises(DrillError, match="does not allow auto-remediation: drill it with --approval"):
        plan_alert_drill(exhaustion, drill, KUBERNETES, LEGO)
    # which sessions to end is the approver's: the leaking application's, idle for a second already
    assert approval_inputs(drill) == ["-e", "idle_for=1s", "-e", 'only_applications=["celery-worker"]']
    assert "db-connection-exhaustion --fault db-connections-exhausted" in scenarios.alert_drillable()
    # the 1C gateway's labs have no PostgreSQL: the refusal says where it is drilled
    with pytest.raises(DrillError, match=r"db-connection-exhaustion cannot be drilled for onec-gateway: .*"
                                         r"--lab kubernetes"):
        scenarios.choose("db-connection-exhaustion")

    lab = KubeDrillLab.__new__(KubeDrillLab)
    lab.service_address = None
    lab.db_exporter = SimpleNamespace(address="127.0.0.1:9187", pid=4242, stop=lambda: None)
    assert lab.alert_targets(drill) == [alert_chain.AlertTarget("lego-postgres", "lego-controller", "127.0.0.1:9187")]
    assert lab.service_address is None  # no probe, no stand-in
    assert alert_chain.rule_jobs(RULES, drill.alert) == [KubeDrillLab.DB_ALERT_JOB]

    # gone, and the dashboard healthy again; a session left, the dashboard not healthy, or no answer: not repaired
    assert lego_checks.check_leaked_sessions_terminated("c", "celery-worker", 0, True).ok
    assert not lego_checks.check_leaked_sessions_terminated("c", "celery-worker", 3, True).ok
    assert not lego_checks.check_leaked_sessions_terminated("c", "celery-worker", 0, "0 Ready dashboard pods").ok
    said = lego_checks.check_leaked_sessions_terminated("c", "celery-worker", None, True)
    assert not said.ok and "did not answer" in said.detail


def test_the_dba_login_goes_beside_the_lab_s_inventory_and_holds_no_password(tmp_path):
    lab = KubeDrillLab.__new__(KubeDrillLab)
    lab.recorded = SimpleNamespace(inventory_path=tmp_path / "inventory" / "hosts.yml")
    lab.stack = SimpleNamespace(pg=SimpleNamespace(dir="/tmp/mcpops-pg-x", port=54321))
    path = lab.write_dba_login()
    assert path == tmp_path / "inventory" / "group_vars" / "gateways" / "dba.yml"
    assert yaml.safe_load(path.read_text()) == {"pg_login_unix_socket": "/tmp/mcpops-pg-x", "pg_login_port": 54321,
                                                "pg_login_user": "postgres", "pg_login_db": "postgres"}
