# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documentation of the gateway API options (validate_certs, timeout, the operator identity; admin_api adds
api_url and api_token)."""

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
  break_glass_account:
    description:
      - The break-glass account this change is made under. Every call that changes the gateway (C(POST) and C(PATCH) calls for
        token revoke, issue and update, backup create and restore, index discover) carries it in the header
        C(X-Mcpops-Break-Glass), and the gateway's audit log records it (C(actor.breakGlass)). Read calls do not
        carry it.
      - 1 to 128 characters, no control character (no CR, LF or tab), no space at either end; sent as printable
        ASCII with any other character (and C(%)) percent-encoded as UTF-8. A value that breaks the rule fails the
        first changing call before it is sent; nothing is changed.
      - In the runbooks it is the inventory or extra var C(mcpops_break_glass_account) (module_defaults), and the
        role P(mcpops.runbooks.operator_identity#role) refuses a run without one before its first change, unless
        C(mcpops_allow_no_break_glass=true). Not given, no header is sent.
      - C(docs/dev/contract-operator-identity.md) is the contract.
    type: str
  operator:
    description:
      - The person who ran the change, in the header C(X-Mcpops-Operator) of every changing call and in the
        gateway's audit log (C(actor.operator)); same rule as O(break_glass_account).
      - In the runbooks it is C(mcpops_operator), else the AWX job's launcher (C(awx_user_name),
        C(tower_user_name)), else the controller's user (C(SUDO_USER), C(USER), C(LOGNAME)). Not given, no header
        is sent.
    type: str
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
