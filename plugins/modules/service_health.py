#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service_health module: its documentation, argument spec and main(); the work is _health/service_health_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: service_health
short_description: Run a service profile's health checks, the health gate of every runbook
version_added: "0.1.0"
description:
  - Runs the health checks of a service profile (C(profiles/*.yml), docs/services.md) against O(base_url) - for each
    check one HTTP request to its C(path) with its auth (header C(Authorization) V(Bearer <secret>), a named header
    such as C(X-API-Key) with the secret as its value, or none), then judges the answer - the status must be the check's C(expect_status)
    (default 200), the time to the whole answer at most its C(max_latency_ms) (when set), and every one of its
    C(conditions) must hold on the JSON body (C(status == healthy), C(stores.*.ok == true), C(data exists)).
  - Returns one verdict per check, naming the failed condition, and one problem line per failed check.
  - Retries up to O(retries) more rounds of every selected check, O(delay) seconds apart, until all pass.
  - Refused before any request - a selected check whose auth is not in O(auth) or whose secret is missing or empty in
    O(secrets) (the message names the check, the auth and the variable), an unknown name in O(select), a health
    section of the wrong shape or a condition that does not parse.
  - A redirect is an answer (its status is judged), never followed, so that a secret header goes nowhere else.
  - No secret value appears in the result or a message, even when the service echoes it back.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  base_url:
    description:
      - The service's base URL, C(http://host:port) or C(https://host:port[/path]); each check's C(path) is appended.
      - In the runbooks, C(gateway_api_url) or the profile's C(api.default_url) (C(mcpops_service_defaults) in
        C(playbooks/vars/module_defaults.yml)).
    type: str
    required: true
  health:
    description:
      - A profile's C(health) section - C(checks), a non-empty list of checks, and which check is C(liveness),
        C(readiness) and C(deep).
      - "Each check: C(name) (unique), C(path) (starting with C(/)), C(method) (default C(GET)), C(auth) (a name in
        O(auth), or C(none)), C(expect_status) (default 200), C(max_latency_ms) (default no limit), C(conditions) (a
        list, default none): C(<path> exists) or C(<path> <op> <value>) with C(==), C(!=), C(<), C(<=), C(>), C(>=);
        C(*) in a path stands for every key or item, and the condition must hold for each."
    type: dict
    required: true
  auth:
    description:
      - A profile's C(auth) section - name -> C({style, header, secret_var}), C(style) one of C(bearer), C(header),
        C(none); C(header) the header's name for style C(header); C(secret_var) the name of the variable that holds
        the secret (its value comes in O(secrets)).
    type: dict
    default: {}
  secrets:
    description:
      - The secrets the auth entries name - variable name (C(secret_var)) -> value. Only the selected checks' secrets
        are needed; each must be non-empty.
      - Never logged, and every value is redacted from the result.
    type: dict
    default: {}
  select:
    description:
      - Which checks to run - check names, or the words C(liveness), C(readiness), C(deep) for the checks the health
        section names so. Default every check. They run in the profile's order.
    type: list
    elements: str
    default: []
  validate_certs:
    description: Verify the service's TLS certificate (https).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for one check's answer.
    type: int
    default: 10
  retries:
    description: How many more rounds of the checks to run after the first, until every check passes.
    type: int
    default: 0
  delay:
    description: Seconds between rounds.
    type: int
    default: 2
  fail_when_unhealthy:
    description: Fail the task when a check still fails after the retries; otherwise only report.
    type: bool
    default: true
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.service_group
notes:
  - Runs on the managed host with its C(python3) and the standard library only.
  - A body is decoded as JSON when it parses (up to 1 MiB); a condition on a body that is not JSON fails.
seealso:
  - module: mcpops.runbooks.gateway_health
"""

EXAMPLES = r"""
- name: The profile's checks, through the play's module_defaults (playbooks/vars/module_defaults.yml)
  # module_defaults:
  #   group/mcpops.runbooks.service: "{{ mcpops_service_defaults }}"
  mcpops.runbooks.service_health:
    retries: 10
    delay: 3
  register: health

- name: Only the liveness check, report without failing
  mcpops.runbooks.service_health:
    select: [liveness]
    fail_when_unhealthy: false

- name: CCTelegram's /health behind X-API-Key, written out in full
  mcpops.runbooks.service_health:
    base_url: http://127.0.0.1:8080
    health:
      checks:
        - {name: health, path: /health, auth: api_key, expect_status: 200, max_latency_ms: 2000,
           conditions: ["status == healthy"]}
      liveness: health
    auth:
      api_key: {style: header, header: X-API-Key, secret_var: cctelegram_api_key}
    secrets:
      cctelegram_api_key: "{{ cctelegram_api_key }}"
"""

RETURN = r"""
healthy:
  description: Whether every selected check passed (in the last round).
  returned: always
  type: bool
attempts:
  description: How many rounds of the checks ran.
  returned: always
  type: int
checks:
  description: One verdict per selected check, of the last round, in the profile's order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check's name.
      type: str
    roles:
      description: Which of C(liveness), C(readiness), C(deep) the health section names this check for.
      type: list
      elements: str
    method:
      description: The HTTP method.
      type: str
    url:
      description: The URL requested.
      type: str
    status:
      description: The HTTP status; null when there was no answer.
      type: int
    latency_ms:
      description: Milliseconds from sending the request to the end of the answer (or to the failure).
      type: int
    ok:
      description: Whether the check passed.
      type: bool
    problem:
      description: Why the check failed; null when it passed.
      type: str
    failed_condition:
      description: The text of the first condition that did not hold; null when none failed.
      type: str
    body:
      description: The decoded JSON body when it is JSON and at most 4 KiB; else null. Secrets redacted.
      type: raw
  sample:
    - name: health
      roles: [liveness, readiness]
      method: GET
      url: http://127.0.0.1:8080/health
      status: 200
      latency_ms: 4
      ok: true
      problem: null
      failed_condition: null
      body: {"status": "healthy"}
problems:
  description: One line per failed check, naming the check, its request and what failed.
  returned: always
  type: list
  elements: str
  sample:
    - "check health (GET http://127.0.0.1:8080/health): HTTP 503, expected 200"
    - "check deep (GET http://127.0.0.1:8000/api/health): condition 'redis.status == healthy' failed: redis.status is \"unhealthy\""
failed_checks:
  description: The names of the failed checks.
  returned: always
  type: list
  elements: str
  sample: [deep]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.service_health_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            base_url=dict(type="str", required=True),
            health=dict(type="dict", required=True),
            auth=dict(type="dict", default={}),
            secrets=dict(type="dict", default={}, no_log=True),
            select=dict(type="list", elements="str", default=[]),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="int", default=10),
            retries=dict(type="int", default=0),
            delay=dict(type="int", default=2),
            fail_when_unhealthy=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
