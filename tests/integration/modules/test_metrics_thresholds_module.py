"""metrics_thresholds through `ansible localhost -m` against the lab's real loyalty-api (mcpops.lab.services, with its
PostgreSQL and Redis under supervisord): a quiet window breaches nothing; with the `unhealthy` fault and traffic on
/health during the window, the 5xx rate breaches ALERT_HTTP_5XX_PER_MIN; a wrong token is refused without being
said; an interpreter without prometheus_client is told to install it."""

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

from service_lab_helpers import make_service_lab

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
SYSTEM_PYTHON = "/usr/bin/python3"


def run_module(args, python=sys.executable):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    proc = subprocess.run([ANSIBLE, "localhost", "-c", "local", "-e", "ansible_python_interpreter=%s" % python,
                           "-m", "mcpops.runbooks.metrics_thresholds", "-a", json.dumps(args)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"], proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def loyalty(tmp_path_factory):
    lab = make_service_lab(tmp_path_factory.mktemp("loyalty-metrics"), "loyalty-api")
    try:
        yield lab
    finally:
        lab.down()


def seed_args(lab, **extra):
    args = dict(url=lab.api_url + "/metrics", token=lab.secret("metrics_token"), window=2,
                http_5xx_per_min=0, http_slow_per_min=5, outbox_dead_delta=0)
    args.update(extra)
    return args


class Traffic:
    """GET a path again and again until stopped: the requests the window sees."""

    def __init__(self, url):
        self.url, self.sent, self._stop = url, 0, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            try:
                urllib.request.urlopen(self.url, timeout=5).read()
            except urllib.error.HTTPError as exc:
                exc.read()
            self.sent += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


def test_quiet_then_a_5xx_storm(loyalty):
    token = loyalty.secret("metrics_token")
    quiet, out = run_module(seed_args(loyalty))
    assert quiet.get("failed") is not True, quiet
    assert quiet["breached"] is False, quiet["judgements"]
    assert {j["name"]: j["found"] for j in quiet["judgements"]} == {
        "http_5xx_per_min": True, "http_slow_per_min": True, "outbox_dead_delta": True}
    assert quiet["elapsed_seconds"] >= 1.5  # the two reads were the window apart (no upper bound: a loaded host is slow)
    assert token not in out

    loyalty.break_("unhealthy")  # /health and /ready answer 503 from now on
    try:
        with Traffic(loyalty.api_url + "/health") as traffic:
            storm, out = run_module(seed_args(loyalty, fail_on_breach=True))
        assert traffic.sent > 0
    finally:
        loyalty.break_("healthy")
    assert storm["failed"] is True
    assert storm["msg"].startswith('Metrics over their thresholds: http_5xx_per_min: http_requests_total{status=~"5.."} is ')
    five = storm["judgements"][0]
    assert five["name"] == "http_5xx_per_min" and five["ok"] is False and five["value"] > 0 and five["series"] >= 1
    assert [j["ok"] for j in storm["judgements"][1:]] == [True, True]  # not slow, no dead outbox
    assert token not in out


def test_a_wrong_token_is_refused_and_not_said(loyalty):
    result, out = run_module(seed_args(loyalty, token="not-the-metrics-token-93ab"))
    assert result["failed"] is True
    assert "HTTP 401, the metrics token was refused" in result["msg"]
    assert "not-the-metrics-token-93ab" not in out


@pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON), reason="no /usr/bin/python3 to run the module without the library")
def test_a_host_without_prometheus_client_is_told_to_install_it(loyalty):
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import prometheus_client"], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("/usr/bin/python3 has prometheus_client: no interpreter here lacks it")
    result, _ = run_module(seed_args(loyalty), python=SYSTEM_PYTHON)
    assert result["failed"] is True
    assert "prometheus-client" in result["msg"] and "to parse the /metrics page" in result["msg"]
