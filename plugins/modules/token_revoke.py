#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The token_revoke module: its documentation, argument spec and main(); the work is _token/token_revoke_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: token_revoke
short_description: Revoke MCP tokens of a gateway, selected by id, prefix, client or org
version_added: "0.1.0"
description:
  - Selects MCP tokens through the gateway API (C(GET /api/mcp-tokens), following C(nextCursor) to the last
    page, or C(GET /api/mcp-tokens/{id}) for O(ids)) and revokes them with C(POST /api/mcp-tokens/{id}/revoke),
    as runbooks INC-002 (compromised token) and INC-006 (secret leak, every token of an org) need.
  - Filters are combined with AND; O(prefixes) match any of them. A token matching the filters is revoked
    when its status matches O(status); one already revoked is reported under RV(already_revoked) and does not
    make the task changed, one of another status (for example expired with O(status=active)) under RV(skipped).
  - Refused before any request is sent - no filter at all (never treated as every token); O(org_id) as the only
    filter without O(all_in_org=true); O(all_in_org=true) without O(org_id) or combined with another filter;
    an id not matching C(^[A-Za-z0-9_.-]{1,128}$) (for example C(../x)); a prefix shorter than 5 characters;
    an O(org_id) or O(client_id) that is not 1-128 ASCII letters, digits, C(_), C(.) or C(-) starting with a
    letter or digit. Each value must match as a whole - a trailing newline or space, a tab or a look-alike
    letter is refused, never taken to select nothing.
  - Unknown O(ids) (HTTP 404) are listed under RV(not_found) and fail the task before anything is revoked,
    unless O(ignore_missing=true), which revokes the others and reports the unknown ones.
  - Revokes over O(concurrency) kept-alive HTTP connections, opened at most 4 at a time (a new connection's first
    request waits until fewer than 4 are unanswered, so that a short accept queue on the gateway never drops one);
    a transient failure (no answer, timeout, connection reset, HTTP 5xx) is retried O(retries) times with
    exponential backoff. When tokens are left unrevoked the task fails, says how many were left and returns every
    list; re-running it is safe.
  - Neither the admin token nor any token secret appears in a result or an error.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  ids:
    description: Token ids (C(tok_...)) to revoke.
    type: list
    elements: str
  prefixes:
    description: Token prefixes (C(mcp_ab12), as C(tokenPrefix) in C(audit.jsonl)); a token matches when its prefix starts with one of them.
    type: list
    elements: str
  client_id:
    description: Only tokens of this client (C(clientId)); 1-128 of C([A-Za-z0-9_.-]), starting with a letter or digit.
    type: str
  org_id:
    description:
      - Only tokens of this org (C(orgId)); 1-128 of C([A-Za-z0-9_.-]), starting with a letter or digit.
      - Alone, it needs O(all_in_org=true).
    type: str
  all_in_org:
    description:
      - Revoke every token of O(org_id) that matches O(status) (INC-006). Needs O(org_id); cannot be combined
        with O(ids), O(prefixes) or O(client_id).
    type: bool
    default: false
  status:
    description:
      - Which of the selected tokens to revoke. V(active) (not revoked, not expired), V(expired) (expired and not
        revoked) or V(any) (both). Revoked ones are always reported under RV(already_revoked).
    type: str
    choices: [active, expired, any]
    default: active
  ignore_missing:
    description: Do not fail for O(ids) the gateway does not know; they are still listed under RV(not_found).
    type: bool
    default: false
  concurrency:
    description:
      - How many revoke calls run at once (1 to 64), each worker over its own kept-alive connection.
      - The gateway writes its token store once for all the revokes that arrived during its previous write, so
        more calls in flight mean fewer writes; lower it for a gateway that must not take that many connections.
    type: int
    default: 32
  retries:
    description: How many more times a revoke is tried after a transient failure (no answer, timeout, reset, 5xx).
    type: int
    default: 3
extends_documentation_fragment:
  - mcpops.runbooks.gateway_api
  - mcpops.runbooks.gateway_api.admin_api
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes
  - mcpops.runbooks.attributes.gateway_group
attributes:
  check_mode:
    description: Selects the tokens exactly as a real run and returns under RV(revoked) those it would revoke; sends no revoke.
  diff_mode:
    description: There is nothing to diff; the result lists the tokens.
notes:
  - Runs on the managed host with its C(python3) and the standard library only; usually C(delegate_to) a
    host that reaches O(api_url).
seealso:
  - module: mcpops.runbooks.mcp_token
"""

EXAMPLES = r"""
- name: INC-002 - revoke the compromised token(s) by the prefix seen in audit.jsonl
  mcpops.runbooks.token_revoke:
    api_url: http://127.0.0.1:3000
    api_token: "{{ gateway_admin_token }}"
    prefixes: [mcp_ab12]

- name: Revoke given ids, tolerating ids that are already gone
  mcpops.runbooks.token_revoke:
    api_token: "{{ gateway_admin_token }}"
    ids: [tok_7f3a9c, tok_01beef]
    ignore_missing: true

- name: INC-006 - revoke every active token of the org
  mcpops.runbooks.token_revoke:
    api_token: "{{ gateway_admin_token }}"
    org_id: org_acme
    all_in_org: true
  register: revoked

- name: Expired but never revoked tokens of a client, revoked for the record
  mcpops.runbooks.token_revoke:
    api_token: "{{ gateway_admin_token }}"
    client_id: cursor-ide
    status: expired
"""

RETURN = r"""
revoked:
  description: Tokens revoked by this run (in check mode, those that would be), each C(id), C(prefix), C(clientId), C(orgId).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "tok_7f3a9c", "prefix": "mcp_ab12", "clientId": "cursor-ide", "orgId": "org_acme"}]
already_revoked:
  description: Selected tokens that were revoked before (the gateway keeps their first C(revokedAt)); same fields.
  returned: always
  type: list
  elements: dict
not_found:
  description: Ids the gateway does not know (HTTP 404); C(prefix), C(clientId) and C(orgId) are null.
  returned: always
  type: list
  elements: dict
failed_tokens:
  description:
    - Tokens left unrevoked after the retries (named so because Ansible reserves C(failed) for the task's
      own flag), with C(status) (the HTTP status, null when there was no answer),
      C(message) (method, endpoint and what came back) and C(attempts).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "tok_1", "prefix": "mcp_0a1b", "clientId": "ci-bot", "orgId": "org_acme", "status": 500,
            "message": "POST http://127.0.0.1:3000/api/mcp-tokens/tok_1/revoke -> HTTP 500", "attempts": 4}]
skipped:
  description: Tokens matching the filters but not O(status) (their C(status) is given), left as they are.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.api_args import gateway_api_argument_spec
from ansible_collections.mcpops.runbooks.plugins.module_utils._token.token_revoke_run import DEFAULT_CONCURRENCY, run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ids=dict(type="list", elements="str"),
            prefixes=dict(type="list", elements="str", no_log=False),
            client_id=dict(type="str"),
            org_id=dict(type="str"),
            all_in_org=dict(type="bool", default=False),
            status=dict(type="str", default="active", choices=["active", "expired", "any"]),
            ignore_missing=dict(type="bool", default=False),
            concurrency=dict(type="int", default=DEFAULT_CONCURRENCY),
            retries=dict(type="int", default=3),
            **gateway_api_argument_spec()
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
