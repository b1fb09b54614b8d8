# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP steps of the diagnostics: the health endpoint and /metrics with the API key as a header (the seed's
`curl -I -H "X-API-Key: $API_KEY"`), and the Bot API's getMe with the bot token read from its file; the key and the
token are sent, never recorded."""

from __future__ import annotations

import json
import re
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import NoAnswer
from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.command import bounded, step

# What the step's exit code is, as curl -f says it: 0 a 2xx or 3xx answer, 22 another status, 7 no answer.
RC_OK, RC_HTTP_ERROR, RC_NO_ANSWER = 0, 22, 7
# The seed's `grep -E "(http_requests_total|http_request_duration|process_cpu_usage|process_memory)"`.
SEED_METRICS = r"(http_requests_total|http_request_duration|process_cpu_usage|process_memory)"


def shown_command(url, header):
    """The step as a shell line, the key's value left out."""
    return "curl -sS -H '%s: <hidden>' %s" % (header, url) if header else "curl -sS %s" % url


def get(transport, url, header, key):
    """(answer or None, error text, seconds) of GET url with header: key (no header when either is empty)."""
    headers = {header: key} if header and key else {}
    started = time.monotonic()
    try:
        return transport.exchange("GET", url, None, headers), "", time.monotonic() - started
    except NoAnswer as exc:
        return None, str(exc), time.monotonic() - started


def rc_of(answer):
    if answer is None:
        return RC_NO_ANSWER
    return RC_OK if answer.status < 400 else RC_HTTP_ERROR


def probe(transport, url, header, key, max_bytes):
    """The status line, the headers and the body (bounded) of GET url: the seed's health check."""
    answer, error, seconds = get(transport, url, header, key)
    if answer is None:
        return step(shown_command(url, header), RC_NO_ANSWER, "no answer: %s\n" % error, seconds)
    head = "HTTP %s %s\n" % (answer.status, answer.reason or "")
    head += "".join("%s: %s\n" % (k, v) for k, v in answer.headers.items())
    text, truncated = bounded(answer.body or b"", max_bytes)
    return step(shown_command(url, header), rc_of(answer), head + "\n" + text + "\n", seconds, truncated)


def metric_lines(body, pattern):
    """The lines of a Prometheus text body that match pattern (a regular expression, searched)."""
    wanted = re.compile(pattern)
    return [line for line in body.splitlines() if wanted.search(line)]


def metrics(transport, url, header, key, pattern, max_bytes):
    """The /metrics lines the seed greps, with how many of how many lines matched."""
    answer, error, seconds = get(transport, url, header, key)
    command = shown_command(url, header) + " | grep -E '%s'" % pattern
    if answer is None:
        return step(command, RC_NO_ANSWER, "no answer: %s\n" % error, seconds)
    if answer.status >= 400:
        return step(command, RC_HTTP_ERROR, "HTTP %s %s\n" % (answer.status, answer.reason or ""), seconds)
    body = (answer.body or b"").decode("utf-8", "replace")
    lines = metric_lines(body, pattern)
    text, truncated = bounded(("\n".join(lines) + "\n").encode("utf-8") if lines else b"", max_bytes)
    note = "[%d of %d lines match]\n" % (len(lines), len(body.splitlines()))
    return step(command, RC_OK, text + note, seconds, truncated)


# A Bot API token as BotFather gives it (<bot id>:<secret>): nothing that could change the URL's path or query.
_BOT_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}\Z")


def read_bot_token(path):
    """(token, None) from the file, or (None, why not): the file is read here, so the token is in no argv,
    parameter or environment of the run."""
    try:
        with open(path, "rb") as handle:
            token = handle.read(4096).decode("utf-8", "replace").strip()
    except FileNotFoundError:
        return None, "%s: not there\n" % path
    except OSError as exc:
        return None, "%s: %s\n" % (path, exc.strerror or exc)
    if not _BOT_TOKEN.match(token):
        return None, "%s does not hold a bot token (<bot id>:<secret>); nothing was sent\n" % path
    return token, None


def get_me(transport, api_url, token_file, max_bytes):
    """The seed's `curl -I https://api.telegram.org/bot$TELEGRAM_BOT_TOKEN/getMe`, against api_url (the configured
    Bot API base), with the token read from token_file: whether the API takes the token, and the bot's username.
    The token never appears in the step (its command shows <hidden>; any text that echoes it is masked)."""
    base = api_url.rstrip("/")
    command = "curl -sS %s/bot<hidden>/getMe (token from %s)" % (base, token_file)
    token, why_not = read_bot_token(token_file)
    if token is None:
        return step(command, 1, why_not, 0.0)
    answer, error, seconds = get(transport, "%s/bot%s/getMe" % (base, token), None, None)
    if answer is None:
        return step(command, RC_NO_ANSWER, "no answer: %s\n" % error.replace(token, "<hidden>"), seconds)
    try:
        body = json.loads((answer.body or b"").decode("utf-8", "replace"))
    except ValueError:
        body = None
    head = "HTTP %s %s\n" % (answer.status, answer.reason or "")
    if answer.status == 200 and isinstance(body, dict) and body.get("ok") is True and isinstance(body.get("result"), dict):
        bot = body["result"]
        said = "ok: the token is accepted, bot @%s (id %s, is_bot %s)\n" % (bot.get("username"), bot.get("id"),
                                                                            str(bot.get("is_bot")).lower())
        return step(command, RC_OK, head + said, seconds)
    description = body.get("description") if isinstance(body, dict) else None
    text, truncated = bounded(answer.body or b"", max_bytes) if description is None else (description + "\n", False)
    rc = RC_HTTP_ERROR if answer.status >= 400 else 1  # a 2xx without ok: true is no answer to rely on either
    return step(command, rc, (head + "not ok: " + text).replace(token, "<hidden>"), seconds, truncated)
