"""_health/service_health_run.py called directly (no AnsibleModule): input refused before any request, rounds and
retries, the result and the failure message, redaction of every secret value; with a fake check or transport, and
once end to end against a loopback stub."""

import copy
import json

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import Answer, NoAnswer
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.service_health_run import (
    check_base_url,
    run,
    secret_values,
)

CANARY = "CANARY-svc-key-0c4d19aa"
OTHER = "CANARY-metrics-token-77e1"
JSON = {"Content-Type": "application/json"}
HEALTH = {
    "checks": [
        {"name": "health", "path": "/health", "auth": "api_key", "expect_status": 200, "max_latency_ms": 2000,
         "conditions": ["status == healthy"]},
        {"name": "deep", "path": "/api/health", "auth": "none", "conditions": ["redis.status == healthy"]},
        {"name": "metrics", "path": "/metrics", "auth": "metrics_token"},
    ],
    "liveness": "health",
    "readiness": "deep",
    "deep": "deep",
}
AUTH = {
    "api_key": {"style": "header", "header": "X-API-Key", "secret_var": "svc_api_key"},
    "metrics_token": {"style": "header", "header": "X-Metrics-Token", "secret_var": "svc_metrics_token"},
}


def params(**overrides):
    """The module's options with their argument_spec defaults."""
    base = dict(base_url="http://127.0.0.1:9", health=copy.deepcopy(HEALTH), auth=copy.deepcopy(AUTH),
                secrets={"svc_api_key": CANARY, "svc_metrics_token": OTHER}, select=[], validate_certs=True,
                timeout=10, retries=0, delay=2, fail_when_unhealthy=True)
    base.update(overrides)
    return base


def verdict(request, ok=True, problem=None, status=200, body=None, failed_condition=None):
    return {"method": request["method"], "url": request["url"], "status": status, "latency_ms": 3, "ok": ok,
            "problem": problem, "failed_condition": failed_condition, "body": body}


class Rounds:
    """A check(spec, request, transport) stand-in: round n fails the checks named in rounds[n]."""

    def __init__(self, *rounds):
        self.rounds = [set(r) for r in rounds]
        self.calls = []

    def __call__(self, spec, request, transport):
        self.calls.append((spec["name"], request))
        round_index = min(self.round, len(self.rounds) - 1)
        if spec["name"] in self.rounds[round_index]:
            return verdict(request, ok=False, status=503, problem="HTTP 503, expected 200")
        return verdict(request)

    @property
    def round(self):
        return (len(self.calls) - 1) // 3


class Refuse:
    """A transport (and a check) that must never be used."""

    def exchange(self, *args):
        pytest.fail("a request was sent")

    def __call__(self, *args):
        pytest.fail("a check ran")


# -- input, refused before any request --------------------------------------------------------------


@pytest.mark.parametrize("secrets", [{}, {"svc_api_key": ""}, {"svc_api_key": None}, {"svc_metrics_token": OTHER}])
def test_a_missing_secret_is_refused_before_any_request(secrets):
    with pytest.raises(TaskError) as caught:
        run(params(secrets=secrets), check=Refuse(), transport=Refuse(), sleep=pytest.fail)
    assert caught.value.msg == ("check health: auth api_key (header X-API-Key) takes its secret from variable svc_api_key, "
                                "which is not set or empty (secrets.svc_api_key); nothing was checked")
    assert caught.value.result == {}


def test_the_last_checks_secret_is_also_checked_before_the_first_request():
    with pytest.raises(TaskError) as caught:
        run(params(secrets={"svc_api_key": CANARY}), check=Refuse(), transport=Refuse())
    assert "check metrics: auth metrics_token (header X-Metrics-Token)" in caught.value.msg
    assert "svc_metrics_token" in caught.value.msg and CANARY not in caught.value.msg


def test_only_the_selected_checks_need_their_secret():
    check = Rounds([])
    result = run(params(secrets={}, select=["deep"]), check=check, transport=Refuse())
    assert result["healthy"] is True and [c["name"] for c in result["checks"]] == ["deep"]
    with pytest.raises(TaskError):
        run(params(secrets={}, select=["liveness"]), check=Refuse(), transport=Refuse())


@pytest.mark.parametrize("base_url,says", [
    ("127.0.0.1:8080", "is not http(s)://host[:port][/path]"),
    ("ftp://127.0.0.1", "is not http(s)://host[:port][/path]"),
    ("http://", "is not http(s)://host[:port][/path]"),
    ("http://h/?x=1", "is not http(s)://host[:port][/path]"),
    ("http://h/#x", "is not http(s)://host[:port][/path]"),
    ("http://h:99999", "has a bad port"),
    ("http://h:port", "has a bad port"),
    ("http://h/a b", "no space or control character"),
    ("http://h\n", "no space or control character"),
    (None, "no space or control character"),
    ("http://user:%s@h" % CANARY, "must not carry a user or password"),
])
def test_bad_base_url(base_url, says):
    with pytest.raises(TaskError) as caught:
        run(params(base_url=base_url), check=Refuse(), transport=Refuse())
    assert says in caught.value.msg and "nothing was checked" in caught.value.msg
    assert CANARY not in caught.value.msg


