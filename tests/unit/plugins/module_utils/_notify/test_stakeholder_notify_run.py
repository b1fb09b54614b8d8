"""stakeholder_notify's run() through a fake transport: every receiver posted to in order, one failing not
stopping the others but failing the task by name, check mode sending nothing, the dedupe record keeping a re-run
from posting twice, and no token anywhere in what is returned or raised (even when a server echoes it)."""

import json
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import Answer, NoAnswer
from ansible_collections.mcpops.runbooks.plugins.module_utils._notify.stakeholder_notify_run import run

SP_KEY = "spCANARYkey0001"
CHAT_TOKEN = "xoxb-CANARY-chat-0002"
BOT_TOKEN = "4242:CANARYbotTOKEN0003"
TOKENS = (SP_KEY, CHAT_TOKEN, BOT_TOKEN)


def receivers():
    return [
        dict(name="status", kind="statuspage", url="http://sp.test", page_id="pg1", incident_id="inc1", token=SP_KEY),
        dict(name="chat", kind="chat", url="http://chat.test", channel="#incidents", token=CHAT_TOKEN),
        dict(name="tg", kind="telegram", url="http://tg.test", chat_id="-100", token=BOT_TOKEN),
    ]


def params(**over):
    base = dict(receivers=receivers(), status="resolved", body="Service has been restored",
                text="Incident resolved: MCP Server is operational", dedupe_key=None, state_dir=None,
                fail_on_error=True, retries=1, retry_delay=0.0, timeout=10, validate_certs=True, ca_path=None)
    base.update(over)
    return base


class Receivers:
    """Answers by host: a list of answers (status, body) or exceptions, the last one repeated."""

    def __init__(self, **by_host):
        self.by_host = by_host
        self.requests = []

    def exchange(self, method, url, data, headers):
        host = url.split("/")[2].split(".")[0]
        self.requests.append(dict(host=host, method=method, url=url, body=json.loads(data), headers=dict(headers)))
        answers = self.by_host.get(host, [(200, {"ok": True})])
        item = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(item, Exception):
            raise item
        status, body = item
        return Answer(status, "R", {}, json.dumps(body).encode() if not isinstance(body, bytes) else body)


def no_token_in(value):
    text = json.dumps(value) if not isinstance(value, str) else value
    return not any(token in text for token in TOKENS)


def test_every_receiver_gets_its_update_in_order():
    transport = Receivers()
    result = run(params(), transport=transport, sleep=lambda s: None)
    assert result["changed"] is True and result["failed_receivers"] == []
    assert [r["host"] for r in transport.requests] == ["sp", "chat", "tg"]
    assert transport.requests[0]["body"] == {"incident": {"status": "resolved", "body": "Service has been restored"}}
    assert transport.requests[1]["headers"]["Authorization"] == "Bearer " + CHAT_TOKEN
    assert transport.requests[2]["url"] == "http://tg.test/bot%s/sendMessage" % BOT_TOKEN
    assert [(o["name"], o["sent"], o["ok"], o["status"], o["attempts"]) for o in result["receivers"]] == [
        ("status", True, True, 200, 1), ("chat", True, True, 200, 1), ("tg", True, True, 200, 1)]
    assert result["receivers"][2]["url"] == "http://tg.test/bot***/sendMessage"
    assert no_token_in(result)


def test_one_receiver_down_the_others_still_get_it_and_the_task_fails_naming_it():
    transport = Receivers(tg=[NoAnswer("[Errno 111] Connection refused")])
    with pytest.raises(TaskError) as caught:
        run(params(), transport=transport, sleep=lambda s: None)
    msg, result = caught.value.msg, caught.value.result
    assert "failed for tg (POST http://tg.test/bot***/sendMessage: no answer" in msg
    assert "Delivered to: status, chat" in msg
    assert result["failed_receivers"] == ["tg"] and result["changed"] is True
    assert [o["ok"] for o in result["receivers"]] == [True, True, False]
    assert result["receivers"][2]["attempts"] == 2
    assert no_token_in(msg) and no_token_in(result)


