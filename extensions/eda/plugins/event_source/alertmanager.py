# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mcpops.runbooks.alertmanager: an event source that receives Alertmanager's webhook and puts one event per alert.

Written from Alertmanager's documented webhook format (version 4): a POST whose JSON body is one notification
group, ``{"version": "4", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels",
"commonAnnotations", "externalURL", "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt",
"generatorURL", "fingerprint"}, ...]}``.

Arguments (all optional):
    host            address to listen on (default 127.0.0.1: only this machine may start a runbook)
    port            TCP port (default 5000)
    token_file      a file holding a bearer token; when given, a request without ``Authorization: Bearer <token>``
                    is refused (401) and starts nothing. Alertmanager sends it with ``http_config.authorization``
    instance_label  the alert label naming the host the alert is about (default ``instance``; ``host:port`` or host)
    max_body_bytes  a larger request is refused (413; default 1 MiB)
    backlog         events accepted but not yet taken by the rule engine; over it a request is refused (503) and
                    Alertmanager retries it later (default 1000)

Each alert becomes one event:
    alert   the alert as Alertmanager sent it (status firing/resolved, labels, annotations, startsAt, endsAt,
            generatorURL, fingerprint)
    group   the notification's group fields (receiver, status, groupKey, groupLabels, commonLabels,
            commonAnnotations, externalURL, truncatedAlerts, version)
    host    the inventory host named by the instance label, only when it names one plainly (a name or address,
            never an Ansible host pattern such as ``all``, ``web*`` or ``a,b``)
    throttle_key  ``<runbook label>@<host, else the instance label>``: what the rulebook throttles on (one run per
            runbook and host)
    meta    endpoint (the request path). No ``hosts``: the rulebook's action runs the dispatch (``mcpops alert``) on
            the controller, which checks the host against the inventory and limits the runbook to it

Answers: 200 ``{"accepted": N, "skipped": M}`` at once (the events are handed to the rule engine afterwards);
400 for a body that is not a webhook payload (nothing queued); 401; 405 for anything but POST; 413; 503.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re

from aiohttp import web  # a dependency of ansible-rulebook itself

LOGGER = logging.getLogger("mcpops.runbooks.alertmanager")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_INSTANCE_LABEL = "instance"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_BACKLOG = 1000
GROUP_FIELDS = ("receiver", "status", "groupKey", "groupLabels", "commonLabels", "commonAnnotations",
                "externalURL", "truncatedAlerts", "version")
ALERT_STATUSES = ("firing", "resolved")
# A host name or an IPv4 address: nothing Ansible would read as a pattern (*, ?, ~, !, &, commas, colons, ranges).
PLAIN_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,252}")
PORT_SUFFIX = re.compile(r":[0-9]{1,5}$")
# Names every inventory has that mean more than one host.
PATTERN_NAMES = frozenset(("all", "ungrouped", "localhost"))


class PayloadError(ValueError):
    """The request body is not an Alertmanager webhook payload; nothing of it is queued."""


class Settings:
    """The source's arguments, checked once at start so that a typo stops the rulebook instead of a webhook."""

    def __init__(self, args):
        args = dict(args or {})
        unknown = sorted(set(args) - {"host", "port", "token_file", "instance_label", "max_body_bytes", "backlog"})
        if unknown:
            raise ValueError("mcpops.runbooks.alertmanager: unknown argument(s) %s" % ", ".join(unknown))
        self.host = str(args.get("host") or DEFAULT_HOST)
        self.port = _positive_int(args, "port", DEFAULT_PORT)
        if self.port > 65535:
            raise ValueError("mcpops.runbooks.alertmanager: port %d is not a TCP port" % self.port)
        self.instance_label = str(args.get("instance_label") or DEFAULT_INSTANCE_LABEL)
        self.max_body_bytes = _positive_int(args, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)
        self.backlog = _positive_int(args, "backlog", DEFAULT_BACKLOG)
        self.token = _read_token(args["token_file"]) if args.get("token_file") else None


def _positive_int(args, name, default):
    value = args.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0 or isinstance(value, bool):
        raise ValueError("mcpops.runbooks.alertmanager: %s must be a positive whole number, not %r" % (name, value))
    return number


def _read_token(path):
    try:
        with open(path, encoding="utf-8") as handle:
            token = handle.read().strip()
    except OSError as exc:
        raise ValueError("mcpops.runbooks.alertmanager: token_file %s cannot be read (%s)" % (path, exc.strerror))
    if not token:
        raise ValueError("mcpops.runbooks.alertmanager: token_file %s is empty" % path)
    return token


