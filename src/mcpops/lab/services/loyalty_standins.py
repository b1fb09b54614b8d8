"""What stands in, in the lab, for the two outside services loyalty-api's worker talks to: the Telegram Bot API and a
merchant's webhook receiver. Ours, small, on loopback; not the real providers (the docs say so).

    python3 -m mcpops.lab.services.loyalty_standins telegram|merchant

- telegram: POST /bot<token>/sendMessage {"chat_id", "text"} -> 200 {"ok": true, "result": {...}} when <token> is the
  one in TELEGRAM_STANDIN_TOKEN_FILE, else 401 {"ok": false, "error_code": 401, "description": "Unauthorized"} (the
  Bot API's own answer). GET|POST /bot<token>/getMe -> 200 {"ok": true, "result": {"id", "is_bot": true, "username"}}
  or the same 401: the Bot API's own token check. GET /_lab/messages -> {"messages": [{"chat_id", "text"}, ...]} (what was accepted).
- merchant: POST /webhooks/loyalty (a JSON event) -> 200 {"received": true}, or the status faults.json's
  `answer_status` names (429 with Retry-After, 500, ...); GET /_lab/received -> {"events": [...], "refused": N}.

Common environment: MCPOPS_SERVICE_LISTEN and MCPOPS_SERVICE_STATE_DIR (faults.json, as every reference service).
"""

import hmac
import sys
import threading
from dataclasses import dataclass

from .config import common, read_secret_file
from .http_app import App, Response, run_service

MAX_KEPT = 1000


@dataclass(frozen=True)
class StandinConfig:
    host: str
    port: int
    state_dir: str
    token: str = ""

    def __repr__(self):
        return "StandinConfig(listen=%s:%d)" % (self.host, self.port)


class TelegramBotApi(App):
    name = "telegram-bot-api-standin"

    def __init__(self, config):
        super().__init__(config.state_dir, secrets=[config.token])
        self.token = config.token
        self.messages = []
        self._lock = threading.Lock()
        self.add("/bot<token>/sendMessage", self.send_message, ("POST",))
        self.add("/bot<token>/getMe", self.get_me, ("GET", "POST"))
        self.add("/_lab/messages", self.list_messages, ("GET",))

    def _unauthorized(self, req):
        """The Bot API's 401 for a token it does not know, or None."""
        if hmac.compare_digest(req.params["token"].encode("utf-8"), self.token.encode("utf-8")):
            return None
        return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}

    def get_me(self, req):
        return self._unauthorized(req) or (200, {"ok": True, "result": {"id": 1, "is_bot": True,
                                                                         "username": "mcpops_lab_bot"}})

    def send_message(self, req):
        refused = self._unauthorized(req)
        if refused:
            return refused
        body = req.json()
        if not body.get("chat_id") or not isinstance(body.get("text"), str) or not body["text"]:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat_id and text are required"}
        with self._lock:
            self.messages.append({"chat_id": str(body["chat_id"]), "text": body["text"]})
            del self.messages[:-MAX_KEPT]
            message_id = len(self.messages)
        return 200, {"ok": True, "result": {"message_id": message_id, "chat": {"id": body["chat_id"]},
                                            "text": body["text"]}}

    def list_messages(self, req):
        with self._lock:
            return 200, {"messages": list(self.messages)}

    def log_request(self, req, resp, duration_ms):  # the token is in the path: log the route, never the path
        self.log.write({"level": "info", "msg": "%s %s %d" % (req.method, req.route, resp.status)})


class MerchantWebhook(App):
    name = "merchant-webhook-standin"

    def __init__(self, config):
        super().__init__(config.state_dir)
        self.events = []
        self.refused = 0
        self._lock = threading.Lock()
        self.add("/webhooks/loyalty", self.receive, ("POST",))
        self.add("/_lab/received", self.received, ("GET",))

    def receive(self, req):
        status = req.faults.extra.get("answer_status")
        if isinstance(status, int) and not isinstance(status, bool) and status >= 300:
            with self._lock:
                self.refused += 1
            headers = {"Retry-After": 1} if status == 429 else {}
            return Response(status, {"error": "merchant answered %d" % status}, headers)
        event = req.json()
        with self._lock:
            self.events.append(event)
            del self.events[:-MAX_KEPT]
        return 200, {"received": True}

    def received(self, req):
        with self._lock:
            return 200, {"events": list(self.events), "refused": self.refused}


def load_telegram(environ):
    base = common(environ)
    return StandinConfig(base.host, base.port, base.state_dir, read_secret_file(environ, "TELEGRAM_STANDIN_TOKEN_FILE"))


def load_merchant(environ):
    base = common(environ)
    return StandinConfig(base.host, base.port, base.state_dir)


STANDINS = {"telegram": (TelegramBotApi, load_telegram), "merchant": (MerchantWebhook, load_merchant)}


def main(argv=None, environ=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in STANDINS:
        sys.stderr.write("usage: python3 -m mcpops.lab.services.loyalty_standins telegram|merchant\n")
        return 2
    cls, load = STANDINS[argv[0]]
    return run_service(cls.name, load, cls, environ)


if __name__ == "__main__":
    sys.exit(main())
