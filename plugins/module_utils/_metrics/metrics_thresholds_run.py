# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metrics_thresholds' work: GET /metrics twice, `window` seconds apart, parse both pages with prometheus_client, and
judge each threshold (the seed's ALERT_HTTP_5XX_PER_MIN, ALERT_HTTP_SLOW_PER_MIN, ALERT_OUTBOX_DEAD_DELTA, and any
other given as a selector) on the two.

run(params, check_mode, transport=, sleep=, monotonic=, parser=, warn=) returns {changed: false, judgements, breached,
breaches, elapsed_seconds} or raises TaskError. Read-only. The token goes in a header and into no message."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import NoAnswer, UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._metrics.exposition import parse_page, require_parser
from ansible_collections.mcpops.runbooks.plugins.module_utils._metrics.judgement import KINDS, judge
from ansible_collections.mcpops.runbooks.plugins.module_utils._metrics.selector import parse_selector

MAX_WINDOW = 3600
MAX_PAGE_BYTES = 64 * 1024 * 1024
# The seed's thresholds (its ALERT_* settings): option -> (name, selector, kind).
SEED_CHECKS = (
    ("http_5xx_per_min", 'http_requests_total{status=~"5.."}', "rate_per_min"),
    ("http_slow_per_min", "http_slow_requests_total", "rate_per_min"),
    ("outbox_dead_delta", "loyalty_outbox_dead_total", "delta"),
)


def build_checks(params):
    """[{name, selector, kind, max}] from the seed's options and `checks`; TaskError naming a bad one."""
    wanted = [dict(name=option, selector=text, kind=kind, max=params[option])
              for option, text, kind in SEED_CHECKS if params.get(option) is not None]
    wanted += [dict(check) for check in params.get("checks") or []]
    if not wanted:
        raise TaskError("no threshold to judge: give http_5xx_per_min, http_slow_per_min, outbox_dead_delta or checks")
    checks, names = [], set()
    for check in wanted:
        name = check.get("name") or check.get("selector")
        if check.get("kind") not in KINDS:
            raise TaskError("check %s: kind must be one of %s" % (name, ", ".join(KINDS)))
        if check.get("max") is None or float(check["max"]) < 0:
            raise TaskError("check %s: max must be a number >= 0" % name)
        if name in names:
            raise TaskError("check %s is given twice" % name)
        names.add(name)
        try:
            selector = parse_selector(check.get("selector"))
        except ValueError as exc:
            raise TaskError("check %s: %s" % (name, exc))
        checks.append(dict(name=name, selector=selector, kind=check["kind"], max=float(check["max"])))
    return checks


def fetch_page(transport, url, headers):
    """The page's text; TaskError saying what came back (never the token)."""
    try:
        answer = transport.exchange("GET", url, None, headers)
    except NoAnswer as exc:
        raise TaskError("GET %s: no answer (%s); is the service up and the URL right?" % (url, exc))
    if answer.status in (401, 403):
        raise TaskError("GET %s: HTTP %s, the metrics token was refused; give the one the service holds (token)"
                        % (url, answer.status))
    if answer.status != 200:
        raise TaskError("GET %s: HTTP %s %s, not the metrics page" % (url, answer.status, answer.reason))
    if len(answer.body) > MAX_PAGE_BYTES:
        raise TaskError("GET %s: the page is over %d MiB; not a metrics page to judge" % (url, MAX_PAGE_BYTES >> 20))
    return answer.body.decode("utf-8", "replace")


def read_snapshot(transport, url, headers, parser):
    text = fetch_page(transport, url, headers)
    try:
        return parse_page(text, parser)
    except (ValueError, TypeError, IndexError) as exc:
        raise TaskError("GET %s: not Prometheus text format: %s" % (url, exc))


def breach_sentence(judgement):
    unit = {"rate_per_min": "per minute", "delta": "over the window", "value": "now"}[judgement["kind"]]
    return "%s: %s is %s %s, over the threshold %s" % (
        judgement["name"], judgement["selector"], judgement["value"], unit, judgement["threshold"])


def run(params, check_mode=False, *, transport=None, sleep=time.sleep, monotonic=time.monotonic, parser=None,
        warn=None):
    """Read-only, check mode alike. transport.exchange(method, url, data, headers) -> Answer (http_transport's);
    tests give a fake, and a fake sleep/monotonic so that no test waits for the window."""
    url, window = params["url"], params["window"]
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise TaskError("url must be http(s)://host[:port]/path, e.g. http://127.0.0.1:3000/metrics")
    if not 1 <= window <= MAX_WINDOW:
        raise TaskError("window must be 1..%d seconds" % MAX_WINDOW)
    checks = build_checks(params)
    parser = parser or require_parser()
    transport = transport or UrllibTransport(params["validate_certs"], params["timeout"], follow_redirects=False)
    headers = {"Accept": "text/plain"}
    if params.get("token"):
        headers[params["token_header"]] = params["token"]

    first = read_snapshot(transport, url, headers, parser)
    first_at = monotonic()
    sleep(window)
    second = read_snapshot(transport, url, headers, parser)
    elapsed = monotonic() - first_at

    judgements = [judge(check, first, second, elapsed) for check in checks]
    for judgement in judgements:
        if not judgement["found"] and warn:
            warn("%s: the page does not declare %s; its value is taken as 0 (a typo, or the service does not "
                 "export it)" % (judgement["name"], judgement["selector"].split("{")[0]))
    breaches = [breach_sentence(j) for j in judgements if not j["ok"]]
    result = dict(changed=False, judgements=judgements, breached=bool(breaches), breaches=breaches,
                  elapsed_seconds=round(elapsed, 3))
    if breaches and params["fail_on_breach"]:
        raise TaskError("Metrics over their thresholds: %s." % "; ".join(breaches), result)
    return result
