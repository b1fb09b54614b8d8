"""The worker's two external providers, checked by an operator with the worker's own configuration (the seed's
"проверьте TELEGRAM_NOTIFY_BOT_TOKEN" and "проверьте коды ответов вебхуков"): run where the worker runs, it reaches
them as the worker does.

    python3 -m mcpops.lab.services.loyalty_providers telegram-check [--token-stdin]
    python3 -m mcpops.lab.services.loyalty_providers telegram-send --text TEXT
    python3 -m mcpops.lab.services.loyalty_providers merchant-probe

- telegram-check: the Bot API's getMe with TELEGRAM_NOTIFY_BOT_TOKEN (or, with --token-stdin, the token read from
  standard input: a candidate checked before it is written anywhere); changes nothing.
- telegram-send: one sendMessage to TELEGRAM_NOTIFY_CHAT_ID (a test notification).
- merchant-probe: a `loyalty.ping` event POSTed to MERCHANT_WEBHOOK_URL, signed as deliveries are: does the merchant
  accept deliveries now. It is no outbox event and is not counted in external_requests (nothing of ours changes).

Each prints one JSON object {"provider", "ok", "status" (HTTP code or null), "result" (as external_requests_total's
label), "description"} and exits 0 when the provider accepted, 1 when it did not, 2 on bad configuration. The token
is in the Bot API's URL path: no URL, token or secret is ever printed.
"""

import argparse
import json
import sys
import time

from .config import ConfigError
from .loyalty_outbox import result_of
from .loyalty_worker import MERCHANT, TELEGRAM, load_config, post_json, signature

PING = "loyalty.ping"


def answer(provider, status, error, description=""):
    """The printed verdict of one call."""
    ok = status is not None and 200 <= status < 300
    return {"provider": provider, "ok": ok, "status": status, "result": result_of(status),
            "description": description or ("accepted" if ok else error or "HTTP %s" % status)}


def telegram_check(config, token=None):
    """getMe with the configured token (or `token`): does the Bot API know it."""
    token = config.telegram_token if token is None else token
    if not token:
        return answer(TELEGRAM, None, "no token: TELEGRAM_NOTIFY_BOT_TOKEN is unset")
    status, error = post_json("%s/bot%s/getMe" % (config.telegram_url, token), {})
    return answer(TELEGRAM, status, error, "Unauthorized: the Bot API does not know this token" if status == 401 else "")


def telegram_send(config, text):
    """One sendMessage to the configured chat (a test notification)."""
    if not (config.telegram_token and config.telegram_chat):
        return answer(TELEGRAM, None, "notifications off: TELEGRAM_NOTIFY_BOT_TOKEN or TELEGRAM_NOTIFY_CHAT_ID unset")
    status, error = post_json("%s/bot%s/sendMessage" % (config.telegram_url, config.telegram_token),
                              {"chat_id": config.telegram_chat, "text": text})
    return answer(TELEGRAM, status, error)


def merchant_probe(config):
    """A signed loyalty.ping to the merchant webhook: does it accept a delivery now."""
    body = {"id": "probe-%d" % int(time.time()), "type": PING, "data": {}}
    headers = {"X-Loyalty-Event": PING}
    if config.webhook_secret:
        headers["X-Loyalty-Signature"] = signature(config.webhook_secret, json.dumps(body).encode("utf-8"))
    status, error = post_json(config.webhook_url, body, headers)
    return answer(MERCHANT, status, error)


def main(argv=None, environ=None, stdin=None):
    import os

    parser = argparse.ArgumentParser(prog="python3 -m mcpops.lab.services.loyalty_providers",
                                     description="check the worker's external providers (Telegram, merchant webhook)")
    parser.add_argument("command", choices=("telegram-check", "telegram-send", "merchant-probe"))
    parser.add_argument("--token-stdin", action="store_true", help="telegram-check: the token to check on stdin")
    parser.add_argument("--text", default="mcpops: test notification")
    args = parser.parse_args(argv)
    try:
        config = load_config(os.environ if environ is None else environ)
    except ConfigError as exc:
        sys.stderr.write("loyalty_providers: %s\n" % exc)
        return 2
    if args.command == "telegram-check":
        token = (stdin or sys.stdin).read().strip() if args.token_stdin else None
        result = telegram_check(config, token)
    elif args.command == "telegram-send":
        result = telegram_send(config, args.text)
    else:
        result = merchant_probe(config)
    print(json.dumps(result, sort_keys=True))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
