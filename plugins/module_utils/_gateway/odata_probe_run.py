# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""odata_probe's work, INC-004 step 1 from the gateway host: `GET <odataUrl>/$metadata` of each 1C publication.

As the runbook's `curl -sS -o /dev/null -w "%{http_code}"` does, with the latency and a timeout told apart from
a refusal.

Healthy is the contract's: HTTP 200 with an XML body within the timeout. No credential is sent (the
runbook's curl sends none); step 3 checks the credential separately. Standard library only.

run(params, check_mode) is the odata_probe module's work: {changed: false, results, healthy}, or TaskError for
bad input (nothing was probed). An unhealthy upstream is a row, never a failure.
"""

from __future__ import annotations

import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import HTTPSHandler, ProxyHandler, Request, build_opener

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError


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


def _why(exc):
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, ssl.SSLCertVerificationError):
        return "tls", "TLS certificate verification failed: %s" % (reason.verify_message or reason)
    if isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in str(reason):
        return "timeout", "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "refused", "connection refused"
    return "unreachable", str(reason)


def probe_one(url, opener, timeout):
    row = {"url": url, "status": None, "latency_ms": None, "healthy": False, "failure": None, "error": None}
    started = time.monotonic()
    try:
        with opener.open(Request(url, headers={"Accept": "application/xml"}), timeout=timeout) as response:
            row["status"] = response.status
            head = response.read(65536)
        if row["status"] == 200 and b"<" in head[:1024]:
            row["healthy"] = True
        else:
            row["failure"], row["error"] = "http", "HTTP %s without an XML body" % row["status"]
    except HTTPError as exc:
        row["status"] = exc.code
        row["failure"], row["error"] = "http", "HTTP %d %s" % (exc.code, exc.reason)
    except (URLError, OSError, ValueError) as exc:
        row["failure"], row["error"] = _why(exc)
    row["latency_ms"] = int(round((time.monotonic() - started) * 1000))
    if row["failure"] == "timeout":
        row["error"] = "no answer within %ss" % timeout
    return row


def probe_all(odata_urls, timeout, ca_path=None, validate_certs=True):
    urls = [metadata_url(u) for u in odata_urls]
    if timeout <= 0:
        raise OdataProbeInputError("timeout must be more than 0 seconds")
    # direct, like curl without a proxy; one TLS context for every URL
    opener = build_opener(ProxyHandler({}), HTTPSHandler(context=make_context(ca_path, validate_certs)))
    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(urls))) as pool:
        return list(pool.map(lambda u: probe_one(u, opener, timeout), urls))


def run(params, check_mode=False):
    """Read-only: check mode probes exactly as a real run does."""
    try:
        results = probe_all(params["odata_urls"], params["timeout"], params.get("ca_path"), params.get("validate_certs", True))
    except OdataProbeInputError as exc:
        raise TaskError("%s; nothing was probed" % exc)
    return dict(changed=False, results=results, healthy=all(r["healthy"] for r in results))
