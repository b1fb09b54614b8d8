# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One update delivered to one receiver: sent, and sent again (a bounded number of times, with a growing pause) when
there was no answer, a 5xx or a 429; any other answer is final."""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import NoAnswer
from ansible_collections.mcpops.runbooks.plugins.module_utils._notify.receiver_kinds import answer_error, worth_retrying

MAX_PAUSE = 30.0


def pause_before(attempt, retry_delay, answer=None):
    """Seconds to wait before try attempt+1: retry_delay doubled each try; a 429's Retry-After when it says more;
    never over MAX_PAUSE."""
    pause = retry_delay * (2 ** (attempt - 1))
    if answer is not None and answer.status == 429:
        try:
            pause = max(pause, float((answer.headers or {}).get("Retry-After") or 0))
        except (TypeError, ValueError):
            pass
    return min(pause, MAX_PAUSE)


def deliver(transport, kind, outgoing, retries, retry_delay, sleep):
    """{ok, status (the last HTTP status, None when nothing answered), error (None when ok), attempts}."""
    attempt, status, error = 0, None, None
    while True:
        attempt += 1
        answer = None
        try:
            answer = transport.exchange(outgoing.method, outgoing.url, outgoing.data, outgoing.headers)
        except NoAnswer as exc:
            status, error = None, "no answer (%s)" % exc
            retry = True
        else:
            status, error = answer.status, answer_error(kind, answer)
            retry = error is not None and worth_retrying(answer.status)
        if error is None:
            return dict(ok=True, status=status, error=None, attempts=attempt)
        if not retry or attempt > retries:
            if retry and retries:
                error = "%s, after %d tries" % (error, attempt)
            return dict(ok=False, status=status, error=error, attempts=attempt)
        sleep(pause_before(attempt, retry_delay, answer))
