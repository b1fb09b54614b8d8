# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus' HTTP API, the part a window needs: GET /api/v1/query_range, its answer checked and its error said
(unreachable, a refused token, a bad query), never with the token in the text."""

from __future__ import annotations

import json
from urllib.parse import urlencode, urlsplit

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import NoAnswer

MAX_ANSWER_BYTES = 64 * 1024 * 1024


class QueryError(Exception):
    """The query could not be answered; the text says why and what to do."""


def check_base_url(url):
    """The API's base URL without a trailing slash; ValueError when it is not http(s)://host[:port][/prefix] or
    carries credentials (they would land in logs: give the bearer token instead)."""
    parts = urlsplit(str(url).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be Prometheus' base URL, http(s)://host[:port][/prefix], e.g. http://127.0.0.1:9090")
    if parts.username or parts.password:
        raise ValueError("url must not carry credentials (user:password@): give bearer_token instead")
    if parts.query or parts.fragment:
        raise ValueError("url must be Prometheus' base URL, without a query or fragment")
    return parts.geturl().rstrip("/")


def error_text(body):
    """Prometheus' own `errorType: error` from an error answer's JSON, else the start of the body."""
    try:
        data = json.loads(body.decode("utf-8", "replace"))
        return "%s: %s" % (data.get("errorType", "error"), data.get("error", "?"))
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace").strip() or "(empty body)"


def query_range(transport, base_url, query, window, token=None):
    """([{metric: {labels}, values: [[t, "v"], ...]}], [warnings]) of query over window; QueryError otherwise."""
    url = "%s/api/v1/query_range?%s" % (base_url, urlencode(dict(
        query=query, start=repr(window.start), end=repr(window.end), step=str(window.step))))
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    try:
        answer = transport.exchange("GET", url, None, headers)
    except NoAnswer as exc:
        raise QueryError("Prometheus at %s did not answer (%s): is it up, and is the URL right?" % (base_url, exc))
    if answer.status in (401, 403):
        raise QueryError("Prometheus at %s refused the request (HTTP %s): give the bearer token it wants "
                         "(bearer_token)" % (base_url, answer.status))
    if answer.status in (400, 422):
        raise QueryError("Prometheus refused the query (HTTP %s, %s); fix the PromQL"
                         % (answer.status, error_text(answer.body)))
    if answer.status != 200:
        raise QueryError("Prometheus at %s answered HTTP %s %s: %s"
                         % (base_url, answer.status, answer.reason, error_text(answer.body)))
    if len(answer.body) > MAX_ANSWER_BYTES:
        raise QueryError("Prometheus' answer is over %d MiB: narrow the query (fewer series) or the window"
                         % (MAX_ANSWER_BYTES >> 20))
    try:
        data = json.loads(answer.body.decode("utf-8", "replace"))
    except ValueError:
        raise QueryError("%s answered 200 but not JSON: is it Prometheus (its base URL, not a page of it)?" % base_url)
    if not isinstance(data, dict) or data.get("status") != "success" or not isinstance(data.get("data"), dict):
        raise QueryError("%s answered 200 without a successful query_range result: is it Prometheus?" % base_url)
    if data["data"].get("resultType") != "matrix" or not isinstance(data["data"].get("result"), list):
        raise QueryError("Prometheus answered a %s, not a range of series" % data["data"].get("resultType"))
    return data["data"]["result"], [str(w) for w in data.get("warnings") or []]
