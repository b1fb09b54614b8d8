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
  - With O(mcp_token), runs the runbook's MCP validation over Streamable HTTP at O(mcp_url). Post-recovery
    (O(validation=post_recovery)) - C(tools/list), then C(list_profiles), then C(check_profile_health) for each
    critical profile, and verifies that no write tool is listed; give the token of a production-bound client.
    Post-incident (O(validation=post_incident), the full set) adds C(get_active_profile) (the token must work
    against a C(production) profile, or the write-tool check proves nothing about production) and
    C(check_connection_health) for every C(production) profile.
  - A write tool is one the server declares so in the tool's MCP C(annotations) - C(readOnlyHint) V(false), or
    C(destructiveHint) V(true) without C(readOnlyHint); C(readOnlyHint) V(true) is a read tool whatever its name.
    A tool that declares no C(readOnlyHint) is judged by its name (C(write_), C(create_), C(update_), C(delete_)),
    and the result says so (RV(mcp.judged_by_name), a warning).
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
  validation:
    description:
      - Which MCP checks run with O(mcp_token) - V(post_recovery) (the runbook's "after restore/restart" set) or
        V(post_incident) (that set plus C(get_active_profile) and C(check_connection_health), the runbook's
        post-incident validation).
    type: str
    choices: [post_recovery, post_incident]
    default: post_recovery
  require_connection_health:
    description:
      - With O(validation=post_incident), whether a production profile whose C(check_connection_health) fails is a
        problem (the gateway counts as unhealthy). V(false) reports it in RV(mcp.connection_problems) and as a
        warning only - a 1C that cannot be reached is INC-004, not a failed recovery of the gateway.
    type: bool
    default: true
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

- name: Post-incident validation - list_profiles, get_active_profile, check_connection_health (every production profile)
  mcpops.runbooks.gateway_health:
    api_url: http://127.0.0.1:3000
    mcp_token: "{{ production_agent_mcp_token }}"
    validation: post_incident
    require_connection_health: false
  register: validation

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
    write_tools:
      description:
        - Each write tool listed, with C(reason) (what the server declared, or that it was judged by its name),
          C(destructive) (null when judged by name) and C(judged_by) (V(annotations) or V(name)).
      type: list
      elements: dict
      sample: [{"name": "import_documents", "reason": "declares readOnlyHint false, destructiveHint true",
                "destructive": true, "judged_by": "annotations"}]
    judged_by_name:
      description: Tools that declare no C(readOnlyHint) in their annotations, judged by their names instead.
      type: list
      elements: str
    notes:
      description: Sentences about the checks that are not problems (tools judged by name).
      type: list
      elements: str
    validation:
      description: Which set ran, V(post_recovery) or V(post_incident).
      type: str
    active_profile:
      description:
        - With O(validation=post_incident), C(get_active_profile)'s answer - C(name), C(environment) and C(source)
          (V(token) or V(default) on the reference gateway). Null otherwise or when it named no profile.
      type: dict
      sample: {"name": "erp-prod", "environment": "production", "source": "token"}
    connection_health:
      description:
        - With O(validation=post_incident), per production profile, C(check_connection_health)'s C(healthy),
          C(status), C(latency_ms), C(error) and C(url).
      type: dict
    connection_problems:
      description: One sentence per production profile whose 1C connection is unhealthy (problems too when
        O(require_connection_health)).
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
            validation=dict(type="str", default="post_recovery", choices=["post_recovery", "post_incident"]),
            require_connection_health=dict(type="bool", default=True),
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
