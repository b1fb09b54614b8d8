"""_notify/receiver_kinds.py: the request each kind of receiver gets (method, path, headers, body), the webhook URL
shown with its token masked, the receivers refused before anything is sent, and which answers mean "taken"."""

import json

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import Answer
from ansible_collections.mcpops.runbooks.plugins.module_utils._notify.receiver_kinds import (
    answer_error,
    base_url,
    build_request,
    check_receiver,
    secrets_of,
    target_of,
    worth_retrying,
)

TOKEN = "123456:AAHcanaryTOKEN-x_y"


def test_statuspage_is_a_patch_with_oauth_and_the_incident_status_and_body():
    receiver = dict(kind="statuspage", url="https://api.statuspage.io/", page_id="p 1", incident_id="inc/9",
                    token="sp-key")
    out = build_request(receiver, "resolved", "Service has been restored", "ignored")
    assert out.method == "PATCH"
    assert out.url == out.shown_url == "https://api.statuspage.io/v1/pages/p%201/incidents/inc%2F9"
    assert out.headers["Authorization"] == "OAuth sp-key"
    assert out.headers["Content-Type"].startswith("application/json")
    assert json.loads(out.data) == {"incident": {"status": "resolved", "body": "Service has been restored"}}
    assert target_of(receiver) == "p 1/inc/9"


def test_chat_is_a_post_to_chat_postmessage_with_bearer_channel_and_text():
    receiver = dict(kind="chat", url="https://slack.com", channel="#incidents", token="xoxb-1")
    out = build_request(receiver, None, "body", "Incident resolved: MCP Server is operational")
    assert (out.method, out.url) == ("POST", "https://slack.com/api/chat.postMessage")
    assert out.headers["Authorization"] == "Bearer xoxb-1"
    assert json.loads(out.data) == {"channel": "#incidents", "text": "Incident resolved: MCP Server is operational"}


def test_telegram_puts_the_token_in_the_path_and_shows_it_masked():
    receiver = dict(kind="telegram", url="http://127.0.0.1:9/tg", chat_id="-100123", token=TOKEN)
    out = build_request(receiver, None, "body", "resolved")
    assert out.url == "http://127.0.0.1:9/tg/bot%s/sendMessage" % TOKEN
    assert out.shown_url == "http://127.0.0.1:9/tg/bot***/sendMessage"
    assert "Authorization" not in out.headers and TOKEN not in json.dumps(out.headers)
    assert json.loads(out.data) == {"chat_id": -100123, "text": "resolved"}
    named = build_request(dict(receiver, chat_id="@ops_channel"), None, "b", "t")
    assert json.loads(named.data)["chat_id"] == "@ops_channel"


def test_a_token_with_url_characters_is_quoted_and_both_forms_are_secrets():
    receiver = dict(kind="telegram", url="http://h", chat_id="1", token="a b/c")
    assert build_request(receiver, None, "b", "t").url == "http://h/bota%20b%2Fc/sendMessage"
    assert secrets_of(receiver) == ["a b/c", "a%20b%2Fc"]
    assert secrets_of(dict(token=TOKEN)) == [TOKEN]


@pytest.mark.parametrize("receiver, says", [
    (dict(kind="pager", url="http://h", token="t"), "kind must be one of"),
    (dict(kind="chat", url="ftp://h", token="t", channel="c"), r"url must be http\(s\)"),
    (dict(kind="chat", url="http://user:pw@h", token="t", channel="c"), "no user, password"),
    (dict(kind="chat", url="http://h?token=x", token="t", channel="c"), "no user, password, query"),
    (dict(kind="chat", url="http://h", token="", channel="c"), "needs token"),
    (dict(kind="chat", url="http://h", token="t", channel=" "), "needs channel"),
    (dict(kind="statuspage", url="http://h", token="t", page_id="p"), "needs incident_id"),
    (dict(kind="telegram", url="http://h", token="t"), "needs chat_id"),
])
def test_a_receiver_missing_what_its_kind_needs_is_refused(receiver, says):
    with pytest.raises(ValueError, match=says):
        check_receiver(receiver)


def test_base_url_drops_the_trailing_slash():
    assert base_url("https://example.test/api/") == "https://example.test/api"


def answer(status, body, reason="OK"):
    return Answer(status, reason, {}, body if isinstance(body, bytes) else json.dumps(body).encode())


def test_a_statuspage_2xx_is_taken_and_anything_else_says_the_status_and_body():
    assert answer_error("statuspage", answer(200, {"id": "inc"})) is None
    error = answer_error("statuspage", answer(404, {"error": "incident not found"}, "Not Found"))
    assert error.startswith("HTTP 404 Not Found") and "incident not found" in error


def test_chat_and_telegram_need_ok_true_in_a_json_body():
    assert answer_error("chat", answer(200, {"ok": True, "ts": "1"})) is None
    assert "channel_not_found" in answer_error("chat", answer(200, {"ok": False, "error": "channel_not_found"}))
    assert "chat not found" in answer_error("telegram", answer(200, {"ok": False, "description": "chat not found"}))
    assert "not a JSON object" in answer_error("telegram", answer(200, b"<html>"))
    assert answer_error("telegram", answer(401, {"ok": False}, "Unauthorized")).startswith("HTTP 401")


def test_a_long_body_is_cut_in_the_error():
    error = answer_error("statuspage", answer(500, b"x" * 5000, "Internal Server Error"))
    assert len(error) < 300 and error.endswith("...")


def test_only_5xx_and_429_are_worth_retrying():
    assert [s for s in (200, 400, 401, 404, 429, 500, 502, 503) if worth_retrying(s)] == [429, 500, 502, 503]
