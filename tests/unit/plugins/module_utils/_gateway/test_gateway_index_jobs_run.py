"""_gateway/gateway_index_jobs_run.py: gateway_index_jobs' run, its input check, and what a failed task carries."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import GatewayError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.gateway_index_jobs_run import run

TOKEN = "CANARYindexRUNtoken0007"
RUNNING = {"id": "job_1", "kind": "index.discover", "state": "running", "startedAt": "2026-11-24T16:00:00Z"}
JSON = {"Content-Type": "application/json"}


def params(**overrides):
    """The module's options with their argument_spec defaults."""
    base = dict(state="idle", api_url="http://127.0.0.1:9", api_token=TOKEN, wait_timeout=300, poll_interval=2,
                force=False, validate_certs=True, timeout=10)
    base.update(overrides)
    return base


class FakeGateway:
    """A GatewayClient stand-in: answers or not, `jobs` one list per jobs() call (the last repeated)."""

    def __init__(self, jobs, answers=True):
        self.job_lists = list(jobs)
        self.answering = answers
        self.calls = []

    def answers(self):
        return self.answering

    def jobs(self):
        self.calls.append("jobs")
        return self.job_lists[min(self.calls.count("jobs") - 1, len(self.job_lists) - 1)]

    def request(self, method, path, body=None, auth=True, ok=(200,)):
        self.calls.append((method, path))
        return 202, {"job": dict(RUNNING, id="job_new")}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.mark.parametrize("overrides", [{"wait_timeout": -1}, {"poll_interval": 0}])
def test_bad_timings_refused_before_any_request(overrides):
    gateway = FakeGateway([[]])
    with pytest.raises(TaskError) as caught:
        run(params(**overrides), client=gateway)
    assert caught.value.msg == "wait_timeout must be 0 or more and poll_interval 1 or more"
    assert caught.value.result == {} and gateway.calls == []


def test_idle_waits_then_returns_every_key():
    clock = Clock()
    gateway = FakeGateway([[RUNNING], [dict(RUNNING, state="done")]])
    result = run(params(poll_interval=3), client=gateway, clock=clock, sleep=clock.sleep)
    assert result == {"changed": False, "answered": True, "running_jobs": [], "waited_seconds": 3, "interrupts": [],
                      "job": None}


def test_idle_still_running_fails_with_the_whole_result():
    clock = Clock()
    with pytest.raises(TaskError) as caught:
        run(params(wait_timeout=4), client=FakeGateway([[RUNNING]]), clock=clock, sleep=clock.sleep)
    assert "still running after waiting 4s" in caught.value.msg and "force=true" in caught.value.msg
    assert caught.value.result == {"changed": False, "answered": True, "running_jobs": [RUNNING], "waited_seconds": 4,
                                   "interrupts": [], "job": None}


def test_discovered_check_mode_posts_nothing_and_real_run_posts_once():
    gateway = FakeGateway([[]])
    assert run(params(state="discovered"), check_mode=True, client=gateway)["changed"] is True
    assert ("POST", "/api/system/index/discover") not in gateway.calls
    result = run(params(state="discovered"), client=gateway)
    assert result["changed"] is True and result["job"]["id"] == "job_new"
    assert gateway.calls.count(("POST", "/api/system/index/discover")) == 1


def test_gateway_error_says_what_to_check(stub):
    stub.routes[("GET", "/api/system/jobs")] = (401, JSON, {"error": {"code": "unauthorized", "message": "bad token"}})
    with pytest.raises(TaskError) as caught:
        run(params(state="discovered", api_url=stub.url))
    assert caught.value.msg == ("GET %s/api/system/jobs -> HTTP 401 unauthorized: bad token. Check gateway_api_url and "
                                "gateway_admin_token, and that the gateway runs." % stub.url)
    assert caught.value.result["job"] is None and TOKEN not in caught.value.msg


def test_a_gateway_error_while_waiting_is_a_task_error():
    class Failing(FakeGateway):
        def jobs(self):
            raise GatewayError("GET", "http://gw/api/system/jobs", 500, "internal", "db down")

    with pytest.raises(TaskError, match="HTTP 500 internal: db down. Check gateway_api_url"):
        run(params(), client=Failing([[]]))
