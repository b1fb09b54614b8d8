# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec of the gateway API options (documented by the doc fragment mcpops.runbooks.gateway_api)."""

from __future__ import annotations

# The gateway's own default address, the client's default too. Defined here, not in client.py, so that a module's
# argument spec does not load the client and its HTTP transport (the AnsiballZ payload compiles what it imports).
DEFAULT_API_URL = "http://127.0.0.1:3000"


def gateway_api_argument_spec(api_url_default=DEFAULT_API_URL, token_required=True):
    """api_url, api_token (no_log), validate_certs, timeout and the operator identity (break_glass_account,
    operator), to merge into a module's argument_spec.

    api_url_default=None and token_required=False suit modules that can also work on files alone. The identity is
    checked by the client (_gateway/operator_identity.py) before the first changing call, not here.
    """
    return dict(
        api_url=dict(type="str", default=api_url_default),
        api_token=dict(type="str", required=token_required, no_log=True),
        validate_certs=dict(type="bool", default=True),
        timeout=dict(type="int", default=10),
        break_glass_account=dict(type="str"),
        operator=dict(type="str"),
    )
