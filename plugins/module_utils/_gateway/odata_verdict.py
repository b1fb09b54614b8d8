# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which part of a 1C publication failed, from what a `$metadata` request saw: the web server or the 1C cluster.

A 1C OData publication is a web server (Apache or IIS with the 1C module) in front of the 1C cluster (the
server agent, the cluster manager, the working processes that hold the infobase). INC-004 step 2 names both:

- no TCP connection, no TLS handshake, a web server error page without a 1C error (a 404 for the publication, a
  proxy's 502) -> the web server failed; what is behind it is unknown;
- an answer whose body is 1C's own error (`odata.error`, or the cluster-connection text with `server_addr=` /
  `descr=` that the 1C module writes when it cannot reach the cluster) -> the web server is up and the 1C side
  behind it (the cluster, or its infobase) failed;
- 200 with the EDMX document -> both are up; a 401 to a credential that was sent -> both are up (the infobase
  checked the user) and the credential is refused.

Plain functions over (status, body) so that a unit test gives any answer.
"""

from __future__ import annotations

import json
import re

OK = "ok"
FAILED = "failed"
UNKNOWN = "unknown"

# What the 1C web server module says when the cluster cannot be reached (the Russian and English 1C texts), and
# the OData error document 1C itself writes: an answer carrying one of these came from the 1C side.
ONEC_ERROR_MARKERS = (
    "server_addr=", "descr=", "odata.error", "1c:enterprise server", "1c:предприят", "1с:предприят",
    "сервер 1с", "сервер 1c", "кластер", "cluster", "infobase", "информационн",
)
EXCERPT_CHARS = 240
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def excerpt(body, secrets=()):
    """The first words of a body, one line, no control characters, no secret (a server may echo one)."""
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else str(body or "")
    try:
        text = _odata_error_message(json.loads(text)) or text
    except ValueError:
        pass
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 3] + "..."


def _odata_error_message(doc):
    """The message of 1C's `{"odata.error": {"message": "..." | {"value": "..."}}}`, else None."""
    error = doc.get("odata.error") if isinstance(doc, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, dict):
        message = message.get("value")
    return message if isinstance(message, str) and message else None


def is_onec_error(body):
    text = (body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else str(body or "")).lower()
    return any(marker in text for marker in ONEC_ERROR_MARKERS)


def verdict_without_answer(failure, error, connected):
    """(web_server, cluster, evidence) when no HTTP answer came. `connected`: TCP and TLS were done."""
    if connected:
        return OK, UNKNOWN, {
            "web_server": "accepted the connection (TCP and TLS done), then %s" % error,
            "cluster": "unknown: no answer from the publication (the web server may be waiting for the cluster)",
        }
    return FAILED, UNKNOWN, {
        "web_server": "%s (%s)" % (error, failure),
        "cluster": "unknown: the web server in front of it did not answer",
    }


def verdict_of_answer(status, body, credential_sent, secrets=()):
    """(web_server, cluster, credential, evidence) for an HTTP answer."""
    said = excerpt(body, secrets)
    credential = "not_sent"
    if status == 200:
        if b"<" in bytes(body[:1024]):
            return OK, OK, ("ok" if credential_sent else "not_sent"), {
                "web_server": "HTTP 200", "cluster": "served $metadata (XML)"}
        return OK, UNKNOWN, ("ok" if credential_sent else "not_sent"), {
            "web_server": "HTTP 200", "cluster": "unknown: HTTP 200 without an XML body: %s" % (said or "empty")}
    if status in (401, 403):
        if credential_sent:
            return OK, OK, "refused", {
                "web_server": "HTTP %d" % status,
                "cluster": "answered: the infobase refused the credential (HTTP %d)" % status}
        return OK, UNKNOWN, "not_sent", {
            "web_server": "HTTP %d (asks for a credential)" % status,
            "cluster": "unknown: not asked without a credential"}
    if is_onec_error(body):
        return OK, FAILED, (UNKNOWN if credential_sent else credential), {
            "web_server": "HTTP %d with 1C's error: the web server reached its 1C module" % status,
            "cluster": "HTTP %d: %s" % (status, said)}
    what = "no such publication" if status == 404 else "no 1C error in the body: the web server itself fails"
    return FAILED, UNKNOWN, (UNKNOWN if credential_sent else credential), {
        "web_server": "HTTP %d, %s%s" % (status, what, (": " + said) if said else ""),
        "cluster": "unknown: the web server did not pass the request to 1C"}
