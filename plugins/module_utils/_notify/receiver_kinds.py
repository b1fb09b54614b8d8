# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each kind of receiver speaks: the request an update becomes (status page, chat, Telegram-style webhook), the
URL it may be shown as (the webhook's token masked), and whether an answer means the update was taken."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlsplit

KINDS = ("statuspage", "chat", "telegram")
# A Statuspage incident's statuses (what its API accepts in incident.status).
STATUSPAGE_STATUSES = ("investigating", "identified", "monitoring", "resolved")
MASK = "***"
# The fields each kind needs besides url and token, and where its target is named.
TARGET_FIELDS = {"statuspage": ("page_id", "incident_id"), "chat": ("channel",), "telegram": ("chat_id",)}
MAX_SHOWN_BODY = 200
_NUMERIC_CHAT_ID = re.compile(r"-?[0-9]{1,20}\Z")


class Outgoing:
    """One request: what is sent (url holds a webhook's token) and what may be shown (shown_url, payload)."""

    def __init__(self, method, url, shown_url, headers, payload):
        self.method = method
        self.url = url
        self.shown_url = shown_url
        self.headers = headers
        self.payload = payload

    @property
    def data(self):
        return json.dumps(self.payload).encode("utf-8")


def base_url(url):
    """The receiver's base URL without a trailing slash; ValueError when it is not http(s)://host[:port][/path] or
    carries a user, query or fragment (credentials go in token, never in a URL that gets shown)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be http(s)://host[:port][/path], got %r" % (url,))
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ValueError("url must have no user, password, query or fragment (the token goes in token)")
    return url.rstrip("/")


def check_receiver(receiver):
    """ValueError naming what a receiver lacks (its kind, url, token and target fields)."""
    kind = receiver.get("kind")
    if kind not in KINDS:
        raise ValueError("kind must be one of %s" % ", ".join(KINDS))
    base_url(receiver.get("url"))
    if not receiver.get("token"):
        raise ValueError("a %s receiver needs token" % kind)
    missing = [field for field in TARGET_FIELDS[kind] if not str(receiver.get(field) or "").strip()]
    if missing:
        raise ValueError("a %s receiver needs %s" % (kind, " and ".join(missing)))


def target_of(receiver):
    """Where on the receiver the update goes, as shown: page/incident, channel or chat id (none of them secret)."""
    return "/".join(str(receiver[field]) for field in TARGET_FIELDS[receiver["kind"]])


def _json_headers(extra=None):
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json",
               "User-Agent": "mcpops-runbooks stakeholder_notify"}
    headers.update(extra or {})
    return headers


def build_request(receiver, status, body, text):
    """The Outgoing of one update: the status page gets status and body, chat and webhook get text."""
    kind, base, token = receiver["kind"], base_url(receiver["url"]), receiver["token"]
    if kind == "statuspage":
        path = "/v1/pages/%s/incidents/%s" % (quote(str(receiver["page_id"]), safe=""),
                                              quote(str(receiver["incident_id"]), safe=""))
        return Outgoing("PATCH", base + path, base + path, _json_headers({"Authorization": "OAuth " + token}),
                        {"incident": {"status": status, "body": body}})
    if kind == "chat":
        url = base + "/api/chat.postMessage"
        return Outgoing("POST", url, url, _json_headers({"Authorization": "Bearer " + token}),
                        {"channel": str(receiver["channel"]), "text": text})
    chat_id = str(receiver["chat_id"]).strip()
    return Outgoing("POST", "%s/bot%s/sendMessage" % (base, quote(token, safe=":")),
                    "%s/bot%s/sendMessage" % (base, MASK), _json_headers(),
                    {"chat_id": int(chat_id) if _NUMERIC_CHAT_ID.match(chat_id) else chat_id, "text": text})


def secrets_of(receiver):
    """The texts that must never be shown: the token, and the token as it is written in a URL path."""
    token = receiver.get("token") or ""
    return [s for s in dict.fromkeys((token, quote(token, safe=":"))) if s]


def _shown_body(body):
    text = body.decode("utf-8", "replace").strip() if isinstance(body, bytes) else str(body or "")
    return text[:MAX_SHOWN_BODY] + ("..." if len(text) > MAX_SHOWN_BODY else "")


def answer_error(kind, answer):
    """None when the answer says the update was taken, else why not. A chat or webhook API answers 200 with
    {"ok": false, ...} when it refuses (Slack's error, Telegram's description), so its body is read too."""
    if not 200 <= answer.status < 300:
        return "HTTP %s %s: %s" % (answer.status, answer.reason or "", _shown_body(answer.body))
    if kind == "statuspage":
        return None
    try:
        doc = json.loads(answer.body.decode("utf-8")) if answer.body else None
    except (UnicodeDecodeError, ValueError):
        doc = None
    if not isinstance(doc, dict):
        return "HTTP %s but the answer is not a JSON object: %s" % (answer.status, _shown_body(answer.body))
    if doc.get("ok") is not True:
        why = doc.get("error") or doc.get("description") or _shown_body(answer.body)
        return "HTTP %s but ok is not true: %s" % (answer.status, _shown_body(str(why)))
    return None


def worth_retrying(status):
    """A 5xx or 429 may pass on a later try; any other refusal will not."""
    return status == 429 or 500 <= status < 600
