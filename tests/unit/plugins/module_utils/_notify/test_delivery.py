"""_notify/delivery.py: an update tried again after no answer, a 5xx or a 429 (bounded, the pauses doubling and
capped, a Retry-After honoured), and never after any other refusal."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import Answer, NoAnswer
from ansible_collections.mcpops.runbooks.plugins.module_utils._notify.delivery import deliver, pause_before
from ansible_collections.mcpops.runbooks.plugins.module_utils._notify.receiver_kinds import build_request

OUT = build_request(dict(kind="chat", url="http://h", channel="#c", token="t"), None, "b", "t")


class Answers:
    def __init__(self, *items):
        self.items = list(items)
        self.calls = 0

    def exchange(self, method, url, data, headers):
        self.calls += 1
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        status, body, headers = (item + ({},))[:3]
        return Answer(status, "R", headers, body)


OK = (200, b'{"ok": true}')


def test_a_500_then_a_200_is_delivered_on_the_second_try_after_the_pause():
    slept = []
    outcome = deliver(Answers((500, b"oops"), OK), "chat", OUT, retries=2, retry_delay=1.5, sleep=slept.append)
    assert outcome == dict(ok=True, status=200, error=None, attempts=2)
    assert slept == [1.5]


def test_no_answer_is_retried_until_the_bound_then_says_how_many_tries():
    slept = []
    transport = Answers(NoAnswer("refused"), NoAnswer("refused"), NoAnswer("refused"), OK)
    outcome = deliver(transport, "chat", OUT, retries=2, retry_delay=1, sleep=slept.append)
    assert outcome == dict(ok=False, status=None, error="no answer (refused), after 3 tries", attempts=3)
    assert transport.calls == 3 and slept == [1, 2]


def test_a_refusal_that_is_not_5xx_is_final():
    transport = Answers((401, b'{"ok": false}'), OK)
    outcome = deliver(transport, "chat", OUT, retries=5, retry_delay=0, sleep=lambda s: None)
    assert not outcome["ok"] and outcome["status"] == 401 and transport.calls == 1
    assert "after" not in outcome["error"]


def test_ok_false_in_a_200_is_final_too():
    transport = Answers((200, b'{"ok": false, "error": "not_in_channel"}'), OK)
    outcome = deliver(transport, "chat", OUT, retries=3, retry_delay=0, sleep=lambda s: None)
    assert outcome["ok"] is False and "not_in_channel" in outcome["error"] and transport.calls == 1


def test_pauses_double_honour_retry_after_and_are_capped():
    assert [pause_before(n, 1) for n in (1, 2, 3)] == [1, 2, 4]
    assert pause_before(10, 1) == 30.0
    assert pause_before(1, 1, Answer(429, "Too Many", {"Retry-After": "7"}, b"")) == 7.0
    assert pause_before(1, 1, Answer(429, "Too Many", {"Retry-After": "3600"}, b"")) == 30.0
    assert pause_before(1, 2, Answer(429, "Too Many", {"Retry-After": "soon"}, b"")) == 2