def test_base_url_trailing_slash_and_path():
    assert check_base_url("https://h:8443/svc/") == "https://h:8443/svc"
    check = Rounds([])
    run(params(base_url="http://127.0.0.1:9/prefix/"), check=check, transport=Refuse())
    assert [r["url"] for _, r in check.calls] == ["http://127.0.0.1:9/prefix/health", "http://127.0.0.1:9/prefix/api/health",
                                                  "http://127.0.0.1:9/prefix/metrics"]


@pytest.mark.parametrize("key,value", [("retries", -1), ("delay", -2), ("timeout", 0), ("retries", True), ("delay", "2")])
def test_bad_numbers(key, value):
    with pytest.raises(TaskError) as caught:
        run(params(**{key: value}), check=Refuse(), transport=Refuse())
    assert caught.value.msg.startswith("%s must be an integer >= " % key)


def test_bad_health_and_select_are_refused():
    with pytest.raises(TaskError) as caught:
        run(params(health={"checks": []}), check=Refuse(), transport=Refuse())
    assert "health.checks must be a non-empty list" in caught.value.msg
    with pytest.raises(TaskError) as caught:
        run(params(select=["liveness", "bridge"]), check=Refuse(), transport=Refuse())
    assert caught.value.msg.startswith("select: unknown check 'bridge'; known: health, deep, metrics")


def test_an_input_error_never_shows_a_secret():
    health = copy.deepcopy(HEALTH)
    health["checks"][1]["path"] = "/x %s" % CANARY
    with pytest.raises(TaskError) as caught:
        run(params(health=health), check=Refuse(), transport=Refuse())
    assert "path must start with /" in caught.value.msg and CANARY not in caught.value.msg


# -- rounds -------------------------------------------------------------------------------------------


def test_healthy_first_time():
    check = Rounds([])
    result = run(params(), check=check, transport=Refuse(), sleep=pytest.fail)
    assert result["healthy"] is True and result["changed"] is False and result["attempts"] == 1
    assert result["problems"] == [] and result["failed_checks"] == []
    assert [(c["name"], c["roles"], c["ok"]) for c in result["checks"]] == [
        ("health", ["liveness"], True), ("deep", ["readiness", "deep"], True), ("metrics", [], True)]
    assert list(result["checks"][0]) == ["name", "roles", "method", "url", "status", "latency_ms", "ok", "problem",
                                         "failed_condition", "body"]
    sent = dict((name, request) for name, request in check.calls)
    assert sent["health"]["headers"]["X-API-Key"] == CANARY and sent["metrics"]["headers"]["X-Metrics-Token"] == OTHER
    assert "X-API-Key" not in sent["deep"]["headers"]


def test_retries_until_healthy_sleeping_delay_between():
    sleeps = []
    check = Rounds(["deep"], ["deep", "health"], [])
    result = run(params(retries=5, delay=3), check=check, transport=Refuse(), sleep=sleeps.append)
    assert result["healthy"] is True and result["attempts"] == 3 and sleeps == [3, 3]
    assert len(check.calls) == 9


def test_still_unhealthy_after_retries_fails_naming_the_checks():
    sleeps = []
    with pytest.raises(TaskError) as caught:
        run(params(retries=2, delay=0), check=Rounds(["deep"], ["deep", "metrics"]), transport=Refuse(), sleep=sleeps.append)
    assert caught.value.msg == (
        "service at http://127.0.0.1:9 unhealthy after 3 checks: "
        "check deep (GET http://127.0.0.1:9/api/health): HTTP 503, expected 200; "
        "check metrics (GET http://127.0.0.1:9/metrics): HTTP 503, expected 200")
    result = caught.value.result
    assert result["healthy"] is False and result["attempts"] == 3 and result["failed_checks"] == ["deep", "metrics"]
    assert result["changed"] is False and sleeps == [0, 0]


def test_report_only_when_fail_when_unhealthy_is_false():
    result = run(params(fail_when_unhealthy=False), check=Rounds(["health"]), transport=Refuse(), sleep=pytest.fail)
    assert result["healthy"] is False and result["attempts"] == 1
    assert result["problems"] == ["check health (GET http://127.0.0.1:9/health): HTTP 503, expected 200"]


