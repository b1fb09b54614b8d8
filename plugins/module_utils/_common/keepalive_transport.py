# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""KeepAliveTransport: one kept-alive HTTP/1.1 connection to one origin, on the request core of http_transport.

Its own file because only KeepAliveGatewayClient (many calls to one gateway) uses it: every other module that talks
HTTP would otherwise compile it on every run (the AnsiballZ payload keeps no .pyc, issue 20's <= 30 ms)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import (
    Answer,
    NoAnswer,
    make_ssl_context,
)


class KeepAliveTransport:
    """One kept-alive http.client connection (HTTP/1.1) to one origin, for one thread at a time.

    Any failure to get an answer closes the connection, so that the next request reconnects."""

    def __init__(self, base_url, validate_certs=True, timeout=10):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("api_url must be http(s)://host[:port][/path]")
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._context = make_ssl_context(validate_certs) if self._https else None
        self._conn = None

    def _connection(self):
        from http import client as http_client

        if self._conn is None:
            if self._https:
                self._conn = http_client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                                         context=self._context)
            else:
                self._conn = http_client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        return self._conn

    def exchange(self, method, url, data, headers):
        import ssl
        from http import client as http_client

        parts = urlsplit(url)
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        try:
            conn = self._connection()
            conn.request(method, target, body=data, headers=headers)
            response = conn.getresponse()
            answer = Answer(response.status, response.reason, response.headers, response.read())
            if response.will_close:
                self.close()
            return answer
        except (socket.timeout, OSError, http_client.HTTPException, ssl.SSLError) as exc:
            self.close()
            raise NoAnswer("%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None
