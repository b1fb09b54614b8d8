# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP steps of the diagnostics: the health endpoint and /metrics with the API key as a header (the seed's
`curl -I -H "X-API-Key: $API_KEY"`); the key is sent, never recorded."""

from __future__ import annotations

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
