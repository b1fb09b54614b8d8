# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""stakeholder_notify's work: one incident update posted to each receiver (status page, chat, Telegram-style
webhook), each receiver's outcome in the result, a failed one not stopping the others.

run(params, check_mode, transport=, sleep=, now=, warn=) returns {changed, receivers, failed_receivers,
deduped_receivers, record} or raises TaskError. No token is in anything it returns or raises: the webhook URL is
shown with its token as ***, and every text is redacted of every token (a server may echo one back)."""

from __future__ import annotations

import datetime
import os
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.secret_redaction import redact
from ansible_collections.mcpops.runbooks.plugins.module_utils._notify import sent_record
from ansible_collections.mcpops.runbooks.plugins.module_utils._notify.delivery import deliver
from ansible_collections.mcpops.runbooks.plugins.module_utils._notify.notify_transport import NotifyTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._notify.receiver_kinds import (
    STATUSPAGE_STATUSES,
    build_request,
    check_receiver,
    secrets_of,
    target_of,
)

MAX_RETRIES = 5
MAX_TIMEOUT = 300
MAX_RETRY_DELAY = 60


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def check_params(params):
    """The receivers' names (given, or <kind>-<position>); TaskError naming the first bad input. Nothing is sent
    unless every receiver is well formed."""
    receivers = params.get("receivers") or []
    if not receivers:
        raise TaskError("receivers is empty: give at least one statuspage, chat or telegram receiver")
    names = []
    for position, receiver in enumerate(receivers, 1):
        name = receiver.get("name") or "%s-%d" % (receiver.get("kind"), position)
        try:
            check_receiver(receiver)
        except ValueError as exc:
            raise TaskError("receiver %s: %s. Nothing was sent." % (name, exc))
        if name in names:
            raise TaskError("receiver name %s is given twice. Nothing was sent." % name)
        names.append(name)
    if not (params.get("body") or "").strip():
        raise TaskError("body is empty: say what the update is. Nothing was sent.")
    if any(r["kind"] == "statuspage" for r in receivers) and params.get("status") not in STATUSPAGE_STATUSES:
        raise TaskError("a statuspage receiver needs status, one of %s. Nothing was sent." % ", ".join(STATUSPAGE_STATUSES))
    if not 0 <= params["retries"] <= MAX_RETRIES:
        raise TaskError("retries must be 0..%d" % MAX_RETRIES)
    if not 1 <= params["timeout"] <= MAX_TIMEOUT:
        raise TaskError("timeout must be 1..%d seconds" % MAX_TIMEOUT)
    if not 0 <= params["retry_delay"] <= MAX_RETRY_DELAY:
        raise TaskError("retry_delay must be 0..%d seconds" % MAX_RETRY_DELAY)
    if bool(params.get("dedupe_key")) != bool(params.get("state_dir")):
        raise TaskError("dedupe_key and state_dir go together: give both, or neither")
    ca_path = params.get("ca_path")
    if ca_path and not os.path.isfile(ca_path):
        raise TaskError("ca_path %s is not a file" % ca_path)
    return names


def _failure_message(failed, delivered):
    parts = ["%s (%s %s: %s)" % (o["name"], o["method"], o["url"], o["error"]) for o in failed]
    sent = ", ".join(delivered) if delivered else "none"
    return ("Stakeholder notification failed for %s. Delivered to: %s. Fix the receiver and run again%s."
            % ("; ".join(parts), sent, " (the dedupe_key's record sends only to those that did not get it)"
               if delivered else ""))


def run(params, check_mode=False, *, transport=None, sleep=time.sleep, now=_utc_now, warn=None):
    """Check mode sends nothing and records nothing: each receiver's outcome says what would be sent."""
    names = check_params(params)
    receivers = params["receivers"]
    secrets = [s for r in receivers for s in secrets_of(r)]
    text = params.get("text") or params["body"]
    dedupe_key, state_dir = params.get("dedupe_key"), params.get("state_dir")
    try:
        if dedupe_key:
            sent_before = sent_record.load(state_dir, dedupe_key)
            if not check_mode:
                sent_record.prepare(state_dir)
        else:
            sent_before = {}
    except sent_record.RecordError as exc:
        raise TaskError(redact("%s. Nothing was sent." % exc, secrets))
    if transport is None:
        transport = NotifyTransport(params["validate_certs"], params.get("ca_path"), params["timeout"])

    outcomes, sent_now = [], {}
    for name, receiver in zip(names, receivers):
        outgoing = build_request(receiver, params.get("status"), params["body"], text)
        target = target_of(receiver)
        rid = sent_record.receiver_id(receiver["kind"], outgoing.shown_url, target)
        outcome = dict(name=name, kind=receiver["kind"], method=outgoing.method, url=outgoing.shown_url,
                       target=target, payload=outgoing.payload, sent=False, deduped=False, would_send=False,
                       ok=None, status=None, error=None, attempts=0)
        if rid in sent_before:
            outcome.update(deduped=True, ok=True, status=sent_before[rid].get("status"))
        elif check_mode:
            outcome.update(would_send=True)
        else:
            outcome.update(deliver(transport, receiver["kind"], outgoing, params["retries"], params["retry_delay"],
                                   sleep))
            outcome["sent"] = outcome["ok"]
            if outcome["ok"]:
                sent_now[rid] = dict(name=name, status=outcome["status"],
                                     sent_at=now().strftime("%Y-%m-%dT%H:%M:%SZ"))
        outcomes.append(outcome)

    failed = [o for o in outcomes if o["ok"] is False]
    result = dict(changed=any(o["sent"] or o["would_send"] for o in outcomes), receivers=outcomes,
                  failed_receivers=[o["name"] for o in failed],
                  deduped_receivers=[o["name"] for o in outcomes if o["deduped"]], record=None)
    if dedupe_key:
        result["record"] = sent_record.record_path(state_dir, dedupe_key)
    if dedupe_key and sent_now:
        try:
            sent_record.save(state_dir, dedupe_key, dict(sent_before, **sent_now))
        except sent_record.RecordError as exc:
            if warn:
                warn(redact("the update was sent but not recorded (%s): a re-run would send it again" % exc, secrets))
    result = redact(result, secrets)
    if failed:
        msg = redact(_failure_message(failed, [o["name"] for o in outcomes if o["sent"]]), secrets)
        if params["fail_on_error"]:
            raise TaskError(msg, result)
        if warn:
            warn(msg)
    return result
