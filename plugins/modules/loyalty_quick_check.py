#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The loyalty_quick_check module: its documentation, argument spec and main(); the work is
_service/loyalty_quick_check_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: loyalty_quick_check
short_description: The Loyalty API's quick check - containers, smoke checks, integration smoke, last log lines at once
version_added: "0.2.0"
description:
  - The Loyalty API runbook's "Быстрый чек" (seed 003) in one task - the containers' status (the seed's
    C(./scripts/deploy.sh production status)), the smoke checks of health, ready, live and metrics (C(smoke-check.sh)),
    the integration smoke (C(smoke-integrations.sh), read-only unless O(allow_mutations)) and the last O(log_lines)
    lines of O(log_service)'s logs (C(docker compose ... logs api --tail=1000)).
  - The seed runs these one after the other; none needs another's answer, so here every compose command and every
    HTTP check runs at the same time, each in its own thread.
  - "Containers - the compose project's containers, from the Docker Engine API or from C(docker compose ps --all
    --format json) with the project's C(--env-file) and C(-f) files (O(read_via)); a service none of whose containers
    is running is a finding, and so is a project with no container at all."
  - Smoke checks - the service profile's health checks (O(health), O(auth), O(secrets), as M(mcpops.runbooks.service_health)
    runs them, the same verdicts and problem lines), each within its C(SMOKE_MAX_MS_*) (O(smoke_max_ms), else the
    profile's C(max_latency_ms)).
  - Integration smoke - C(GET /api/v1/loyalty/balance/<smoke_customer_id>) (200 with a balance; none given, a customer
    that does not exist, 404 C(customer_not_found)) within C(SMOKE_MAX_MS_BALANCE); with O(allow_mutations), earn 1
    point and redeem it (200 each, never in check mode) within C(SMOKE_MAX_MS_MUTATION).
  - The log lines are masked (a password in a URL, C(token=), C(password=), C(secret=), C(api_key=) values, every
    secret in O(secrets) and O(mask)) and returned; the task itself never fails on a finding, the caller decides.
  - Refused before any command or request - a bad O(base_url), a health section of the wrong shape, a selected
    check's secret missing, an unknown O(smoke_max_ms) name, a bad O(smoke_customer_id) or O(log_service), an
    O(project_src) that is not a directory.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  base_url:
    description: The API's base URL, C(http://host:port); in the runbooks C(gateway_api_url) or the profile's C(api.default_url).
    type: str
    required: true
  health:
    description: The service profile's C(health) section (see M(mcpops.runbooks.service_health)); every check runs.
    type: dict
    required: true
  auth:
    description: The profile's C(auth) section (see M(mcpops.runbooks.service_health)).
    type: dict
    default: {}
  secrets:
    description: The secrets the auth entries name, variable name -> value (the metrics token). Never returned.
    type: dict
    default: {}
  validate_certs:
    description: Verify the API's TLS certificate (https).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for one smoke check's answer.
    type: int
    default: 10
  project_src:
    description: The compose project's directory (absolute), as M(community.docker.docker_compose_v2) names it.
    type: path
    required: true
  files:
    description: The compose files (C(-f)); relative ones are the project directory's. Empty - compose's default.
    type: list
    elements: str
    default: []
  env_files:
    description: The env files (C(--env-file)); relative ones are the project directory's.
    type: list
    elements: str
    default: []
  docker_host:
    description: The daemon (C(DOCKER_HOST)), for example C(unix:///run/docker.sock); default the environment's.
    type: str
  docker_cli:
    description: The docker CLI to run.
    type: path
    default: docker
  docker_config:
    description: C(DOCKER_CONFIG), the config directory holding the compose CLI plugin; default the environment's.
    type: path
  read_via:
    description:
      - How the containers and the log lines are read - V(engine_api), the Docker Engine API on its unix socket (no
        CLI started; the socket of O(docker_host), else C(DOCKER_HOST), else C(/var/run/docker.sock)); V(cli),
        C(docker compose ps --all --format json) and C(docker compose logs); V(auto), the Engine API when the CLI would
        talk to a unix socket (not C(tcp://), C(ssh://) or a docker context), else the CLI.
      - Through the Engine API the project's containers are those whose compose label
        C(com.docker.compose.project.working_dir) is O(project_src).
    type: str
    choices: [auto, engine_api, cli]
    default: auto
  command_timeout:
    description: Seconds each compose command or Engine API call may take.
    type: int
    default: 120
  smoke_max_ms:
    description:
      - The seed's C(SMOKE_MAX_MS_*) - the most milliseconds each call may take, keyed by a profile check's name
        (C(health), C(ready), C(live), C(metrics)), C(balance) (default 2000) or C(mutation) (default 3000).
    type: dict
    default: {}
  smoke_customer_id:
    description: C(SMOKE_CUSTOMER_ID), the customer whose balance is read; empty - a customer that does not exist.
    type: str
    default: ""
  allow_mutations:
    description: C(SMOKE_ALLOW_MUTATIONS=1) - earn 1 point and redeem it for the smoke customer (never in check mode).
    type: bool
    default: false
  log_service:
    description: The compose service whose logs are read.
    type: str
    default: api
  log_lines:
    description: How many of the newest log lines to return (C(--tail)); 0 reads none.
    type: int
    default: 1000
  mask:
    description: More secret values (the database password) masked in the log lines and redacted from the result.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.service_group
notes:
  - Runs on the compose host with its C(python3) and the standard library; through the CLI (O(read_via)), with the
    C(docker) CLI and its compose plugin.
  - The metrics thresholds over a window are M(mcpops.runbooks.metrics_thresholds)' work, not this module's.
seealso:
  - module: mcpops.runbooks.service_health
  - module: mcpops.runbooks.metrics_thresholds
"""

EXAMPLES = r"""
- name: "Quick check: containers, smoke of health/ready/live/metrics, integration smoke, last log lines"
  # module_defaults: group/mcpops.runbooks.service: "{{ mcpops_service_defaults }}" gives base_url, health, auth,
  # secrets and validate_certs (playbooks/vars/module_defaults.yml)
  mcpops.runbooks.loyalty_quick_check:
    project_src: /srv/loyalty
    files: [docker-compose.production.yml]
    env_files: [.env.production]
    smoke_max_ms: {health: 500, balance: 1500}
    log_lines: 1000
    mask: ["{{ loyalty_db_password }}"]
  register: quick_check

- name: The seed's SMOKE_ALLOW_MUTATIONS=1 for one customer
  mcpops.runbooks.loyalty_quick_check:
    project_src: /srv/loyalty
    files: [docker-compose.production.yml]
    env_files: [.env.production]
    smoke_customer_id: cust-42
    allow_mutations: true
"""

RETURN = r"""
ok:
  description: Whether nothing was found wrong.
  returned: always
  type: bool
findings:
  description: One line a finding - the containers not running, each failed smoke check, each failed integration call.
  returned: always
  type: list
  elements: str
  sample:
    - "containers not running: postgres"
    - "check ready (GET http://127.0.0.1:3000/ready): HTTP 503, expected 200; condition 'status == ok' failed: status is \"degraded\""
containers:
  description: Each compose service's containers' states, comma-separated (C(running), C(exited), ...; empty - no container).
  returned: always
  type: dict
  sample: {"api": "running", "postgres": "exited", "redis": "running", "worker": "running"}
containers_down:
  description: The services none of whose containers is running.
  returned: always
  type: list
  elements: str
containers_error:
  description: Why the containers' status could not be read (the command and what it said); null when it was.
  returned: always
  type: str
smoke:
  description: The smoke checks - C(healthy), C(checks) (one verdict each, as M(mcpops.runbooks.service_health) returns them), C(problems), C(failed_checks).
  returned: always
  type: dict
integration:
  description:
    - The integration smoke - C(ok), C(checks) (the balance read's verdict), C(problems), C(mutations) (C(ran),
      C(not run (read-only)), C(not run (check mode))).
  returned: always
  type: dict
logs:
  description:
    - The log lines read - C(service), C(tail), C(error) (why they could not be read; null when they were) and C(lines)
      (masked, prefixed C(<service>-<n>  | ) as C(docker compose logs) prints them).
  returned: always
  type: dict
read_via:
  description: What the containers and log lines were read through - C(engine API (unix://<socket>)) or C(docker compose CLI).
  returned: always
  type: str
elapsed_seconds:
  description: Seconds the checks took, all of them running at once.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.loyalty_quick_check_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            base_url=dict(type="str", required=True),
            health=dict(type="dict", required=True),
            auth=dict(type="dict", default={}),
            secrets=dict(type="dict", default={}, no_log=True),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="int", default=10),
            project_src=dict(type="path", required=True),
            files=dict(type="list", elements="str", default=[]),
            env_files=dict(type="list", elements="str", default=[]),
            docker_host=dict(type="str"),
            docker_cli=dict(type="path", default="docker"),
            docker_config=dict(type="path"),
            read_via=dict(type="str", default="auto", choices=["auto", "engine_api", "cli"]),
            command_timeout=dict(type="int", default=120),
            smoke_max_ms=dict(type="dict", default={}),
            smoke_customer_id=dict(type="str", default=""),
            allow_mutations=dict(type="bool", default=False),
            log_service=dict(type="str", default="api"),
            log_lines=dict(type="int", default=1000),
            mask=dict(type="list", elements="str", default=[], no_log=True),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
