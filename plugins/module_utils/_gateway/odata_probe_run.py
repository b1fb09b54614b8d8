# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""odata_probe's work, INC-004 steps 1-2 and INC-006's proof: `GET <odataUrl>/$metadata` of each 1C publication.

As the runbook's `curl -sS -o /dev/null -w "%{http_code}"` does, with the latency and a timeout told apart from
a refusal, in two phases: the connection (TCP and TLS: the web server) and the answer (what the web server, or
the 1C cluster behind it, said). odata_verdict.py turns what was seen into `web_server` and `cluster`.

Healthy is the contract's: HTTP 200 with an XML body within the timeout. Without `credentials` nothing is sent,
as the runbook's curl; with them each URL is asked with HTTP Basic, as the gateway's check_connection_health
does, and a 401 says the credential is refused. No password is ever in a row (an echoed one is masked).
Standard library only.

run(params, check_mode) is the odata_probe module's work: {changed: false, results, healthy}, or TaskError for
bad input (nothing was probed). An unhealthy upstream is a row, never a failure.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.odata_verdict import (
    verdict_of_answer,
    verdict_without_answer,
)

DEFAULT_USER = "mcp"  # the reference gateway's user when a profile names none
BODY_BYTES = 65536


class OdataProbeInputError(ValueError):
    pass


def metadata_url(odata_url):
    parts = urlsplit(odata_url or "")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise OdataProbeInputError("odataUrl %r is not an http(s) URL" % (odata_url,))
    return odata_url.rstrip("/") + "/$metadata"


def make_context(ca_path=None, validate_certs=True):
    context = ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def basic_header(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode("utf-8")).decode("ascii")


def _why(exc, timeout):
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "tls", "TLS certificate verification failed: %s" % (exc.verify_message or exc.reason or "")
    if isinstance(exc, ssl.SSLError):
        return "tls", "TLS handshake failed: %s" % (exc.reason or exc.__class__.__name__)
    if isinstance(exc, (socket.timeout, TimeoutError)) or "timed out" in str(exc):
        return "timeout", "no answer within %ss" % timeout
    if isinstance(exc, ConnectionRefusedError):
        return "refused", "connection refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)):
        return "unreachable", "the connection was closed without an answer"
    if isinstance(exc, socket.gaierror):
        return "unreachable", "name not resolved: %s" % (exc.strerror or exc)
    if isinstance(exc, OSError) and exc.strerror:
        return "unreachable", exc.strerror
    return "unreachable", "%s: %s" % (exc.__class__.__name__, exc)


def _connection(parts, timeout, context):
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname, port, timeout=timeout, context=context)
    return http.client.HTTPConnection(parts.hostname, port, timeout=timeout)


def probe_one(url, timeout, context, credential=None):
    """One row for one `$metadata` URL; `credential` is (user, password) or None."""
    row = {"url": url, "status": None, "latency_ms": None, "healthy": False, "failure": None, "error": None,
           "web_server": None, "cluster": None, "credential": "not_sent", "evidence": None}
    secrets = [credential[1]] if credential else []
    parts = urlsplit(url)
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    headers = {"Accept": "application/xml", "Connection": "close"}
    if credential:
        headers["Authorization"] = basic_header(*credential)
    connection = _connection(parts, timeout, context)
    connected = False
    started = time.monotonic()
    try:
        connection.connect()  # TCP, then the TLS handshake: the web server
        connected = True
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
        row["status"] = response.status
        body = response.read(BODY_BYTES)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        row["failure"], row["error"] = _why(exc, timeout)
        row["web_server"], row["cluster"], row["evidence"] = verdict_without_answer(row["failure"], row["error"], connected)
        row["credential"] = "unknown" if credential else "not_sent"
    else:
        row["web_server"], row["cluster"], row["credential"], row["evidence"] = verdict_of_answer(
            row["status"], body, bool(credential), secrets)
        if row["status"] == 200 and row["cluster"] == "ok":
            row["healthy"] = True
        elif row["status"] == 200:
            row["failure"], row["error"] = "http", "HTTP 200 without an XML body"
        else:
            row["failure"] = "http"
            row["error"] = "HTTP %s %s" % (row["status"], response.reason or "")
            row["error"] = row["error"].strip()
    finally:
        connection.close()
    row["latency_ms"] = int(round((time.monotonic() - started) * 1000))
    return row


def check_credentials(credentials, count):
    """[(user, password) or None] for each URL; refuses a list of another length or an empty password."""
    if not credentials:
        return [None] * count
    if len(credentials) != count:
        raise OdataProbeInputError("credentials has %d entries for %d odata_urls (one per URL, in order)"
                                   % (len(credentials), count))
    pairs = []
    for index, item in enumerate(credentials):
        if not isinstance(item, dict) or not item.get("password"):
            raise OdataProbeInputError("credentials[%d] has no password" % index)
        user = item.get("user") or DEFAULT_USER
        if ":" in user or any(ord(c) < 32 for c in user):
            raise OdataProbeInputError("credentials[%d].user %r cannot be sent with HTTP Basic" % (index, user))
        pairs.append((user, str(item["password"])))
    return pairs


def probe_all(odata_urls, timeout, ca_path=None, validate_certs=True, credentials=None):
    urls = [metadata_url(u) for u in odata_urls]
    if timeout <= 0:
        raise OdataProbeInputError("timeout must be more than 0 seconds")
    pairs = check_credentials(credentials, len(urls))
    if not urls:
        return []
    context = make_context(ca_path, validate_certs)  # one TLS context for every URL; direct, like curl without a proxy
    with ThreadPoolExecutor(max_workers=min(16, len(urls))) as pool:
        return list(pool.map(lambda pair: probe_one(pair[0], timeout, context, pair[1]), zip(urls, pairs)))


def run(params, check_mode=False):
    """Read-only: check mode probes exactly as a real run does."""
    try:
        results = probe_all(params["odata_urls"], params["timeout"], params.get("ca_path"),
                            params.get("validate_certs", True), params.get("credentials"))
    except OdataProbeInputError as exc:
        raise TaskError("%s; nothing was probed" % exc)
    return dict(changed=False, results=results, healthy=all(r["healthy"] for r in results))
