#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mcp_token_info module: its documentation, argument spec and main(); the work is _token/mcp_token_info_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mcp_token_info
short_description: List the MCP tokens of a gateway by status, client, org or prefix, every page
version_added: "0.1.0"
description:
  - Lists tokens through C(GET /api/mcp-tokens), following C(nextCursor) to the last page, as the review steps
    of runbook INC-002 need (expired but unrevoked tokens, tokens of clients no longer allowed).
  - Filters are combined with AND. Each filter is also checked on what comes back, so a gateway that ignores a
    query parameter cannot widen the answer.
  - Returns token records without any secret or secret hash.
  - Refused before any request - an unknown O(status); a O(prefix) that is not a token prefix (the bare C(mcp_)
    would match every token); an O(org_id) or O(client_id) that is not 1-128 ASCII letters, digits, C(_), C(.)
    or C(-) starting with a letter or digit. Each value must match as a whole - a trailing newline or space is
    refused, not answered with an empty list.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  status:
    description: Which tokens to list. V(active), V(expired) (expired and not revoked), V(revoked) or V(any).
    type: str
    choices: [active, expired, revoked, any]
    default: any
  client_id:
    description: Only tokens of this client (C(clientId)).
    type: str
  org_id:
    description: Only tokens of this org (C(orgId)).
    type: str
  prefix:
    description: Only tokens whose prefix starts with this (C(mcp_ab12), as C(tokenPrefix) in C(audit.jsonl)).
    type: str
extends_documentation_fragment:
  - mcpops.runbooks.gateway_api
  - mcpops.runbooks.gateway_api.admin_api
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.gateway_group
notes:
  - Runs on the managed host with its C(python3) and the standard library only.
seealso:
  - module: mcpops.runbooks.token_revoke
  - module: mcpops.runbooks.mcp_token
"""

EXAMPLES = r"""
- name: INC-002 review - expired tokens that were never revoked
  mcpops.runbooks.mcp_token_info:
    api_token: "{{ gateway_admin_token }}"
    status: expired
  register: expired

- name: Every active token of one client
  mcpops.runbooks.mcp_token_info:
    api_url: https://gateway.example.org
    api_token: "{{ gateway_admin_token }}"
    client_id: cursor-ide
    status: active
"""

RETURN = r"""
tokens:
  description:
    - The tokens listed, sorted by id; each the gateway's record (C(id), C(prefix), C(clientId), C(orgId), C(scopes),
      C(createdAt), C(expiresAt), C(revokedAt), C(blocked), C(rateLimit), C(profile) where set) and its C(status).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "tok_7f3a9c", "prefix": "mcp_ab12", "clientId": "cursor-ide", "orgId": "org_acme",
            "scopes": ["tools:read"], "expiresAt": "2026-11-01T00:00:00Z", "revokedAt": null, "status": "expired"}]
count:
  description: How many tokens were listed.
  returned: always
  type: int
by_status:
  description: How many of the listed tokens are C(active), C(expired) and C(revoked).
  returned: always
  type: dict
  sample: {"active": 40, "expired": 3, "revoked": 7}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.api_args import gateway_api_argument_spec
from ansible_collections.mcpops.runbooks.plugins.module_utils._token.mcp_token_info_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            status=dict(type="str", default="any", choices=["active", "expired", "revoked", "any"]),
            client_id=dict(type="str"),
            org_id=dict(type="str"),
            prefix=dict(type="str", no_log=False),
            **gateway_api_argument_spec()
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
