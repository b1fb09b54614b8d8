#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway_service_facts module: documentation, argument spec, main(); the work is _service/gateway_service_facts_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_service_facts
short_description: Read the MCP gateway's service state on systemd, supervisor, docker compose or kubernetes
version_added: "0.1.0"
description:
  - Reads, with the service manager's own read-only commands, the state of the gateway service in one
    shape whatever the platform, active state, main PID, restart count, last exit status, uptime and the
    last O(log_lines) log lines.
  - "systemd: C(systemctl show) (C(ActiveState), C(SubState), C(MainPID), C(NRestarts), C(ExecMainStatus),
    C(ActiveEnterTimestampMonotonic)) and C(journalctl -u). When the unit runs again after a restart systemd
    made, its last exit status is the newest C(Main process exited) line in the journal."
  - "supervisor: C(supervisorctl status), C(supervisorctl maintail) (supervisord's log, where its spawns and
    exits are recorded: the restart count and last exit status) and C(supervisorctl tail <program> stderr)."
  - "docker_compose: C(docker compose ps), C(docker inspect) (C(RestartCount), C(State)) and C(docker compose logs)."
  - "kubernetes: C(kubectl get deployment), C(kubectl get pods) and C(kubectl get replicasets) by its selector
    (C(restartCount), C(CrashLoopBackOff), the revisions) and C(kubectl logs); the rollout's progress as
    C(kubectl rollout status) decides it, with the new revision's pods that crash."
  - "kubernetes, given O(k8s_env) or O(k8s_rollback_revision): the plan of C(kubectl set env) or
    C(kubectl rollout undo) from the objects read, and the patch that does it (RV(k8s_patches)); the module
    changes nothing."
  - Says whether the gateway is crash-looping (the manager's crash-loop state, a restart count that rose
    since O(previous), or enough restarts while not running) and whether the logs carry the
    C(StoreMigrationRunner) start-up failure that means the data dir is corrupt (INC-003).
  - A manager that cannot be asked gives C(available=false) and C(error), not a failure, so that a check-mode
    plan can go on; the gateway_service role fails on it in real runs.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  platform:
    description: The service manager that runs the gateway.
    type: str
    required: true
    choices: [systemd, supervisor, docker_compose, kubernetes]
  name:
    description: The systemd unit or supervisor program.
    type: str
    default: onec-mcp-gateway
  log_lines:
    description: How many of the newest log lines to return.
    type: int
    default: 50
  supervisor_config:
    description: The supervisord.conf that supervisorctl talks through (supervisor).
    type: str
  supervisorctl_path:
    description: The supervisorctl executable (supervisor).
    type: str
    default: supervisorctl
  compose_project_src:
    description: The compose project directory (docker_compose).
    type: path
  compose_service:
    description: The compose service (docker_compose).
    type: str
    default: gateway
  k8s_namespace:
    description: The namespace (kubernetes).
    type: str
    default: default
  k8s_deployment:
    description: The deployment (kubernetes).
    type: str
    default: gateway
  kubeconfig:
    description: The kubeconfig file (kubernetes); kubectl's default without it.
    type: path
  k8s_context:
    description: The kubeconfig context (kubernetes).
    type: str
  k8s_env:
    description:
      - "kubernetes: environment variables to plan setting on the deployment's containers, C(NAME: value);
        null unsets one. Booleans become C(true)/C(false), numbers text."
      - The plan is RV(status.env_plan); values of secret names (C(*_PASSWORD), C(*_TOKEN), C(*_KEY), ...)
        and URLs with a password are never in it.
    type: dict
  k8s_env_containers:
    description: "kubernetes: the containers O(k8s_env) is for; empty for every container of the pod template."
    type: list
    elements: str
    default: []
  k8s_rollback_revision:
    description: "kubernetes: plan a rollback to this revision; 0 for the previous one (C(rollout undo))."
    type: int
  previous:
    description: An earlier RV(status) of the same service; a restart count above its own means a crash loop.
    type: dict
  restart_threshold:
    description: Restarts at which a service that is not running counts as crash-looping without O(previous).
    type: int
    default: 3
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.no_group
notes:
  - Runs on the managed host; reading journald usually needs C(become).
seealso:
  - module: mcpops.runbooks.gateway_index_jobs
"""

EXAMPLES = r"""
- name: Step 1 of INC-001, check the process
  mcpops.runbooks.gateway_service_facts:
    platform: systemd
    name: onec-mcp-gateway
    log_lines: 100
  register: gateway

- name: Again after a while, to see whether the restart count rises
  mcpops.runbooks.gateway_service_facts:
    platform: supervisor
    supervisor_config: /etc/supervisor/supervisord.conf
    previous: "{{ gateway.status }}"
