"""_gateway/index_jobs.py: the index-job guard against the real HTTP client and a small stand-in gateway (/api/system/jobs)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import GatewayClient
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.index_jobs import (
    running_discover_jobs,
    start_discover,
    wait_until_idle,
)

TOKEN = "CANARYguardTOKEN0006"
RUNNING = {"id": "job_1", "kind": "index.discover", "state": "running", "startedAt": "2026-11-24T16:00:00Z"}


class Gateway:
    """Serves /healthz and /api/system/jobs; `jobs` is a list of job lists, one per GET, the last repeated."""

    def __init__(self, jobs):
        self.jobs, self.gets, self.posts = list(jobs), 0, 0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                if self.path == "/healthz":
                    return self._send(200, {"status": "ok"})
                assert self.headers["Authorization"] == "Bearer " + TOKEN
                current = gateway.jobs[min(gateway.gets, len(gateway.jobs) - 1)]
                gateway.gets += 1
                self._send(200, {"jobs": current})

            def do_POST(self):
                gateway.posts += 1
                self._send(202, {"job": dict(RUNNING, id="job_new")})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(request):
    gw = Gateway(request.param)
    yield gw
    gw.close()


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def client(gw):
    return GatewayClient(gw.url, TOKEN, timeout=5)


@pytest.mark.parametrize("gateway", [[[RUNNING], [RUNNING], [dict(RUNNING, state="done")]]], indirect=True)
def test_waits_until_the_job_is_done(gateway):
    clock = FakeClock()
    result = wait_until_idle(client(gateway), 60, False, poll=2, clock=clock, sleep=clock.sleep)
    assert result == {"answered": True, "running_jobs": [], "waited_seconds": 4, "interrupts": []}


@pytest.mark.parametrize("gateway", [[[RUNNING]]], indirect=True)
def test_refuses_after_the_bounded_wait_and_says_what_to_do(gateway):
    clock = FakeClock()
    with pytest.raises(TaskError) as exc:
        wait_until_idle(client(gateway), 5, False, poll=2, clock=clock, sleep=clock.sleep)
    assert "job_1" in exc.value.msg and "after waiting 5s" in exc.value.msg and "force=true" in exc.value.msg
    assert exc.value.result["running_jobs"] == [RUNNING] and exc.value.result["interrupts"] == []
    assert TOKEN not in exc.value.msg


@pytest.mark.parametrize("gateway", [[[RUNNING]]], indirect=True)
def test_force_returns_the_jobs_it_will_interrupt_without_waiting(gateway):
    clock = FakeClock()
    result = wait_until_idle(client(gateway), 300, True, clock=clock, sleep=clock.sleep)
    assert result["interrupts"] == [RUNNING] and result["waited_seconds"] == 0


def test_a_gateway_that_does_not_answer_has_nothing_to_interrupt():
    result = wait_until_idle(GatewayClient("http://127.0.0.1:9", TOKEN, timeout=2), 300, False)
    assert result == {"answered": False, "running_jobs": [], "waited_seconds": 0, "interrupts": []}


@pytest.mark.parametrize("gateway", [[[]]], indirect=True)
def test_start_discover_posts_once_and_not_in_check_mode(gateway):
    assert start_discover(client(gateway), check_mode=True) == {"changed": True, "job": None}
    assert gateway.posts == 0
    result = start_discover(client(gateway), check_mode=False)
    assert result["changed"] and result["job"]["id"] == "job_new" and gateway.posts == 1


@pytest.mark.parametrize("gateway", [[[RUNNING]]], indirect=True)
def test_start_discover_joins_a_running_job(gateway):
    result = start_discover(client(gateway), check_mode=False)
    assert result["changed"] is False and result["job"] == RUNNING and gateway.posts == 0


def test_only_running_discover_jobs_count():
    jobs = [RUNNING, dict(RUNNING, state="done"), dict(RUNNING, kind="backup")]
    assert running_discover_jobs(jobs) == [RUNNING]