def test_fail_on_error_false_warns_and_returns():
    warned = []
    result = run(params(fail_on_error=False), transport=Receivers(chat=[(200, {"ok": False, "error": "channel_not_found"})]),
                 sleep=lambda s: None, warn=warned.append)
    assert result["failed_receivers"] == ["chat"]
    assert len(warned) == 1 and "chat" in warned[0] and "channel_not_found" in warned[0]


def test_a_token_the_server_echoes_back_is_redacted():
    echo = (403, {"ok": False, "description": "token %s refused" % BOT_TOKEN})
    with pytest.raises(TaskError) as caught:
        run(params(), transport=Receivers(tg=[echo]), sleep=lambda s: None)
    assert "refused" in caught.value.msg
    assert no_token_in(caught.value.msg) and no_token_in(caught.value.result)


def test_check_mode_sends_nothing_and_says_what_would_be_sent(tmp_path):
    transport = Receivers()
    result = run(params(dedupe_key="INC-1/resolved", state_dir=str(tmp_path / "state")), check_mode=True,
                 transport=transport)
    assert transport.requests == [] and not os.path.exists(tmp_path / "state")
    assert result["changed"] is True
    assert [(o["would_send"], o["sent"], o["ok"]) for o in result["receivers"]] == [(True, False, None)] * 3
    assert result["receivers"][1]["payload"] == {"channel": "#incidents",
                                                 "text": "Incident resolved: MCP Server is operational"}


def test_a_rerun_with_the_same_dedupe_key_posts_only_to_who_did_not_get_it(tmp_path):
    state = str(tmp_path / "state")
    first = Receivers(chat=[(503, "down")])
    with pytest.raises(TaskError, match="the dedupe_key's record sends only"):
        run(params(dedupe_key="INC-1/resolved", state_dir=state), transport=first, sleep=lambda s: None)
    second = Receivers()
    result = run(params(dedupe_key="INC-1/resolved", state_dir=state), transport=second, sleep=lambda s: None)
    assert [r["host"] for r in second.requests] == ["chat"]
    assert result["deduped_receivers"] == ["status", "tg"] and result["changed"] is True
    third = Receivers()
    again = run(params(dedupe_key="INC-1/resolved", state_dir=state), transport=third, sleep=lambda s: None)
    assert third.requests == [] and again["changed"] is False
    assert again["deduped_receivers"] == ["status", "chat", "tg"]
    [record] = os.listdir(state)
    assert no_token_in(open(os.path.join(state, record)).read())
    other = Receivers()
    run(params(dedupe_key="INC-1/monitoring", state_dir=state), transport=other, sleep=lambda s: None)
    assert len(other.requests) == 3


def test_without_a_dedupe_key_every_run_posts_again():
    transport = Receivers()
    for _ in range(2):
        assert run(params(), transport=transport)["changed"] is True
    assert len(transport.requests) == 6


@pytest.mark.parametrize("over, says", [
    (dict(receivers=[]), "receivers is empty"),
    (dict(status=None), "needs status, one of investigating"),
    (dict(body="  "), "body is empty"),
    (dict(receivers=[dict(receivers()[1]), dict(receivers()[1])]), "name chat is given twice"),
    (dict(receivers=[dict(receivers()[2], chat_id=None, name=None)]), "receiver telegram-1: a telegram receiver needs chat_id"),
    (dict(dedupe_key="k"), "dedupe_key and state_dir go together"),
    (dict(retries=9), "retries must be 0..5"),
    (dict(ca_path="/nonexistent/ca.pem"), "ca_path /nonexistent/ca.pem is not a file"),
])
def test_bad_input_is_refused_before_anything_is_sent(over, says):
    transport = Receivers()
    with pytest.raises(TaskError, match=says):
        run(params(**over), transport=transport)
    assert transport.requests == []
