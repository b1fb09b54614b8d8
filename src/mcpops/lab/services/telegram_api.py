"""telegram-api: a stand-in for the Telegram Bot API on loopback, for seed 002's notifications (the fleet lab's
cctelegram-mcp hosts and the stakeholder notifications send to it; nothing leaves the machine).

Environment (besides MCPOPS_SERVICE_LISTEN and MCPOPS_SERVICE_STATE_DIR):
- TELEGRAM_BOT_TOKEN_FILE (required): the file holding the one bot token it accepts.
- TELEGRAM_MESSAGES_FILE (optional, default <state_dir>/messages.jsonl): where accepted messages are appended.

Endpoints, as the Bot API answers them:
- POST /bot<token>/sendMessage {"chat_id", "text", ...} (JSON or form-encoded) -> 200 {"ok": true, "result":
  {"message_id", "date", "chat": {"id"}, "text"}}; 400 {"ok": false, "error_code": 400, "description"} without
  chat_id or text; the accepted message is appended as one JSON line {"ts", "message_id", "chat_id", "text",
  "parse_mode"?} to the messages file (never the token).
- GET|POST /bot<token>/getMe -> 200 {"ok": true, "result": {"id", "is_bot": true, "username"}}.
- A wrong token -> 401 {"ok": false, "error_code": 401, "description": "Unauthorized"}.
- GET /health -> 200 {"status": "ok", "messages": <accepted so far>} (no token: the lab's readiness check).

The token is in the request path: no log line, metric label or answer carries the path, only the route.
"""

import hmac
import json
import os
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from .config import common, read_secret_file
from .http_app import App, HttpError, now_iso, run_service

NAME = "telegram-api"
MESSAGES = "messages.jsonl"
BOT_ID = 7000000001
BOT_USERNAME = "mcpops_lab_bot"
MAX_TEXT = 4096  # the Bot API's limit on a message's text


@dataclass(frozen=True)
class TelegramConfig:
    host: str
    port: int
    state_dir: str
    token: str
    messages_file: str

    def __repr__(self):  # never the token
        return "TelegramConfig(listen=%s:%d, messages_file=%s)" % (self.host, self.port, self.messages_file)


def load_config(environ):
    base = common(environ)
    token = read_secret_file(environ, "TELEGRAM_BOT_TOKEN_FILE")
    messages = environ.get("TELEGRAM_MESSAGES_FILE", "").strip() or os.path.join(base.state_dir, MESSAGES)
    return TelegramConfig(host=base.host, port=base.port, state_dir=base.state_dir, token=token,
                          messages_file=os.path.abspath(messages))


def _refusal(status, description):
    return HttpError(status, {"ok": False, "error_code": status, "description": description})


def message_fields(req):
    """{"chat_id", "text", "parse_mode"?} of a sendMessage request (JSON or form-encoded), or a 400 refusal."""
    content_type = (req.header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        form = parse_qs(req.body.decode("utf-8", "replace"))
        data = {key: values[-1] for key, values in form.items()}
    else:
        data = req.json() if req.body.strip() else {}
    chat_id, text = data.get("chat_id"), data.get("text")
    if chat_id in (None, ""):
        raise _refusal(400, "Bad Request: chat_id is empty")
    if not isinstance(text, str) or not text.strip():
        raise _refusal(400, "Bad Request: message text is empty")
    if len(text) > MAX_TEXT:
        raise _refusal(400, "Bad Request: message is too long")
    fields = {"chat_id": chat_id, "text": text}
    if data.get("parse_mode"):
        fields["parse_mode"] = str(data["parse_mode"])
    return fields


class TelegramApi(App):
    name = NAME

    def __init__(self, config):
        super().__init__(config.state_dir, secrets=[config.token])
        self.config = config
        self.sent = 0
        self._lock = threading.Lock()
        self.add("/health", self.health, ("GET",))
        self.add("/bot<token>/sendMessage", self.send_message, ("POST",))
        self.add("/bot<token>/getMe", self.get_me, ("GET", "POST"))

    def before(self, req):
        # Routing fills req.params; the token check needs them, so it is the handlers' first step (check_token).
        return None

    def check_token(self, req):
        presented = req.params.get("token") or ""
        if not hmac.compare_digest(presented.encode("utf-8"), self.config.token.encode("utf-8")):
            raise _refusal(401, "Unauthorized")

    def health(self, req):
        return 200, {"status": "ok", "messages": self.sent}

    def get_me(self, req):
        self.check_token(req)
        return 200, {"ok": True, "result": {"id": BOT_ID, "is_bot": True, "first_name": "mcpops lab",
                                            "username": BOT_USERNAME}}

    def send_message(self, req):
        self.check_token(req)
        fields = message_fields(req)
        with self._lock:
            self.sent += 1
            message_id = self.sent
            record = {"ts": now_iso(), "message_id": message_id, **fields}
            with open(self.config.messages_file, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return 200, {"ok": True, "result": {"message_id": message_id, "date": int(time.time()),
                                            "chat": {"id": fields["chat_id"]}, "text": fields["text"]}}

    def log_request(self, req, resp, duration_ms):
        # The route, never the path: the path holds the bot token.
        self.log.write({"ts": now_iso(), "level": "ERROR" if resp.status >= 500 else "INFO",
                        "message": "%s %s %d" % (req.method, req.route, resp.status), "method": req.method,
                        "route": req.route, "status": resp.status, "duration_ms": duration_ms})


def build(config):
    return TelegramApi(config)


def main(environ=None):
    return run_service(NAME, load_config, build, environ)
