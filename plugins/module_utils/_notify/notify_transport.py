# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP transport of the notifications: the collection's urllib transport (_common/http_transport) with TLS
verified against the system's CAs or a given CA file, and redirects never followed (an Authorization header must not
travel to wherever Location points)."""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import NoAnswer, UrllibTransport


class NotifyTransport(UrllibTransport):
    """exchange(method, url, data, headers) -> Answer, or NoAnswer (refused, reset, timed out, TLS failed, or a
    request urllib will not send)."""

    def __init__(self, validate_certs=True, ca_path=None, timeout=10):
        super().__init__(validate_certs, timeout, follow_redirects=False, ca_path=ca_path)

    def exchange(self, method, url, data, headers):
        try:
            return super().exchange(method, url, data, headers)
        except ValueError as exc:  # a URL or header urllib will not send: the run's redaction cleans the text
            raise NoAnswer("%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__) from None
