"""loyalty-api's worker (seed 003's `worker` compose service): delivers the outbox to the merchant webhook and sends a
Telegram notification for each event delivered; pausable (loyalty_outbox.set_paused), off with WORKERS_ENABLED=0.

    python3 -m mcpops.lab.services.loyalty_worker

Environment:
- DATABASE_URL (required), MERCHANT_WEBHOOK_URL (required: where events are POSTed as JSON).
- MERCHANT_WEBHOOK_SECRET (optional): signs each body, header X-Loyalty-Signature: sha256=<hex HMAC>.
- TELEGRAM_API_URL (default https://api.telegram.org), TELEGRAM_NOTIFY_BOT_TOKEN (or TELEGRAM_NOTIFY_BOT_TOKEN_FILE)
  and TELEGRAM_NOTIFY_CHAT_ID: without a token or a chat, no notification is sent (said once in the log).
- WORKERS_ENABLED (default 1): 0 keeps the process up doing nothing (the outbox grows), as the seed's flag does.
- OUTBOX_POLL_SECONDS (default 1), OUTBOX_BATCH (default 20), OUTBOX_MAX_ATTEMPTS (default 5: then the event is
  dead), OUTBOX_RETRY_SECONDS (default 5: the wait after a failed attempt, times the attempts made).

Each delivery and notification counts in external_requests (provider merchant_webhook / telegram, result ok /
rate_limited / http_error / error, status the HTTP code or "none"). Logs are pino JSON lines on stdout; the bot
token, the webhook secret and the database password never appear in them (the token is in the Bot API's URL path,
so no URL is ever logged).
"""

import hashlib
import hmac
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from . import VERSION
from .config import ConfigError, check_url, parse_flag, parse_int, read_secret_file, url_password
from .datastores import POSTGRES_SCHEMES, pg_connect
from .http_app import JsonLines, error_text
from .loyalty_outbox import count_request, is_paused

NAME = "loyalty-worker"
MERCHANT = "merchant_webhook"
TELEGRAM = "telegram"
HTTP_TIMEOUT = 5.0
# Loopback stand-ins and real providers alike: an operator's HTTP(S)_PROXY is not the worker's.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class WorkerConfig:
    database_url: str
    webhook_url: str
    webhook_secret: str
    telegram_url: str
    telegram_token: str
    telegram_chat: str
    enabled: bool
    poll_seconds: int
    batch: int
    max_attempts: int
    retry_seconds: int

    def __repr__(self):  # never a URL, a token or a secret
        return "WorkerConfig(enabled=%s, max_attempts=%d)" % (self.enabled, self.max_attempts)


def load_config(environ):
    token = (environ.get("TELEGRAM_NOTIFY_BOT_TOKEN") or "").strip()
    if not token and (environ.get("TELEGRAM_NOTIFY_BOT_TOKEN_FILE") or "").strip():
        token = read_secret_file(environ, "TELEGRAM_NOTIFY_BOT_TOKEN_FILE")
    return WorkerConfig(
        database_url=check_url(environ, "DATABASE_URL", POSTGRES_SCHEMES, need_path=True),
        webhook_url=check_url(environ, "MERCHANT_WEBHOOK_URL", ("http", "https")),
        webhook_secret=(environ.get("MERCHANT_WEBHOOK_SECRET") or "").strip(),
        telegram_url=(environ.get("TELEGRAM_API_URL") or "https://api.telegram.org").strip().rstrip("/"),
        telegram_token=token, telegram_chat=(environ.get("TELEGRAM_NOTIFY_CHAT_ID") or "").strip(),
        enabled=parse_flag(environ, "WORKERS_ENABLED", default=True),
        poll_seconds=parse_int(environ, "OUTBOX_POLL_SECONDS", 1, minimum=1),
        batch=parse_int(environ, "OUTBOX_BATCH", 20, minimum=1),
        max_attempts=parse_int(environ, "OUTBOX_MAX_ATTEMPTS", 5, minimum=1),
        retry_seconds=parse_int(environ, "OUTBOX_RETRY_SECONDS", 5, minimum=0))


def post_json(url, body, headers=None, timeout=HTTP_TIMEOUT):
    """(status, error text): the HTTP status (None when nothing answered) and a short reason when not 2xx."""
    data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            resp.read()
            return resp.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, "HTTP %d" % exc.code
    except (urllib.error.URLError, OSError) as exc:
        return None, "%s" % getattr(exc, "reason", exc).__class__.__name__


def signature(secret, data):
    return "sha256=" + hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()


def next_state(attempts, status, max_attempts):
    """What an attempt's answer makes of an event: 'sent', 'pending' (retry later) or 'dead'."""
    if status is not None and 200 <= status < 300:
        return "sent"
    return "dead" if attempts >= max_attempts else "pending"


