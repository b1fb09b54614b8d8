#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mcp_token module: its documentation, argument spec and main(); the work is _token/mcp_token_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mcp_token
short_description: Issue a scoped MCP token (secret to a 0600 file) or update one
version_added: "0.1.0"
description:
  - Without O(id), issues a new MCP token through C(POST /api/mcp-tokens) for O(client_id) in O(org_id) with
    O(scopes), O(rate_limit), O(expires_in) and O(profile) (INC-002, a new token for the client whose token
    was revoked).
  - The new secret is never returned. It is written to O(secret_dest) on the host that runs the module, mode
    0600, atomically (a temp file in the same directory, fsync, rename); an existing file there is replaced.
    The directory must exist; it is checked before the token is issued. If the secret cannot be written after
    all, the new token is revoked again and the task fails. Only the record (RV(token)) and RV(prefix) are returned.
  - Issuing is not idempotent - every run without O(id) issues one more token (and replaces O(secret_dest)).
    Guard the task with a C(when) or revoke the old token first with M(mcpops.runbooks.token_revoke).
  - With O(id), updates that token's O(rate_limit), O(blocked) and O(expires_at) (INC-005) idempotently - it
    reads the token (C(GET /api/mcp-tokens/{id})), compares, and sends C(PATCH /api/mcp-tokens/{id}) with only
    the fields that differ; nothing is sent and the task is not changed when they already match.
  - Neither the admin token nor the new secret appears in a result or an error.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  state:
    description: V(present) is the only state; revoke tokens with M(mcpops.runbooks.token_revoke).
    type: str
    choices: [present]
    default: present
  id:
    description:
      - The token to update. Without it a new token is issued.
      - Must match C(^[A-Za-z0-9_.-]{1,128}$); anything else is refused before any request.
    type: str
  client_id:
    description:
      - The client of a new token; must be in the gateway's C(allowedClients). Required when issuing.
      - 1-128 ASCII letters, digits, C(_), C(.) or C(-), starting with a letter or digit, as a whole (a trailing
        newline or space is refused), the rule M(mcpops.runbooks.token_revoke) selects by.
    type: str
  org_id:
    description:
      - The org of a new token. Required when issuing.
      - The same rule as O(client_id).
    type: str
  scopes:
    description: Scopes of a new token, for example C(tools:read). Required when issuing.
    type: list
    elements: str
  rate_limit:
    description: Requests per minute (C(rateLimit.requestsPerMinute)); for a new token or to update O(id).
    type: int
  expires_in:
    description: Seconds until a new token expires; without it the token does not expire.
    type: int
  profile:
    description: The 1C profile a new token is bound to.
    type: str
  secret_dest:
    description:
      - Where the new secret is written (mode 0600), on the host that runs the module. Required when issuing.
        Its directory must exist.
    type: path
  blocked:
    description: Block (V(true)) or unblock (V(false)) the token O(id).
    type: bool
  expires_at:
    description:
      - New expiry of the token O(id), an ISO-8601 timestamp (compared in UTC to the second), or V(never) to
        remove the expiry.
    type: str
extends_documentation_fragment:
  - mcpops.runbooks.gateway_api
  - mcpops.runbooks.gateway_api.admin_api
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes_with_diff
  - mcpops.runbooks.attributes.gateway_group
attributes:
  check_mode:
    description:
      - Reports what would be issued (the request, as RV(token)) or changed (the token with the changes applied);
        sends no POST or PATCH and writes no file. An update still reads the token.
  diff_mode:
    description: For an update, the changed fields before and after.
notes:
  - Runs on the managed host with its C(python3) and the standard library only; use C(delegate_to) to write the
    secret on the operator's host.
seealso:
  - module: mcpops.runbooks.token_revoke
"""

EXAMPLES = r"""
- name: INC-002 - issue a new scoped token for the client, secret to a 0600 file for the operator
  mcpops.runbooks.mcp_token:
    api_url: http://127.0.0.1:3000
    api_token: "{{ gateway_admin_token }}"
    client_id: cursor-ide
    org_id: org_acme
    scopes: [tools:read]
    rate_limit: 60
    expires_in: 2592000
    secret_dest: /root/incident/cursor-ide.token
  delegate_to: localhost
  register: new_token

- name: INC-005 - lower the rate limit of the noisy token
  mcpops.runbooks.mcp_token:
    api_token: "{{ gateway_admin_token }}"
    id: tok_7f3a9c
    rate_limit: 30

- name: INC-005 - block it instead
  mcpops.runbooks.mcp_token:
    api_token: "{{ gateway_admin_token }}"
    id: tok_7f3a9c
    blocked: true
"""

RETURN = r"""
token:
  description:
    - The token record (C(id), C(prefix), C(clientId), C(orgId), C(scopes), C(createdAt), C(expiresAt),
      C(revokedAt), C(blocked), C(rateLimit)), never its secret. In check mode, what would be issued (C(id) null)
      or the token with the changes applied.
  returned: always
  type: dict
  sample: {"id": "tok_7f3a9c", "prefix": "mcp_ab12", "clientId": "cursor-ide", "orgId": "org_acme",
           "scopes": ["tools:read"], "blocked": false, "rateLimit": {"requestsPerMinute": 60}}
prefix:
  description: The token's prefix (C(tokenPrefix) in audit lines); null in check mode when issuing.
  returned: always
  type: str
  sample: mcp_ab12
secret_dest:
  description: The absolute path the new secret was written to (would be, in check mode).
  returned: when issuing
  type: str
  sample: /root/incident/cursor-ide.token
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.api_args import gateway_api_argument_spec
from ansible_collections.mcpops.runbooks.plugins.module_utils._token.mcp_token_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["present"]),
            id=dict(type="str"),
            client_id=dict(type="str"),
            org_id=dict(type="str"),
            scopes=dict(type="list", elements="str"),
            rate_limit=dict(type="int"),
            expires_in=dict(type="int"),
            profile=dict(type="str"),
            secret_dest=dict(type="path", no_log=False),
            blocked=dict(type="bool"),
            expires_at=dict(type="str"),
            **gateway_api_argument_spec()
        ),
        mutually_exclusive=[("id", "client_id"), ("id", "org_id"), ("id", "scopes"), ("id", "expires_in"),
                            ("id", "profile"), ("id", "secret_dest")],
        supports_check_mode=True,
    )
    run_module(module, run, diff=module._diff)


if __name__ == "__main__":
    main()
