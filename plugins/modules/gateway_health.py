#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mcpops-runbooks engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
  - Retries up to O(retries) more times, O(delay) seconds apart, until everything is healthy.
  - Read-only; runs in check mode.
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
extends_documentation_fragment:
  - mcpops.runbooks.gateway_api
attributes:
  check_mode:
    description: Read-only, so a check run does exactly what a real run does.
    support: full
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
attempts:
  description: How many times the checks ran.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils.gateway_health_check import (
    GatewayUnhealthyError,
    check_until_healthy,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.api_args import gateway_api_argument_spec


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
            **gateway_api_argument_spec(token_required=False)
        ),
        supports_check_mode=True,
    )
    try:
        result = check_until_healthy(module.params, module.warn)
    except GatewayUnhealthyError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
