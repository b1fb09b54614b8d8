"""From a broken gateway to Alertmanager's webhook (issue 21): a local lab, a private Prometheus scraping its
gateway's /metrics with the collection's rules (the lab's `for:`), a private Alertmanager, and a receiver on
loopback in place of the rulebook. `stop` the gateway: INC-001's alert reaches the receiver naming the lab's host;
start it again: the resolved notification follows. Each wait polls for its condition until a deadline."""

import json
import time
import urllib.parse
import urllib.request

import pytest

from alert_receiver import AlertReceiver
from local_lab_helpers import make_lab, wait_state
from loopback import free_port
from mcpops.lab.fixtures import alerting_config
from mcpops.lab.fixtures.alertmanager_server import AlertmanagerServer
from mcpops.lab.fixtures.loopback_daemon import DaemonError, find_binary
from mcpops.lab.fixtures.prometheus_server import PrometheusServer

LAB_HOST = "lab-gateway"  # the gateway's name in inventories/lab
DEADLINE = 90  # seconds; Prometheus' target discovery alone takes up to 5


def _require(binary, package):
    try:
        find_binary(binary, package)
    except DaemonError as exc:
        pytest.skip(str(exc))


def query(prometheus, promql):
    url = prometheus.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as answer:
        return json.loads(answer.read())["data"]["result"]


def wait_query(prometheus, promql, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = query(prometheus, promql)
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError("no result for %s within %ds" % (promql, timeout))


def is_inc001(status):
    return lambda e: (e["alert"]["status"] == status and e["alert"]["labels"].get("alertname") == "OnecGatewayDown")


@pytest.fixture
def chain(tmp_path):
    _require("prometheus", "prometheus")
    _require("prometheus-alertmanager", "prometheus-alertmanager")
    lab = make_lab(tmp_path / "lab")
    try:
        with AlertReceiver(free_port()) as receiver:
            rules = alerting_config.write_lab_rules(tmp_path / "rules")
            am_port = free_port()
            with AlertmanagerServer(am_port, alerting_config.alertmanager_config(receiver.url), base=tmp_path):
                target = alerting_config.ScrapeTarget("onec-gateway", LAB_HOST, lab.listen)
                config = alerting_config.prometheus_config([target], "127.0.0.1:%d" % am_port, rules)
                with PrometheusServer(free_port(), config, base=tmp_path) as prometheus:
                    yield lab, prometheus, receiver
    finally:
        lab.down()


def test_stopped_gateway_reaches_the_webhook_as_inc001_and_resolves(chain):
    lab, prometheus, receiver = chain
    # the scrape works and `instance` is the inventory host, with no helper label left over
    ready = wait_query(prometheus, 'onec_gateway_ready{job="onec-gateway",check="storage"} == 1')
    assert ready[0]["metric"]["instance"] == LAB_HOST
    assert not [name for name in ready[0]["metric"] if name.startswith("__mcpops")]
    assert not receiver.events

    lab.break_("stop")
    firing = receiver.wait_for(is_inc001("firing"), DEADLINE, "firing OnecGatewayDown")
    labels = firing["alert"]["labels"]
    assert labels["runbook"] == "inc-001-gateway-down" and labels["instance"] == LAB_HOST
    assert labels["severity"] == "critical" and labels["auto_remediate"] == "true"
    assert firing["host"] == LAB_HOST  # the inventory host the EDA source names for the rulebook

    lab.client().start(lab.service_name, True)
    wait_state(lab, {"RUNNING"})
    resolved = receiver.wait_for(is_inc001("resolved"), DEADLINE, "resolved OnecGatewayDown")
    assert resolved["alert"]["labels"]["instance"] == LAB_HOST
    assert resolved["alert"]["fingerprint"] == firing["alert"]["fingerprint"]
