"""metrics_thresholds' run(): two reads a window apart through a fake transport (the parser is prometheus_client's),
the seed's three thresholds and a custom one judged, breaches said, the token sent only as a header, and the errors
(refused token, no answer, not a metrics page, bad checks)."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import Answer, NoAnswer
from ansible_collections.mcpops.runbooks.plugins.module_utils._metrics.metrics_thresholds_run import run

TOKEN = "metrics-secret-6f1d"
URL = "http://127.0.0.1:3000/metrics"


def page(errors, slow, dead, webhook_failed=0):
    return ("# TYPE http_requests_total counter\n"
            'http_requests_total{method="GET",path="/health",status="200"} 100\n'
            'http_requests_total{method="POST",path="/api/v1/loyalty/earn",status="500"} %d\n'
            "# TYPE http_slow_requests_total counter\n"
            'http_slow_requests_total{method="GET",path="/ready"} %d\n'
            "# TYPE loyalty_outbox_dead_total counter\n"
            "loyalty_outbox_dead_total %d\n"
            "# TYPE external_requests_total counter\n"
            'external_requests_total{provider="webhook",result="error",status="500"} %d\n'
            % (errors, slow, dead, webhook_failed))


class Pages:
    """A transport answering each GET with the next (status, text)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def exchange(self, method, url, data, headers):
        self.requests.append((method, url, dict(headers)))
        item = self.answers.pop(0)
        if isinstance(item, Exception):
            raise item
        status, text = item
        return Answer(status, "OK" if status == 200 else "Error", {}, text.encode())


class Clock:
    def __init__(self, elapsed):
        self.times = [100.0, 100.0 + elapsed]
        self.slept = []

    def monotonic(self):
        return self.times.pop(0)

    def sleep(self, seconds):
        self.slept.append(seconds)


def params(**extra):
    p = dict(url=URL, token=TOKEN, token_header="X-Metrics-Token", window=30, http_5xx_per_min=5.0,
             http_slow_per_min=10.0, outbox_dead_delta=0.0, checks=[], fail_on_breach=False, validate_certs=True,
             timeout=10)
    p.update(extra)
    return p


def go(pages, elapsed=30.0, warnings=None, **extra):
    clock = Clock(elapsed)
    result = run(params(**extra), transport=pages, sleep=clock.sleep, monotonic=clock.monotonic,
                 warn=(warnings.append if warnings is not None else None))
    return result, clock


def test_a_healthy_window_breaches_nothing():
    pages = Pages((200, page(1, 3, 2)), (200, page(2, 5, 2)))
    result, clock = go(pages)
    assert clock.slept == [30]
    assert result["breached"] is False and result["breaches"] == [] and result["changed"] is False
    values = {j["name"]: (j["value"], j["threshold"], j["ok"]) for j in result["judgements"]}
    assert values == {"http_5xx_per_min": (2.0, 5.0, True), "http_slow_per_min": (4.0, 10.0, True),
                      "outbox_dead_delta": (0.0, 0.0, True)}
    assert result["elapsed_seconds"] == 30.0
    assert [r[2] for r in pages.requests] == [{"Accept": "text/plain", "X-Metrics-Token": TOKEN}] * 2
    assert TOKEN not in repr(result)


def test_a_5xx_storm_and_a_growing_dead_outbox_are_breaches():
    pages = Pages((200, page(10, 0, 2, webhook_failed=1)), (200, page(40, 0, 5, webhook_failed=9)))
    result, _ = go(pages, elapsed=60.0, checks=[dict(name="webhook_errors_per_min", kind="rate_per_min", max=3.0,
                                                    selector='external_requests_total{provider="webhook",result!="ok"}')])
    assert result["breached"] is True
    names = [j["name"] for j in result["judgements"] if not j["ok"]]
    assert names == ["http_5xx_per_min", "outbox_dead_delta", "webhook_errors_per_min"]
    assert result["breaches"][0] == ('http_5xx_per_min: http_requests_total{status=~"5.."} is 30.0 per minute, '
                                     "over the threshold 5.0")
    assert "loyalty_outbox_dead_total is 3.0 over the window" in result["breaches"][1]


def test_fail_on_breach_fails_with_the_judgements():
    pages = Pages((200, page(0, 0, 0)), (200, page(50, 0, 0)))
    with pytest.raises(TaskError) as err:
        go(pages, fail_on_breach=True)
    assert "Metrics over their thresholds: http_5xx_per_min" in err.value.msg
    assert err.value.result["breached"] is True and len(err.value.result["judgements"]) == 3


def test_a_metric_the_page_does_not_declare_warns():
    text = "# TYPE http_requests_total counter\nhttp_requests_total{status=\"200\"} 1\n"
    warnings = []
    result, _ = go(Pages((200, text), (200, text)), warnings=warnings, http_slow_per_min=None, outbox_dead_delta=None,
                   http_5xx_per_min=None, checks=[dict(name="typo", selector="htp_requests_total", kind="delta", max=0)])
    assert result["judgements"][0]["found"] is False
    assert warnings == ["typo: the page does not declare htp_requests_total; its value is taken as 0 (a typo, or "
                        "the service does not export it)"]


@pytest.mark.parametrize("answer, words", [
    ((401, '{"error": "unauthorized"}'), "HTTP 401, the metrics token was refused"),
    ((503, "down"), "HTTP 503 Error, not the metrics page"),
    (NoAnswer("Connection refused"), "no answer (Connection refused)"),
    ((200, "<html>\n<body>hello</body>\n"), "not Prometheus text format"),
])
def test_what_came_back_is_said_and_the_token_is_not(answer, words):
    with pytest.raises(TaskError) as err:
        go(Pages(answer))
    assert words in err.value.msg and URL in err.value.msg
    assert TOKEN not in err.value.msg


@pytest.mark.parametrize("extra, words", [
    (dict(http_5xx_per_min=None, http_slow_per_min=None, outbox_dead_delta=None), "no threshold to judge"),
    (dict(checks=[dict(name="x", selector="m{a=1}", kind="delta", max=1)]), "check x: cannot read the label matcher"),
    (dict(checks=[dict(name="http_5xx_per_min", selector="m", kind="delta", max=1)]), "given twice"),
    (dict(checks=[dict(name="x", selector="m", kind="delta", max=-1)]), "max must be a number >= 0"),
    (dict(window=0), "window must be 1..3600"),
    (dict(url="127.0.0.1:3000/metrics"), "url must be http(s)://"),
])
def test_bad_input_is_refused_before_any_request(extra, words):
    pages = Pages()
    with pytest.raises(TaskError) as err:
        go(pages, **extra)
    assert words in err.value.msg
    assert pages.requests == []
