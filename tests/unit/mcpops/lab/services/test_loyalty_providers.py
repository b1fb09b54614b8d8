"""loyalty_providers, the operator's check of the worker's providers, against the two stand-ins served for real on
loopback (http_app.Server in a thread): getMe knows the right token and refuses a wrong one (also one read from
stdin), a test notification arrives, the merchant probe says what the merchant answers; no token in the output."""

import io
import json
import threading

import pytest

from mcpops.lab.services import loyalty_providers, loyalty_standins
from mcpops.lab.services.faults import write_faults
from mcpops.lab.services.http_app import Server

TOKEN = "123:canary-4d1e"


@pytest.fixture
def standins(tmp_path):
    """{"telegram": (url, app), "merchant": (url, app)} served on 127.0.0.1, shut down after."""
    apps = {"telegram": loyalty_standins.TelegramBotApi(loyalty_standins.StandinConfig(
                "127.0.0.1", 0, str(tmp_path / "telegram"), TOKEN)),
            "merchant": loyalty_standins.MerchantWebhook(loyalty_standins.StandinConfig(
                "127.0.0.1", 0, str(tmp_path / "merchant")))}
    servers, out = [], {}
    for name, app in apps.items():
        (tmp_path / name).mkdir()
        server = Server(("127.0.0.1", 0), app)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        out[name] = ("http://127.0.0.1:%d" % server.server_address[1], app)
    yield out
    for server in servers:
        server.shutdown()
        server.server_close()


def environ(standins, token=TOKEN):
    return {"DATABASE_URL": "postgresql://loyalty:pw@127.0.0.1:5432/loyalty",
            "MERCHANT_WEBHOOK_URL": standins["merchant"][0] + "/webhooks/loyalty",
            "TELEGRAM_API_URL": standins["telegram"][0], "TELEGRAM_NOTIFY_BOT_TOKEN": token,
            "TELEGRAM_NOTIFY_CHAT_ID": "42"}


def run(capsys, argv, env, stdin=None):
    code = loyalty_providers.main(argv, env, stdin=stdin)
    out = capsys.readouterr().out
    assert TOKEN not in out and "wrong-9" not in out
    return code, json.loads(out)


def test_telegram_check_knows_the_right_token_and_refuses_a_wrong_one(standins, capsys):
    assert run(capsys, ["telegram-check"], environ(standins)) == (0, {
        "provider": "telegram", "ok": True, "status": 200, "result": "ok", "description": "accepted"})
    code, result = run(capsys, ["telegram-check"], environ(standins, "wrong-9"))
    assert (code, result["status"], result["result"]) == (1, 401, "http_error")
    assert "does not know this token" in result["description"]
    # a candidate token on stdin is checked instead of the configured (wrong) one
    code, result = run(capsys, ["telegram-check", "--token-stdin"], environ(standins, "wrong-9"), io.StringIO(TOKEN + "\n"))
    assert (code, result["ok"]) == (0, True)


def test_telegram_send_delivers_a_test_notification(standins, capsys):
    code, result = run(capsys, ["telegram-send", "--text", "drill 7"], environ(standins))
    assert (code, result["ok"]) == (0, True)
    assert standins["telegram"][1].messages == [{"chat_id": "42", "text": "drill 7"}]
    code, result = run(capsys, ["telegram-send"], environ(standins, "wrong-9"))
    assert (code, result["status"]) == (1, 401)


def test_merchant_probe_says_what_the_merchant_answers(standins, capsys, tmp_path):
    assert run(capsys, ["merchant-probe"], environ(standins))[0] == 0
    assert standins["merchant"][1].events[-1]["type"] == "loyalty.ping"
    write_faults(str(tmp_path / "merchant"), answer_status=429)
    code, result = run(capsys, ["merchant-probe"], environ(standins))
    assert (code, result["status"], result["result"]) == (1, 429, "rate_limited")


def test_bad_configuration_is_exit_2(capsys):
    assert loyalty_providers.main(["merchant-probe"], {"DATABASE_URL": "postgresql://h/db"}) == 2
    assert "MERCHANT_WEBHOOK_URL" in capsys.readouterr().err