class Worker:
    def __init__(self, config, log=None):
        self.config = config
        self.secrets = [s for s in (config.telegram_token, config.webhook_secret, url_password(config.database_url),
                                    config.database_url) if s]
        self.log = log or JsonLines(stream=sys.stdout, secrets=self.secrets)
        self.hostname = socket.gethostname()
        self.stop = threading.Event()
        self._said = set()

    def say(self, level, msg, once=None, **fields):
        if once:
            if once in self._said:
                return
            self._said.add(once)
        record = {"level": level, "time": int(time.time() * 1000), "pid": os.getpid(), "hostname": self.hostname,
                  "name": NAME, "msg": msg}
        record.update(fields)
        self.log.write(record)

    def deliver(self, event):
        """POST one event to the merchant webhook: (status, error)."""
        body = {"id": event["id"], "type": event["event_type"], "data": event["payload"]}
        headers = {"X-Loyalty-Event": event["event_type"]}
        if self.config.webhook_secret:
            headers["X-Loyalty-Signature"] = signature(self.config.webhook_secret,
                                                       json.dumps(body).encode("utf-8"))
        return post_json(self.config.webhook_url, body, headers)

    def notify(self, event):
        """A Telegram sendMessage about a delivered event: (status, error), or None when notifications are off."""
        if not (self.config.telegram_token and self.config.telegram_chat):
            self.say("warn", "telegram notifications off: TELEGRAM_NOTIFY_BOT_TOKEN or TELEGRAM_NOTIFY_CHAT_ID unset",
                     once="telegram-off")
            return None
        payload = event["payload"]
        text = "%s: customer %s, %s points (balance %s)" % (event["event_type"], payload.get("customerId"),
                                                            payload.get("points"), payload.get("balance"))
        url = "%s/bot%s/sendMessage" % (self.config.telegram_url, self.config.telegram_token)
        return post_json(url, {"chat_id": self.config.telegram_chat, "text": text})

    def run_once(self, conn):
        """One pass over the due events; the number handled (0 when paused or nothing is due)."""
        if is_paused(conn):
            self.say("info", "outbox delivery paused", once="paused")
            return 0
        self._said.discard("paused")
        handled = 0
        with conn.transaction():
            due = conn.execute(
                "SELECT id, event_type, payload, attempts FROM outbox WHERE status = 'pending' "
                "AND next_attempt_at <= now() ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (self.config.batch,)).fetchall()
            for event_id, event_type, payload, attempts in due:
                event = {"id": event_id, "event_type": event_type, "payload": payload}
                status, error = self.deliver(event)
                count_request(conn, MERCHANT, status)
                attempts += 1
                state = next_state(attempts, status, self.config.max_attempts)
                conn.execute(
                    "UPDATE outbox SET status = %s, attempts = %s, last_status = %s, last_error = %s, "
                    "next_attempt_at = now() + make_interval(secs => %s), "
                    "delivered_at = CASE WHEN %s = 'sent' THEN now() ELSE delivered_at END WHERE id = %s",
                    (state, attempts, None if status is None else str(status), error or None,
                     self.config.retry_seconds * attempts, state, event_id))
                level = "info" if state == "sent" else ("error" if state == "dead" else "warn")
                self.say(level, "outbox event %s: merchant webhook %s" % (event_id, status or error),
                         outboxId=event_id, attempts=attempts, state=state, provider=MERCHANT,
                         statusCode=status)
                if state == "sent":
                    notified = self.notify(event)
                    if notified is not None:
                        tg_status, tg_error = notified
                        count_request(conn, TELEGRAM, tg_status)
                        if tg_error:
                            self.say("error", "telegram sendMessage failed: %s" % tg_error, provider=TELEGRAM,
                                     statusCode=tg_status, outboxId=event_id)
                handled += 1
        return handled

    def run(self):
        if not self.config.enabled:
            self.say("warn", "workers disabled (WORKERS_ENABLED=0): the outbox is not delivered")
            self.stop.wait()
            return 0
        self.say("info", "%s %s delivering the outbox" % (NAME, os.environ.get("APP_VERSION") or VERSION))
        while not self.stop.is_set():
            try:
                with pg_connect(self.config.database_url) as conn:
                    while not self.stop.is_set():
                        handled = self.run_once(conn)
                        self._said.discard("db")
                        if not handled:
                            self.stop.wait(self.config.poll_seconds)
            except Exception as exc:  # the database went away (or a table is missing): say it once, retry
                self.say("error", "outbox: database unavailable: %s: %s"
                         % (exc.__class__.__name__, error_text(exc, self.secrets)), once="db")
                self.stop.wait(self.config.poll_seconds)
        return 0


def main(environ=None):
    environ = os.environ if environ is None else environ
    try:
        worker = Worker(load_config(environ))
    except ConfigError as exc:
        sys.stderr.write("%s: %s\n" % (NAME, exc))
        return 2

    def on_signal(signum, _frame):
        worker.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    code = worker.run()
    worker.say("info", "%s stopped" % NAME)
    return code


if __name__ == "__main__":
    sys.exit(main())
