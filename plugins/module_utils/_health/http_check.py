# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One health check of a service profile: its request (auth bearer, header or none), sent once, judged into a verdict.

build_request(spec, base_url, auth, secrets) refuses, before any request, an auth the profile does not define or a
secret that is missing; run_check(spec, request, transport) sends it through the one request core of
_gateway/client.py and returns {method, url, status, latency_ms, ok, problem, failed_condition, body}. No secret
is put into a problem here; the caller still redacts the whole result (a server may echo a secret back).
"""

from __future__ import annotations

import json
import re
import time
from http import client as http_client

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import NoAnswer
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.conditions import evaluate

AUTH_STYLES = ("bearer", "header", "none")
BODY_RETURNED_MAX = 4096  # a JSON body this small (bytes) is returned in the verdict
BODY_DECODED_MAX = 1024 * 1024  # a bigger body is never parsed (conditions on it fail)
HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}\Z")
BAD_HEADER_VALUE_RE = re.compile(r"[\x00\r\n]")
ACCEPT = "application/json, text/plain;q=0.9, */*;q=0.8"
USER_AGENT = "mcpops.runbooks.service_health"


def auth_entry(spec, auth):
    """(style, header, secret_var) of the check's auth: ("none", None, None) for auth none or not given."""
    name = spec.get("auth")
    if name in (None, "none"):
        return "none", None, None
    if not isinstance(auth, dict) or name not in auth:
        known = ", ".join(sorted(str(k) for k in auth)) if isinstance(auth, dict) and auth else "none defined"
        raise TaskError("check %s: auth %r is not in the auth section (known: %s); nothing was checked"
                        % (spec["name"], name, known))
    entry = auth[name]
    if not isinstance(entry, dict):
        raise TaskError("auth.%s must be a dict {style, header, secret_var}, not %r; nothing was checked" % (name, entry))
    style = entry.get("style")
    if style not in AUTH_STYLES:
        raise TaskError("auth.%s: style %r is not one of %s; nothing was checked" % (name, style, ", ".join(AUTH_STYLES)))
    if style == "none":
        return "none", None, None
    header = entry.get("header") if style == "header" else "Authorization"
    if not isinstance(header, str) or not HEADER_NAME_RE.match(header):
        raise TaskError("auth.%s: style header needs a header name (letters, digits, -), not %r; nothing was checked"
                        % (name, header))
    secret_var = entry.get("secret_var")
    if not isinstance(secret_var, str) or not secret_var:
        raise TaskError("auth.%s: style %s needs secret_var, the name of the variable holding the secret; nothing was checked"
                        % (name, style))
    return style, header, secret_var


def secret_value(secrets, name):
    """The secret in secrets[name] as text, or None when it is missing, null or empty."""
    value = (secrets or {}).get(name)
    if value is None or isinstance(value, (dict, list)):
        return None
    value = value if isinstance(value, str) else str(value)
    return value or None


def build_request(spec, base_url, auth, secrets):
    """{method, url, headers} of one check (a normalised spec of selection.health_checks); TaskError, naming the check,
    the auth and the variable but never a value, when the auth is unknown or its secret is missing."""
    headers = {"Accept": ACCEPT, "User-Agent": USER_AGENT}
    style, header, secret_var = auth_entry(spec, auth)
    if style != "none":
        secret = secret_value(secrets, secret_var)
        if secret is None:
            raise TaskError(
                "check %s: auth %s (%s) takes its secret from variable %s, which is not set or empty (secrets.%s); "
                "nothing was checked" % (spec["name"], spec["auth"], "bearer" if style == "bearer" else "header " + header,
                                         secret_var, secret_var))
        if BAD_HEADER_VALUE_RE.search(secret):
            raise TaskError("check %s: the secret in variable %s holds a line break or NUL, which cannot go into an "
                            "HTTP header; nothing was checked" % (spec["name"], secret_var))
        headers[header] = ("Bearer %s" % secret) if style == "bearer" else secret
    return {"method": spec["method"], "url": base_url.rstrip("/") + spec["path"], "headers": headers}


def _no_answer_text(exc):
    text = str(exc) or type(exc).__name__
    return re.sub(r"^\[Errno -?\d+\] ", "", text)


def decode_json(raw):
    """(value, None) when raw is a JSON document, else (None, why not)."""
    if not raw:
        return None, "the body is empty"
    if len(raw) > BODY_DECODED_MAX:
        return None, "the body is %d bytes, over %d: not decoded" % (len(raw), BODY_DECODED_MAX)
    try:
        return json.loads(raw.decode("utf-8-sig")), None
    except RecursionError:
        return None, "the body is JSON nested too deeply"
    except ValueError:
        return None, "the body is not JSON"


def run_check(spec, request, transport, clock=time.monotonic):
    """Send request once through transport (exchange -> Answer or NoAnswer) and judge it against spec."""
    verdict = {"method": request["method"], "url": request["url"], "status": None, "latency_ms": None, "ok": False,
               "problem": None, "failed_condition": None, "body": None}
    answer, why = None, None
    started = clock()
    try:
        answer = transport.exchange(request["method"], request["url"], None, request["headers"])
    except NoAnswer as exc:
        why = _no_answer_text(exc)
    except (http_client.HTTPException, OSError, ValueError) as exc:  # a garbled answer the core does not map
        why = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
    latency_ms = verdict["latency_ms"] = int(round((clock() - started) * 1000))
    if answer is None:
        verdict["problem"] = "no answer (%s)" % why
        return verdict
    raw = answer.body or b""
    verdict["status"] = answer.status
    body, not_json = decode_json(raw)
    if not_json is None and len(raw) <= BODY_RETURNED_MAX:
        verdict["body"] = body
    failed = None
    for condition in spec["conditions"]:
        why = not_json if not_json is not None else evaluate(condition, body)
        if why is not None:
            failed = condition.text
            break
    if answer.status != spec["expect_status"]:
        problem = "HTTP %s, expected %s" % (answer.status, spec["expect_status"])
        location = answer.headers.get("Location") if 300 <= answer.status <= 399 and answer.headers is not None else None
        if location:
            problem += " (a redirect to %s, not followed)" % location[:200]
        elif failed is not None and not_json is None:
            # a 503 whose JSON body says which dependency is down: name it (redis.status, not only "503")
            verdict["failed_condition"] = failed
            problem += "; condition %r failed: %s" % (failed, why)
        verdict["problem"] = problem
        return verdict
    if failed is not None:
        verdict["failed_condition"] = failed
        verdict["problem"] = "condition %r failed: %s" % (failed, why)
        return verdict
    limit = spec["max_latency_ms"]
    if limit is not None and latency_ms > limit:
        verdict["problem"] = "%d ms, over max_latency_ms %d" % (latency_ms, limit)
        return verdict
    verdict["ok"] = True
    return verdict


def problem_line(name, verdict):
    """The one line of a failed check: check <name> (<method> <url>): <problem>."""
    return "check %s (%s %s): %s" % (name, verdict["method"], verdict["url"], verdict["problem"])