def inventory_host(instance):
    """The host an instance label names ("gw1:9100", "10.0.0.5", "[::1]:3000" has no plain name): or None."""
    if not isinstance(instance, str):
        return None
    host = PORT_SUFFIX.sub("", instance.strip())
    if not PLAIN_HOST.fullmatch(host) or host.lower() in PATTERN_NAMES:
        return None
    return host


def _string_map(value):
    """Labels and annotations are maps of strings; anything else in them is dropped rather than trusted."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def alert_event(alert, group, endpoint, instance_label=DEFAULT_INSTANCE_LABEL):
    """The event of one alert of a notification group, or None when the entry is not an alert."""
    if not isinstance(alert, dict) or alert.get("status") not in ALERT_STATUSES:
        return None
    alert = dict(alert, labels=_string_map(alert.get("labels")), annotations=_string_map(alert.get("annotations")))
    event = {"alert": alert, "group": group, "meta": {"endpoint": endpoint}}
    host = inventory_host(alert["labels"].get(instance_label))
    if host is not None:
        event["host"] = host
    event["throttle_key"] = "%s@%s" % (alert["labels"].get("runbook", ""),
                                       host if host is not None else alert["labels"].get(instance_label, ""))
    return event


def events_from_payload(payload, endpoint="/", instance_label=DEFAULT_INSTANCE_LABEL):
    """(events, skipped): one event per alert of an Alertmanager webhook payload, and how many entries were not alerts.

    Raises PayloadError when the payload itself is not a webhook notification."""
    if not isinstance(payload, dict):
        raise PayloadError("the body is not a JSON object")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("the body has no alerts list")
    group = {name: payload.get(name) for name in GROUP_FIELDS}
    for name in ("groupLabels", "commonLabels", "commonAnnotations"):
        group[name] = _string_map(group[name])
    events = [alert_event(alert, group, endpoint, instance_label) for alert in alerts]
    accepted = [event for event in events if event is not None]
    return accepted, len(events) - len(accepted)


def authorized(header, token):
    """Whether an Authorization header carries the bearer token (always, when no token is configured)."""
    if token is None:
        return True
    scheme, _separator, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _answer(status, **body):
    return web.json_response(body, status=status)


class AlertReceiver:
    """The webhook endpoint: checks and splits a notification, answers, and hands its events on afterwards.

    ansible-rulebook's source queue holds one event and waits while a rule's action runs, so the answer never
    waits for it: accepted events go to a backlog of their own, which forward() empties into the queue."""

    def __init__(self, settings):
        self.settings = settings
        self.backlog = asyncio.Queue(settings.backlog)

    async def handle(self, request):
        if request.method != "POST":
            return _answer(405, error="Alertmanager's webhook is a POST")
        if not authorized(request.headers.get("Authorization"), self.settings.token):
            LOGGER.warning("alertmanager: refused a request to %s without the bearer token", request.path)
            return _answer(401, error="missing or wrong bearer token")
        try:
            payload = json.loads(await request.read())
            events, skipped = events_from_payload(payload, request.path, self.settings.instance_label)
        except web.HTTPRequestEntityTooLarge:
            LOGGER.warning("alertmanager: refused a request over %d bytes", self.settings.max_body_bytes)
            return _answer(413, error="the body is over %d bytes" % self.settings.max_body_bytes)
        except (ValueError, RecursionError) as exc:
            LOGGER.warning("alertmanager: refused a request to %s: %s", request.path, exc)
            return _answer(400, error="not an Alertmanager webhook payload: %s" % exc)
        if self.backlog.maxsize - self.backlog.qsize() < len(events):
            LOGGER.warning("alertmanager: refused %d alerts: %d events are waiting for the rule engine",
                           len(events), self.backlog.qsize())
            return _answer(503, error="too many events waiting; Alertmanager will send them again")
        for event in events:
            self.backlog.put_nowait(event)
        LOGGER.info("alertmanager: %d alerts from receiver %r (%d entries skipped)", len(events),
                    payload.get("receiver"), skipped)
        return _answer(200, accepted=len(events), skipped=skipped)

    async def forward(self, queue):
        while True:
            event = await self.backlog.get()
            await queue.put(event)


async def main(queue, args):
    """The entry point ansible-rulebook calls: serve the webhook until the rulebook stops."""
    settings = Settings(args)
    receiver = AlertReceiver(settings)
    app = web.Application(client_max_size=settings.max_body_bytes)
    app.router.add_route("*", "/{path:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    forwarder = asyncio.create_task(receiver.forward(queue))
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        LOGGER.info("alertmanager: listening on %s:%d", settings.host, settings.port)
        await forwarder
    finally:
        forwarder.cancel()
        await runner.cleanup()
