# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP request core of the collection, standard library only: a transport sends bytes and gives back an
Answer (status, reason, headers, body) or raises NoAnswer. The gateway client and the health checks sit on it.
The kept-alive transport, which only the gateway client's KeepAliveGatewayClient uses, is keepalive_transport's."""

from __future__ import annotations

# ssl, http.client and urllib.request load on first use, not at import: a module that talks HTTP only on one of its
# paths (gateway_backup with api_url) would otherwise pay about 15 ms of imports on every run (issue 20's <= 30 ms).
import socket


def make_ssl_context(validate_certs=True, ca_path=None):
    """Verification on unless validate_certs is false; ca_path, when given, is the CA bundle trusted instead of the
    system's."""
    import ssl

    context = (ssl.create_default_context(cafile=ca_path) if (validate_certs and ca_path)
               else ssl.create_default_context())
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class NoAnswer(Exception):
    """No HTTP answer at all (refused, reset, timeout, TLS failure); the text says why."""


class Answer:
    """What came back: status, reason phrase, headers (case-insensitive) and the whole body."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body


def _redirect_is_an_answer():
    """A handler for which a 3xx is the answer, never followed: a secret header must not travel to wherever Location
    points."""
    from urllib.request import HTTPRedirectHandler

    class RedirectIsAnAnswer(HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):
            return None

    return RedirectIsAnAnswer()


class UrllibTransport:
    """A new connection per request through urllib: redirects followed as urllib does, or not (follow_redirects)."""

    def __init__(self, validate_certs=True, timeout=10, follow_redirects=True, ca_path=None):
        from urllib.request import HTTPSHandler, build_opener

        self.timeout = timeout
        handlers = [HTTPSHandler(context=make_ssl_context(validate_certs, ca_path))]
        if not follow_redirects:
            handlers.append(_redirect_is_an_answer())
        self._opener = build_opener(*handlers)

    def exchange(self, method, url, data, headers):
        import ssl
        from http import client as http_client
        from urllib.error import HTTPError, URLError
        from urllib.request import Request

        request = Request(url, data=data, headers=headers, method=method)
        try:
            response = self._opener.open(request, timeout=self.timeout)
            with response:
                return Answer(response.status, response.reason, response.headers, response.read())
        except HTTPError as exc:
            return Answer(exc.code, exc.reason, exc.headers, exc.read())
        except (URLError, socket.timeout, ConnectionError, ssl.SSLError) as exc:
            raise NoAnswer(str(getattr(exc, "reason", exc)))
        except http_client.HTTPException as exc:  # a garbled status line or headers: not an HTTP answer
            raise NoAnswer("%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__)

    def close(self):
        pass
