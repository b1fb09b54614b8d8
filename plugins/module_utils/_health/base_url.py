# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base_url of a service profile's checks: http(s)://host[:port][/path], checked before any request.

Its own file so that loyalty_quick_check, which runs the checks its own way, does not compile service_health's run
(the AnsiballZ payload keeps no .pyc, issue 20's <= 30 ms of own imports).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

_BAD_URL_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")


def check_base_url(base_url):
    """base_url without a trailing /, when it is http(s)://host[:port][/path]; TaskError otherwise."""
    if not isinstance(base_url, str) or _BAD_URL_CHARS.search(base_url):
        raise TaskError("base_url must be http(s)://host[:port][/path] with no space or control character; "
                        "nothing was checked")
    parts = urlsplit(base_url)
    try:
        parts.port
    except ValueError:
        raise TaskError("base_url %r has a bad port; nothing was checked" % base_url)
    if parts.username is not None or parts.password is not None:
        raise TaskError("base_url must not carry a user or password (the auth section says how to authenticate); "
                        "nothing was checked")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise TaskError("base_url %r is not http(s)://host[:port][/path]; nothing was checked" % base_url)
    return base_url.rstrip("/")
