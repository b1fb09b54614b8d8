"""loyalty-api's worker, outbox counters, migrations' bookkeeping and stand-ins, without a database: the plain
functions (what an answer makes of an event, the `result` label, Prisma's view of a history), the configuration, and
the stand-ins through their App's dispatch (routes, token check, faults.json)."""

import hashlib
import hmac
import io
import json

import pytest

from mcpops.lab.services import loyalty_api, loyalty_migrations, loyalty_outbox, loyalty_standins, loyalty_worker
from mcpops.lab.services.config import ConfigError
from mcpops.lab.services.faults import write_faults
from mcpops.lab.services.http_app import Request

CANARY = "canary-7f3a9c"


@pytest.mark.parametrize("status, result", [(200, "ok"), (204, "ok"), (429, "rate_limited"), (500, "http_error"),
                                            (401, "http_error"), (None, "error")])
def test_result_label_of_an_answer(status, result):
    assert loyalty_outbox.result_of(status) == result


@pytest.mark.parametrize("attempts, status, state", [(1, 200, "sent"), (3, 200, "sent"), (1, 429, "pending"),
                                                     (2, 500, "pending"), (3, 500, "dead"), (3, None, "dead")])
def test_next_state_of_an_event(attempts, status, state):
    assert loyalty_worker.next_state(attempts, status, max_attempts=3) == state


def test_webhook_signature_is_the_hmac_of_the_body():
    body = b'{"id": 1}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert loyalty_worker.signature("s3cret", body) == "sha256=" + expected


def worker_env(tmp_path):
    return {"DATABASE_URL": "postgresql://loyalty:%s@127.0.0.1:5432/loyalty" % CANARY,
            "MERCHANT_WEBHOOK_URL": "http://127.0.0.1:9/webhooks/loyalty"}


def test_worker_config_defaults_and_flags(tmp_path):
    env = worker_env(tmp_path)
    config = loyalty_worker.load_config(env)
    assert (config.enabled, config.max_attempts, config.retry_seconds, config.telegram_url) == (
        True, 5, 5, "https://api.telegram.org")
    token_file = tmp_path / "bot_token"
    token_file.write_text(CANARY + "-bot\n")
    env.update(WORKERS_ENABLED="0", OUTBOX_MAX_ATTEMPTS="3", TELEGRAM_NOTIFY_BOT_TOKEN_FILE=str(token_file))
    config = loyalty_worker.load_config(env)
    assert (config.enabled, config.max_attempts, config.telegram_token) == (False, 3, CANARY + "-bot")
    assert CANARY not in repr(config)


@pytest.mark.parametrize("var, value, words", [("MERCHANT_WEBHOOK_URL", "ftp://x/y", "MERCHANT_WEBHOOK_URL must be"),
                                               ("WORKERS_ENABLED", "maybe", "WORKERS_ENABLED must be 1 or 0"),
                                               ("OUTBOX_MAX_ATTEMPTS", "0", "OUTBOX_MAX_ATTEMPTS must be at least 1")])
def test_worker_bad_config_names_the_variable(tmp_path, var, value, words):
    env = dict(worker_env(tmp_path), **{var: value})
    with pytest.raises(ConfigError, match=words) as info:
        loyalty_worker.load_config(env)
    assert CANARY not in str(info.value)


def test_worker_never_logs_the_bot_token_or_the_database_password(tmp_path):
    env = dict(worker_env(tmp_path), TELEGRAM_NOTIFY_BOT_TOKEN=CANARY + "-bot", TELEGRAM_NOTIFY_CHAT_ID="1")
    worker = loyalty_worker.Worker(loyalty_worker.load_config(env))
    worker.log.stream = io.StringIO()
    worker.say("error", "sendMessage to https://api.telegram.org/bot%s-bot failed; db password %s" % (CANARY, CANARY))
    line = worker.log.stream.getvalue()
    assert CANARY not in line and "bot***" in line


