"""cctelegram-mcp's side of the Telegram Bot API: `sendMessage` on the lab's Bot API stand-in.

    POST <api_url>/bot<token>/sendMessage {"chat_id", "text"} -> 200 {"ok": true, "result": {"message_id", ...}}

The token is part of the URL path, as the real Bot API wants it, so no error text built here ever holds the URL: a
failure says what happened ("HTTP 401", "unreachable: ...") and the caller redacts its secrets on top. Plain
http.client: no proxy is ever consulted (the stand-in is on loopback), and the timeout is short, because the
caller is answering an HTTP request of its own meanwhile.
"""

import http.client
import ipaddress
import json
from urllib.parse import urlsplit

from .config import ConfigError, check_url
from .http_app import error_text

URL_VAR = "CCTELEGRAM_TELEGRAM_API_URL"
TIMEOUT = 3.0
MAX_ANSWER = 64 * 1024


class TelegramError(Exception):
    """sendMessage failed; str() is one line without the token or the URL."""


def check_api_url(environ):
    """CCTELEGRAM_TELEGRAM_API_URL without a trailing slash: http(s), no credentials, on loopback (the lab never
    calls api.telegram.org); ConfigError naming the variable, never echoing the URL."""
    url = check_url(environ, URL_VAR, ("http", "https")).rstrip("/")
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ConfigError("%s must not carry credentials" % URL_VAR)
    if parts.query or parts.fragment:
        raise ConfigError("%s must be a base URL without a query" % URL_VAR)
    if not is_loopback(parts.hostname):
        raise ConfigError("%s must name a loopback host (the lab's Bot API stand-in), not %s"
                          % (URL_VAR, parts.hostname))
    return url


def is_loopback(hostname):
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def send_message(api_url, token, chat_id, text, timeout=TIMEOUT):
    """The message_id the Bot API gave the message; TelegramError (no token in it) when it was not accepted."""
    parts = urlsplit(api_url)
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(parts.hostname, parts.port, timeout=timeout)
    body = json.dumps({"chat_id": chat_id, "text": text}, ensure_ascii=False).encode("utf-8")
    path = "%s/bot%s/sendMessage" % (parts.path.rstrip("/"), token)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json",
                                                       "Accept": "application/json"})
        resp = conn.getresponse()
        raw = resp.read(MAX_ANSWER)
    except (OSError, http.client.HTTPException) as exc:
        what = "timed out after %gs" % timeout if isinstance(exc, TimeoutError) else error_text(exc, (token,))
        raise TelegramError("unreachable: %s" % what) from None
    finally:
        conn.close()
    try:
        answer = json.loads(raw.decode("utf-8")) if raw else None
    except (ValueError, UnicodeDecodeError):
        answer = None
    if resp.status != 200 or not isinstance(answer, dict) or answer.get("ok") is not True:
        described = answer.get("description") if isinstance(answer, dict) else None
        detail = " (%s)" % str(described).replace(token, "***")[:200] if described else ""
        raise TelegramError("HTTP %d%s" % (resp.status, detail))
    result = answer.get("result") if isinstance(answer.get("result"), dict) else {}
    return result.get("message_id")
