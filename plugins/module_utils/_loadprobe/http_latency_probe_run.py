# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""http_latency_probe's work: the seed's post-incident "performance validation" (timed GETs one after the other) and
"light load test" (`ab -n N -c C`), bounded in count and time, judged against thresholds.

run(params, check_mode, transport_factory=, clock=, sleep=) returns {changed: false, phases, passed, problems, lines,
thresholds} or raises TaskError. GETs only: read-only, the same in check mode. The API key travels in its header only."""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import urlsplit

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import NoAnswer, UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._loadprobe.probe_phase import run_phase
from ansible_collections.mcpops.runbooks.plugins.module_utils._loadprobe.phase_verdict import phase_line, phase_problems

MAX_URLS = 10
MAX_REQUESTS = 10000
MAX_CONCURRENCY = 100
MAX_TIME_LIMIT = 600
MAX_TIMEOUT = 60
MAX_PAUSE = 60
HEADER = re.compile(r"[A-Za-z0-9-]{1,64}")
USER_AGENT = "mcpops-http-latency-probe"


def checked_urls(urls):
    """The URLs as given; TaskError naming the bad one (http(s), a host, no credentials in it)."""
    if not urls or len(urls) > MAX_URLS:
        raise TaskError("urls: give 1 to %d URLs, got %d" % (MAX_URLS, len(urls or [])))
    for url in urls:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise TaskError("urls: %r is not an http(s)://host[:port]/path URL" % (url if isinstance(url, str) else type(url).__name__,))
        if parts.username is not None or parts.password is not None:
            raise TaskError("urls: no credentials in a URL (give the key as api_key): %s://...@%s"
                            % (parts.scheme, parts.hostname))
    return list(urls)


def checked_bounds(params):
    """(timed, load, concurrency, time_limit, timeout, pause): whole numbers within the module's bounds, else TaskError."""
    bounds = (("timed_requests", 0, MAX_REQUESTS), ("load_requests", 0, MAX_REQUESTS),
              ("concurrency", 1, MAX_CONCURRENCY), ("time_limit", 1, MAX_TIME_LIMIT), ("timeout", 1, MAX_TIMEOUT),
              ("pause_before_load", 0, MAX_PAUSE), ("max_failures", 0, MAX_REQUESTS))
    for name, low, high in bounds:
        value = params.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise TaskError("%s must be a whole number from %d to %d, got %r" % (name, low, high, value))
    if params["timed_requests"] == 0 and params["load_requests"] == 0:
        raise TaskError("nothing to probe: timed_requests and load_requests are both 0")
    if params.get("max_p99_ms") is not None and not params["max_p99_ms"] > 0:
        raise TaskError("max_p99_ms must be above 0, got %r" % (params["max_p99_ms"],))
    if not HEADER.fullmatch(params.get("api_key_header") or ""):
        raise TaskError("api_key_header must be a header name (letters, digits, -)")


def make_send(transport_factory, headers):
    """send(url) -> (status, None) or (None, why there was no answer), one transport a thread."""
    local = threading.local()

    def send(url):
        transport = getattr(local, "transport", None)
        if transport is None:
            transport = local.transport = transport_factory()
        try:
            return transport.exchange("GET", url, None, dict(headers)).status, None
        except NoAnswer as exc:
            return None, str(exc)[:200] or "no answer"

    return send


def run(params, check_mode=False, *, transport_factory=None, clock=None, sleep=None):
    """transport_factory() -> a transport (http_transport's exchange); clock() -> monotonic seconds; sleep(s)."""
    urls = checked_urls(params.get("urls"))
    checked_bounds(params)
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    timeout = params["timeout"]
    transport_factory = transport_factory or (lambda: UrllibTransport(
        validate_certs=params.get("validate_certs", True), timeout=timeout, follow_redirects=False))
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if params.get("api_key"):
        headers[params["api_key_header"]] = params["api_key"]
    send = make_send(transport_factory, headers)

    plan = []
    if params["timed_requests"]:
        plan.append(("performance", params["timed_requests"], 1))
    if params["load_requests"]:
        plan.append(("load", params["load_requests"], params["concurrency"]))
    phases, problems, lines = {}, [], []
    for name, count, concurrency in plan:
        if name == "load" and phases and params["pause_before_load"]:
            sleep(params["pause_before_load"])  # the load balancer's per-client burst refills meanwhile
        phase = run_phase(send, urls, count, concurrency, params["time_limit"], clock)
        phases[name] = phase
        problems += phase_problems(name, phase, params["max_failures"], params.get("max_p99_ms"))
        lines.append(phase_line(name, phase))
    lines.append("Verdict: %s" % ("PASS" if not problems else "FAIL: " + "; ".join(problems)))
    return {
        "changed": False,
        "urls": urls,
        "phases": phases,
        "passed": not problems,
        "problems": problems,
        "lines": lines,
        "thresholds": {"max_failures": params["max_failures"], "max_p99_ms": params.get("max_p99_ms")},
    }