def history(*rows):
    return [{"name": n, "finished": f, "rolled_back": r, "logs": ""} for n, f, r in rows]


def test_prisma_view_of_the_history():
    names = ["a", "b", "c", "d"]
    report = loyalty_migrations.classify(names, history(("a", True, False), ("b", False, False), ("c", True, True),
                                                        ("z", True, False)))
    assert report == {"applied": ["a"], "pending": ["c", "d"], "failed": ["b"], "rolled_back": ["c"],
                      "unknown": ["z"]}


def test_a_rolled_back_migration_applied_again_is_applied():
    report = loyalty_migrations.classify(["a"], history(("a", False, True), ("a", True, False)))
    assert (report["applied"], report["pending"], report["rolled_back"], report["failed"]) == (["a"], [], [], [])


def test_migrations_are_ordered_by_name_and_checksummed():
    names = [name for name, _ in loyalty_migrations.MIGRATIONS]
    assert names == sorted(names) and len(set(names)) == len(names)
    sql = loyalty_migrations.MIGRATIONS[0][1]
    assert loyalty_migrations.checksum(sql) == hashlib.sha256(sql.encode()).hexdigest()


def test_loyalty_config_migrate_on_start_and_version(tmp_path):
    token = tmp_path / "metrics_token"
    token.write_text("t0ken\n")
    env = {"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0", "MCPOPS_SERVICE_STATE_DIR": str(tmp_path / "state"),
           "DATABASE_URL": "postgresql://l:p@127.0.0.1:5432/loyalty", "REDIS_URL": "redis://127.0.0.1:6379/0",
           "METRICS_TOKEN_FILE": str(token)}
    config = loyalty_api.load_config(env)
    assert (config.migrate_on_start, config.version) == (True, loyalty_api.VERSION)
    config = loyalty_api.load_config(dict(env, MIGRATE_ON_START="0", APP_VERSION="1.4.0"))
    assert (config.migrate_on_start, config.version) == (False, "1.4.0")
    assert loyalty_api.Loyalty(config).version == "1.4.0"


def dispatch(app, method, path, body=None):
    req = Request(method, path, {}, json.dumps(body).encode() if body is not None else b"")
    resp = app.dispatch(req)
    return resp.status, resp.body


def test_telegram_standin_wants_its_token(tmp_path):
    app = loyalty_standins.TelegramBotApi(loyalty_standins.StandinConfig("127.0.0.1", 0, str(tmp_path), "123:abc"))
    status, body = dispatch(app, "POST", "/botwrong/sendMessage", {"chat_id": 1, "text": "hi"})
    assert (status, body["error_code"], body["description"]) == (401, 401, "Unauthorized")
    status, body = dispatch(app, "POST", "/bot123:abc/sendMessage", {"chat_id": 1, "text": "hi"})
    assert (status, body["ok"]) == (200, True)
    assert dispatch(app, "POST", "/bot123:abc/sendMessage", {"chat_id": 1})[0] == 400
    assert dispatch(app, "GET", "/_lab/messages") == (200, {"messages": [{"chat_id": "1", "text": "hi"}]})


def test_merchant_standin_answers_what_faults_json_says(tmp_path):
    app = loyalty_standins.MerchantWebhook(loyalty_standins.StandinConfig("127.0.0.1", 0, str(tmp_path)))
    assert dispatch(app, "POST", "/webhooks/loyalty", {"id": 1}) == (200, {"received": True})
    write_faults(str(tmp_path), answer_status=429)
    req = Request("POST", "/webhooks/loyalty", {}, b'{"id": 2}')
    resp = app.dispatch(req)
    assert (resp.status, resp.headers.get("Retry-After")) == (429, 1)
    write_faults(str(tmp_path), answer_status=500)
    assert dispatch(app, "POST", "/webhooks/loyalty", {"id": 3})[0] == 500
    assert dispatch(app, "GET", "/_lab/received") == (200, {"events": [{"id": 1}], "refused": 2})