"""

RETURN = r"""
status:
  description: The gateway's service state.
  returned: always
  type: dict
  contains:
    platform:
      description: "The platform asked."
      type: str
    name:
      description: "The unit, program, compose service or deployment."
      type: str
    available:
      description: "Whether the manager could be asked at all."
      type: bool
    error:
      description: "Why it could not (the command and what it said), or null."
      type: str
    state:
      description: "The manager's word: V(active)/V(failed) (systemd), V(RUNNING)/V(BACKOFF)/V(FATAL) (supervisor),
        V(running)/V(restarting) (docker), V(Running)/V(CrashLoopBackOff) (kubernetes)."
      type: str
    running:
      description: "Whether it runs (every replica, for compose and kubernetes)."
      type: bool
    pid:
      description: "The main PID, null when not running or not visible (kubernetes)."
      type: int
    restarts:
      description: "Restarts the manager made by itself (systemd C(NRestarts), supervisor: spawns after an
        unexpected exit since the last operator stop or start, docker C(RestartCount), kubernetes C(restartCount) summed)."
      type: int
    last_exit_status:
      description: "The last exit code; 128 + the signal number for a signal."
      type: int
    uptime_seconds:
      description: "Seconds since it entered the running state, null when not running."
      type: int
    log_lines:
      description: "The newest log lines."
      type: list
      elements: str
    log_source:
      description: "The command the log lines came from."
      type: str
    revisions:
      description: "kubernetes: the deployment's revisions, oldest first (C(revision), C(replicaset),
        C(images), C(replicas), C(current))."
      type: list
      elements: dict
    rollout:
      description: "kubernetes: C(complete) as C(kubectl rollout status) decides it, C(message) in its words,
        C(generation), C(observed_generation), C(desired), C(updated), C(replicas), C(available), and C(failing):
        a sentence for each pod of the current revision that crashes or cannot start."
      type: dict
    env_plan:
      description: "kubernetes with O(k8s_env): C(changed), C(changes) (container, name, action, before, after;
        secret values shown as C((secret, not shown))), C(unchanged), C(lines), C(args) (kubectl set env's, secrets
        masked), C(secret_names), C(error) (a container the deployment has not got)."
      type: dict
    rollback_plan:
      description: "kubernetes with O(k8s_rollback_revision): C(from_revision), C(to_revision), C(to_replicaset),
        C(from_images), C(to_images), C(revisions), C(skip) (already at that template) and C(error) (no such
        revision, or none earlier)."
      type: dict
    crash_loop:
      description: "Whether it is crash-looping."
      type: bool
    crash_loop_reasons:
      description: "What was seen, one sentence each."
      type: list
      elements: str
    restarts_rising:
      description: "Whether the restart count rose since O(previous)."
      type: bool
    migration_error:
      description: "The last C(StoreMigrationRunner) line of the logs, or null."
      type: str
    data_corrupt:
      description: "Not running and the logs carry a C(StoreMigrationRunner) failure: the data dir is
        corrupt or too new (INC-003)."
      type: bool
  sample:
    platform: supervisor
    name: onec-mcp-gateway
    available: true
    error: null
    state: BACKOFF
    running: false
    pid: null
    restarts: 2
    last_exit_status: 1
    uptime_seconds: null
    log_lines: ["StoreMigrationRunner: invalid JSON in tokens.json at line 2 column 1"]
    crash_loop: true
    crash_loop_reasons: ["supervisor reports the service BACKOFF"]
    restarts_rising: false
    migration_error: "StoreMigrationRunner: invalid JSON in tokens.json at line 2 column 1"
    data_corrupt: true
k8s_patches:
  description:
    - "kubernetes: C(set_env), the strategic merge patch of the plan in RV(status.env_plan), and C(rollback), the
      JSON patch that puts the target revision's pod template back; absent when there is nothing to do."
    - They carry the values set and the pod template, secrets included; register the result with C(no_log).
  returned: when O(k8s_env) or O(k8s_rollback_revision) is given
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.gateway_service_facts_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            platform=dict(type="str", required=True, choices=["systemd", "supervisor", "docker_compose", "kubernetes"]),
            name=dict(type="str", default="onec-mcp-gateway"),
            log_lines=dict(type="int", default=50),
            supervisor_config=dict(type="str"),
            supervisorctl_path=dict(type="str", default="supervisorctl"),
            compose_project_src=dict(type="path"),
            compose_service=dict(type="str", default="gateway"),
            k8s_namespace=dict(type="str", default="default"),
            k8s_deployment=dict(type="str", default="gateway"),
            kubeconfig=dict(type="path"),
            k8s_context=dict(type="str"),
            k8s_env=dict(type="dict"),
            k8s_env_containers=dict(type="list", elements="str", default=[]),
            k8s_rollback_revision=dict(type="int"),
            previous=dict(type="dict"),
            restart_threshold=dict(type="int", default=3),
        ),
        required_if=[("platform", "docker_compose", ["compose_project_src"])],
        supports_check_mode=True,
    )
    run_module(module, run, run_command=lambda argv: module.run_command(argv, check_rc=False),
               which=module.get_bin_path)


if __name__ == "__main__":
    main()
