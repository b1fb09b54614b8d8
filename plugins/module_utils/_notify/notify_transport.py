# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP transport of the notifications: urllib with TLS verified against the system's CAs or a given CA file,
and redirects never followed (an Authorization header must not travel to wherever Location points)."""

from __future__ import annotations

import socket
import ssl
from http import client as http_client
from urllib.error import HTTPError, URLError
from urllib.request import HTTPRedirectHandler, HTTPSHandler, Request, build_opener

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import Answer, NoAnswer


def tls_context(validate_certs=True, ca_path=None):
    """Verification on unless validate_certs is false; ca_path, when given, is the CA bundle trusted instead."""
    if not validate_certs:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class NotifyTransport:
    """exchange(method, url, data, headers) -> Answer, or NoAnswer (refused, reset, timed out, TLS failed)."""

    def __init__(self, validate_certs=True, ca_path=None, timeout=10):
        self.timeout = timeout
        self._opener = build_opener(HTTPSHandler(context=tls_context(validate_certs, ca_path)), _NoRedirect())

    def exchange(self, method, url, data, headers):
        request = Request(url, data=data, headers=headers, method=method)
        try:
            response = self._opener.open(request, timeout=self.timeout)
            with response:
                return Answer(response.status, response.reason, response.headers, response.read())
        except HTTPError as exc:
            return Answer(exc.code, exc.reason, exc.headers, exc.read())
        except (URLError, socket.timeout, ConnectionError, ssl.SSLError) as exc:
            raise NoAnswer(str(getattr(exc, "reason", exc)))
        except (http_client.HTTPException, ValueError) as exc:  # a garbled answer, or a URL urllib will not send
            raise NoAnswer("%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__)
