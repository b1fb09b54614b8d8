# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documentation of the gateway API options (validate_certs, timeout; admin_api adds api_url and api_token)."""

from __future__ import annotations


class ModuleDocFragment:
    # The options of every module that talks to the gateway API; the argument spec that goes with them
    # is module_utils/_gateway/api_args.py. DOCUMENTATION is what every such module shares; ADMIN_API
    # (mcpops.runbooks.gateway_api.admin_api) adds api_url and a required api_token for the modules
    # that only work through the API. Modules that can also work on files document those two themselves.
    DOCUMENTATION = r"""
options:
  validate_certs:
    description: Verify the TLS certificate of O(api_url).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each HTTP call.
    type: int
    default: 10
"""

    ADMIN_API = r"""
options:
  api_url:
    description: Base URL of the gateway API.
    type: str
    default: http://127.0.0.1:3000
  api_token:
    description: The admin (bootstrap) token, C(ONEC_MCP_HTTP_TOKEN). Never appears in a result or an error.
    type: str
    required: true
"""
