#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway_health module: its documentation, argument spec and main(); the work is _gateway/gateway_health_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_health
short_description: Check an MCP gateway the way the runbook's post-recovery steps do
version_added: "0.1.0"
description:
  - Checks C(/healthz), C(/readyz) and, with O(api_token), C(/api/system/storage-meta) (a known
    C(schemaVersion) no newer than O(max_schema_version) and every store C(ok)).
  - With O(mcp_token), runs the runbook's post-recovery MCP checks over Streamable HTTP at O(mcp_url),
    C(tools/list), then C(list_profiles), then C(check_profile_health) for each critical profile, and
    verifies that no write tool (a name starting with C(write_), C(create_), C(update_) or C(delete_))
    is listed; give the token of a production-bound client.
  - With O(check_tokens), proves which admin tokens the gateway accepts and which it refuses (INC-006 after
    rotating C(ONEC_MCP_HTTP_TOKEN)) - C(GET /api/system/storage-meta) must answer 200 to each
    O(check_tokens.accepted) token and 401 to each O(check_tokens.refused) token; anything else is a problem.
  - Retries up to O(retries) more times, O(delay) seconds apart, until everything is healthy.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  api_url:
    description: Base URL of the gateway.
    type: str
    default: http://127.0.0.1:3000
  api_token:
    description: The admin (bootstrap) token; without it storage-meta is not checked.
    type: str
  mcp_url:
    description: The MCP endpoint; default O(api_url) followed by C(/mcp).
    type: str
  mcp_token:
    description: An MCP token bound to a production profile; without it the MCP checks are skipped.
    type: str
  critical_profiles:
    description:
      - Profiles to run C(check_profile_health) on. Default every profile C(list_profiles) reports with
        C(environment) V(production).
    type: list
    elements: str
  max_schema_version:
    description: The newest storage C(schemaVersion) the gateway binary supports.
    type: int
    default: 3
  retries:
    description: How many more times to check after the first, until healthy.
    type: int
    default: 10
  delay:
    description: Seconds between checks.
    type: int
    default: 2
  fail_when_unhealthy:
    description: Fail the task when the gateway is still unhealthy after the retries; otherwise only report.
    type: bool
    default: true
  check_tokens:
    description:
      - Admin tokens to try on C(GET /api/system/storage-meta), to prove a rotation took effect. The tokens
        never appear in a result or an error; RV(token_checks) names them by list and position.
      - Refused before any request - an empty token (an unset variable) or a token in both lists.
    type: dict
    suboptions:
      accepted:
        description: Tokens that must be accepted (HTTP 200), for example the new admin token.
        type: list
        elements: str
        default: []
      refused:
        description: Tokens that must be refused (HTTP 401), for example the old admin token.
        type: list
        elements: str
        default: []
extends_documentation_fragment:
  - mcpops.runbooks.gateway_api
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.gateway_group
notes:
  - Runs on the managed host with its C(python3) and the standard library only.
seealso:
  - module: mcpops.runbooks.gateway_backup
"""

EXAMPLES = r"""
- name: INC-003 step 4 and the post-recovery tools/list checks
  mcpops.runbooks.gateway_health:
    api_url: http://127.0.0.1:3000
    api_token: "{{ gateway_admin_token }}"
    mcp_token: "{{ production_agent_mcp_token }}"
  register: health

- name: INC-006 step 2 - the new admin token works and the old one is refused, once the gateway answers
  mcpops.runbooks.gateway_health:
    api_url: http://127.0.0.1:3000
    api_token: "{{ new_admin_token }}"
    check_tokens:
      accepted: ["{{ new_admin_token }}"]
      refused: ["{{ old_admin_token }}"]
    retries: 15
    delay: 1
  register: rotation

- name: Report without failing
  mcpops.runbooks.gateway_health:
    retries: 0
    fail_when_unhealthy: false
"""

RETURN = r"""
healthy:
  description: Whether every check passed.
  returned: always
  type: bool
problems:
  description: What failed, one sentence each, naming the endpoint or tool and what came back.
  returned: always
  type: list
  elements: str
  sample: ["GET http://127.0.0.1:3000/readyz: not ready, failing checks: storage=corrupt"]
healthz:
  description: The C(/healthz) body; null when it did not answer.
  returned: always
  type: dict
readyz:
  description: The C(/readyz) body (a 503 body too); null when it did not answer.
  returned: always
  type: dict
storage_meta:
  description: The C(/api/system/storage-meta) body; null without O(api_token) or when it failed.
  returned: always
  type: dict
mcp:
  description: The MCP checks; null without O(mcp_token).
  returned: always
  type: dict
  contains:
    tools:
      description: Tool names C(tools/list) returned.
      type: list
      elements: str
    profiles:
      description: The profiles C(list_profiles) returned.
      type: list
      elements: dict
    profile_health:
      description: Per critical profile, C(healthy) and the tool's C(result).
      type: dict
    write_tools_listed:
      description: Write tools listed for the token (must be empty for a production-bound token).
      type: list
      elements: str
token_checks:
  description:
    - With O(check_tokens), what C(GET /api/system/storage-meta) answered to each token, in the order given
      (never the token itself) - C(status) (the HTTP status, null when there was no answer) and C(ok) (it was
      200 for an accepted token, 401 for a refused one). Null without O(check_tokens).
  returned: always
  type: dict
  sample: {"accepted": [{"status": 200, "ok": true}], "refused": [{"status": 401, "ok": true}]}
  contains:
    accepted:
      description: One entry per O(check_tokens.accepted) token.
      type: list
      elements: dict
    refused:
      description: One entry per O(check_tokens.refused) token.
      type: list
      elements: dict
attempts:
  description: How many times the checks ran.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.api_args import gateway_api_argument_spec
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.gateway_health_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mcp_url=dict(type="str"),
            mcp_token=dict(type="str", no_log=True),
            critical_profiles=dict(type="list", elements="str"),
            max_schema_version=dict(type="int", default=3),
            retries=dict(type="int", default=10),
            delay=dict(type="int", default=2),
            fail_when_unhealthy=dict(type="bool", default=True),
            check_tokens=dict(
                type="dict",
                no_log=True,
                options=dict(
                    accepted=dict(type="list", elements="str", default=[], no_log=True),
                    refused=dict(type="list", elements="str", default=[], no_log=True),
                ),
            ),
            **gateway_api_argument_spec(token_required=False)
        ),
        supports_check_mode=True,
    )
    run_module(module, run, warn=module.warn)


if __name__ == "__main__":
    main()
