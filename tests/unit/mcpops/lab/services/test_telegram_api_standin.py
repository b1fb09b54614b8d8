"""The Telegram Bot API stand-in (mcpops.lab.services.telegram_api) on a loopback port, without a fleet: it accepts
sendMessage and getMe with its token only, records each accepted message without the token, and never logs the path
that carries the token."""

import io
import json
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from mcpops.lab.services import telegram_api
from mcpops.lab.services.config import ConfigError
from mcpops.lab.services.http_app import JsonLines, Server

TOKEN = "7000000001:canary-bot-token-Qm93xx"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def standin(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    config = telegram_api.load_config({"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0",
                                       "MCPOPS_SERVICE_STATE_DIR": str(tmp_path / "state"),
                                       "TELEGRAM_BOT_TOKEN_FILE": str(token_file)})
    app = telegram_api.build(config)
    log = io.StringIO()
    app.log = JsonLines(stream=log, secrets=app.secrets)
    server = Server(("127.0.0.1", 0), app)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = "http://127.0.0.1:%d" % server.server_address[1]
    yield url, config, log
    server.shutdown()
    server.server_close()


def call(url, body=None, content_type="application/json", method=None):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"),
                                 headers={"Content-Type": content_type})
    try:
        with OPENER.open(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def records(config):
    with open(config.messages_file) as fh:
        return [json.loads(line) for line in fh]


def test_send_message_is_accepted_and_recorded_without_the_token(standin):
    url, config, log = standin
    status, body = call(f"{url}/bot{TOKEN}/sendMessage", {"chat_id": -100, "text": "P0: service restored"})
    assert status == 200 and body["ok"] is True
    assert body["result"]["chat"] == {"id": -100} and body["result"]["message_id"] == 1
    form = urllib.parse.urlencode({"chat_id": "ops", "text": "two"}).encode()
    status, body = call(f"{url}/bot{TOKEN}/sendMessage", form, "application/x-www-form-urlencoded")
    assert status == 200 and body["result"]["message_id"] == 2
    assert [(r["chat_id"], r["text"]) for r in records(config)] == [(-100, "P0: service restored"), ("ops", "two")]
    with open(config.messages_file) as fh:
        assert TOKEN not in fh.read()
    assert TOKEN not in log.getvalue() and "/bot<token>/sendMessage" in log.getvalue()


def test_a_wrong_token_is_401_and_records_nothing(standin, tmp_path):
    url, config, log = standin
    assert call(f"{url}/bot123:nope/sendMessage", {"chat_id": 1, "text": "x"}) == (
        401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert call(f"{url}/bot123:nope/getMe")[0] == 401
    assert not (tmp_path / "state" / telegram_api.MESSAGES).exists()
    assert "123:nope" not in log.getvalue()


def test_get_me_names_the_bot(standin):
    url, _, _ = standin
    status, body = call(f"{url}/bot{TOKEN}/getMe")
    assert status == 200 and body["result"]["is_bot"] is True and body["result"]["username"]


@pytest.mark.parametrize("payload, said", [({"text": "x"}, "chat_id is empty"),
                                           ({"chat_id": 1, "text": "  "}, "message text is empty"),
                                           ({"chat_id": 1, "text": "x" * 4097}, "message is too long")])
def test_a_bad_message_is_400_with_the_bot_apis_description(standin, payload, said):
    url, config, _ = standin
    status, body = call(f"{url}/bot{TOKEN}/sendMessage", payload)
    assert status == 400 and body["ok"] is False and said in body["description"]


def test_health_needs_no_token_and_counts_messages(standin):
    url, _, _ = standin
    call(f"{url}/bot{TOKEN}/sendMessage", {"chat_id": 1, "text": "x"})
    assert call(f"{url}/health") == (200, {"status": "ok", "messages": 1})


def test_the_token_file_is_required_and_never_in_the_config_repr(tmp_path):
    env = {"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0", "MCPOPS_SERVICE_STATE_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN_FILE"):
        telegram_api.load_config(env)
    (tmp_path / "t").write_text(TOKEN)
    config = telegram_api.load_config(dict(env, TELEGRAM_BOT_TOKEN_FILE=str(tmp_path / "t")))
    assert config.token == TOKEN and TOKEN not in repr(config)