def test_check_mode_runs_the_checks_and_changes_nothing():
    check = Rounds([])
    result = run(params(), True, check=check, transport=Refuse())
    assert result["changed"] is False and len(check.calls) == 3


# -- redaction ------------------------------------------------------------------------------------------


def test_every_secret_value_is_redacted_from_result_and_message():
    def echoing(spec, request, transport):
        key = request["headers"].get("X-API-Key", "")
        return verdict(request, ok=False, status=500, problem="HTTP 500, expected 200 (%s, %s)" % (key, OTHER),
                       body={"echo": key, key or "k": [OTHER], "unused": "CANARY-unused-secret-1"})

    with pytest.raises(TaskError) as caught:
        run(params(secrets={"svc_api_key": CANARY, "svc_metrics_token": OTHER, "db": "CANARY-unused-secret-1"}),
            check=echoing, transport=Refuse())
    for text in (caught.value.msg, json.dumps(caught.value.result)):
        assert CANARY not in text and OTHER not in text and "CANARY-unused-secret-1" not in text
    assert caught.value.result["checks"][0]["body"] == {"echo": "********", "********": ["********"], "unused": "********"}


def test_a_secret_inside_another_is_not_left_half_shown():
    short, long_ = "CANARYabc", "CANARYabcDEF123"
    assert secret_values({"a": short, "b": long_, "c": "", "d": None, "e": 42}) == [long_, short, "42"]

    def echoing(spec, request, transport):
        return verdict(request, body={"a": long_, "b": short})

    result = run(params(secrets={"svc_api_key": short, "svc_metrics_token": long_}), check=echoing, transport=Refuse())
    assert result["checks"][0]["body"] == {"a": "********", "b": "********"}


# -- end to end on a fake transport and on loopback --------------------------------------------------------


class Router:
    """A transport answering by path: (status, body) or an exception to raise."""

    def __init__(self, base_url, routes):
        self.base_url, self.routes = base_url, routes
        self.sent = []

    def exchange(self, method, url, data, headers):
        self.sent.append((url, dict(headers)))
        got = self.routes[url[len(self.base_url):]]
        if isinstance(got, Exception):
            raise got
        return Answer(got[0], "", dict(JSON), json.dumps(got[1]).encode())


def test_the_default_check_through_a_transport():
    router = Router("http://127.0.0.1:9", {
        "/health": (200, {"status": "healthy", "key": CANARY}),
        "/api/health": (200, {"status": "healthy", "redis": {"status": "unhealthy"}}),
        "/metrics": NoAnswer("[Errno 111] Connection refused")})
    with pytest.raises(TaskError) as caught:
        run(params(), transport=router)
    result = caught.value.result
    assert result["failed_checks"] == ["deep", "metrics"]
    assert result["checks"][0]["body"] == {"status": "healthy", "key": "********"}
    assert result["checks"][1]["failed_condition"] == "redis.status == healthy"
    assert result["problems"] == [
        "check deep (GET http://127.0.0.1:9/api/health): condition 'redis.status == healthy' failed: redis.status is \"unhealthy\"",
        "check metrics (GET http://127.0.0.1:9/metrics): no answer (Connection refused)"]
    assert CANARY not in caught.value.msg + json.dumps(result)
    assert [url for url, _ in router.sent] == ["http://127.0.0.1:9/health", "http://127.0.0.1:9/api/health",
                                               "http://127.0.0.1:9/metrics"]


def test_end_to_end_on_loopback(stub):
    stub.routes[("GET", "/health")] = lambda h, b: (
        (200, JSON, {"status": "healthy", "echo": h.headers.get("X-API-Key")}) if h.headers.get("X-API-Key") == CANARY
        else (503, JSON, {"status": "unauthorized"}))
    stub.routes[("GET", "/api/health")] = (200, JSON, {"redis": {"status": "healthy"}})
    stub.routes[("GET", "/metrics")] = lambda h, b: (
        200 if h.headers.get("X-Metrics-Token") == OTHER else 401, {"Content-Type": "text/plain"}, "up 1\n")
    result = run(params(base_url=stub.url))
    assert result["healthy"] is True and [c["status"] for c in result["checks"]] == [200, 200, 200]
    assert result["checks"][0]["body"] == {"status": "healthy", "echo": "********"}
    assert all(c["latency_ms"] >= 0 for c in result["checks"])
    wrong = run(params(base_url=stub.url, secrets={"svc_api_key": "wrong-key", "svc_metrics_token": "wrong-token"},
                       fail_when_unhealthy=False))
    assert wrong["failed_checks"] == ["health", "metrics"]
    assert wrong["problems"][0].startswith("check health (GET %s/health): HTTP 503, expected 200; " % stub.url)
