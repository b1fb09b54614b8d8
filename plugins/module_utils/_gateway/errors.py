# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The error of a gateway API call, apart from the client, so that a module's entry point can catch it without
loading the client and its HTTP transport on runs that never call the API (a backup on the files).
client.py raises it and still exports it under its old name."""

from __future__ import annotations


class GatewayError(Exception):
    """A call that did not succeed: method, endpoint, HTTP status and the contract's error code/message."""

    def __init__(self, method, endpoint, status=None, code=None, message=None, text=None):
        self.method = method
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.message = message
        if text is None:  # a subclass may say it its own way (IdentityRefused: not sent at all)
            text = "%s %s: no answer (%s)" % (method, endpoint, message) if status is None else \
                "%s %s -> HTTP %s%s%s" % (method, endpoint, status, " %s" % code if code else "", ": %s" % message if message else "")
        super().__init__(text)
