#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diagnostics_collect module: its documentation, argument spec and main(); the work is
_diagnostics/diagnostics_collect_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: diagnostics_collect
short_description: Collect a service host's diagnostics (the seed's mcp-diagnostics.sh) as one text file a section
version_added: "0.1.0"
description:
  - Runs the sections of CCTelegram's C(mcp-diagnostics.sh) (seed 002) on the managed host and writes each as its own
    text file in O(dest), C(NN-<section>.txt), C(01-system-information.txt) to C(09-performance-metrics.txt).
  - "Sections: system information (C(hostname), C(uptime), C(uname -a)); service status (C(systemctl status
    --no-pager) of O(unit), O(depends_on) and O(optional_units) that are installed); network connectivity (a GET of
    O(health_url) with the API key as a header, and the Bot API's C(getMe) at O(telegram_api_url) with the bot token
    read from O(telegram_token_file)); resource usage (C(free -h), C(df -h) of each of O(disk_paths));
    process information (each unit's processes from its cgroup, C(systemctl show -p ControlGroup) and its
    C(cgroup.procs), shown with C(ps), never a pattern grep); network connections (C(ss -tlnp), the lines of
    O(ports)); recent errors (the lines among the last O(error_lines) of O(app_log) at a level of O(error_levels));
    recent security events (those among the last O(security_lines) of O(security_log) whose event is one of
    O(security_events)); performance metrics (the lines of O(metrics_url) that match O(metrics_pattern))."
  - Each step of a section records its command, exit code, output (at most O(max_section_bytes) a step) and timing.
    A step that fails (a tool missing, a unit not there, an endpoint down, a timeout) is recorded in its section and
    RV(failed_sections); it never fails the task.
  - Read-only on the service. The API key is sent as a header and never written, returned or shown (the step says
    C(<hidden>)); any text that holds it is masked. The bot token is read from its file on the host by the module
    itself, so it is in no argument, argv, environment, result or file (the step shows C(bot<hidden>)).
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  dest:
    description:
      - The directory on the managed host the section files go to; made (0700) when missing, each file 0600. A link
        or a file there is refused.
      - Without it nothing is written; RV(sections) still says what each step found.
    type: path
  sections:
    description: Only these sections (by name, see RV(sections)); all by default.
    type: list
    elements: str
    default: []
  unit:
    description: The service's systemd unit, the profile's C(runtime.unit).
    type: str
    required: true
  depends_on:
    description: The units it depends on, the profile's C(runtime.depends_on) (C(cctelegram-bridge)).
    type: list
    elements: str
    default: []
  optional_units:
    description: Units whose status is shown only when they are installed on the host (the seed's C(nginx)).
    type: list
    elements: str
    default: [nginx]
  health_url:
    description: The health endpoint, GET with the API key (the seed's C(http://localhost:8080/health)).
    type: str
  metrics_url:
    description: The metrics endpoint, GET with the API key (the seed's C(http://localhost:9090/metrics)).
    type: str
  api_key:
    description: The API key, sent as O(api_key_header); never written nor returned.
    type: str
  telegram_token_file:
    description:
      - The file on the host that holds the bot token (the lab's C(/etc/cctelegram/bot_token), 0600). With it, the
        network connectivity section asks the Bot API's C(getMe) whether it takes the token, and names the bot.
      - A file that does not hold a token's shape (C(<bot id>:<secret>)) is a failed step; nothing is sent.
    type: path
  telegram_api_url:
    description: The Bot API's base URL the service is configured with (the lab's stand-in on loopback).
    type: str
    default: https://api.telegram.org
  api_key_header:
    description: The header that carries O(api_key).
    type: str
    default: X-API-Key
  validate_certs:
    description: Verify TLS certificates of HTTPS endpoints.
    type: bool
    default: true
  metrics_pattern:
    description: The regular expression the metrics lines must match (searched).
    type: str
    default: (http_requests_total|http_request_duration|process_cpu_usage|process_memory)
  app_log:
    description: The JSON-lines application log, the profile's C(logs.path).
    type: path
  security_log:
    description: The JSON-lines security log, the profile's C(logs.security_path). Not there is no event yet (the
      service writes it at its first), not a failed step; a missing O(app_log) is one.
    type: path
  error_lines:
    description: How many of the newest lines of O(app_log) are looked at for errors (the seed's C(tail -10)).
    type: int
    default: 10
  error_levels:
    description: The levels (any case) that make a line an error; a line that is not JSON counts when it holds
      C(error) in any case (the seed's C(grep -i error)).
    type: list
    elements: str
    default: [ERROR, CRITICAL, FATAL]
  security_lines:
    description: How many of the newest lines of O(security_log) are looked at (the seed's C(tail -5)).
    type: int
    default: 5
  security_events:
    description: The C(event) values of a security event.
    type: list
    elements: str
    default: [SECURITY, RATE_LIMIT_EXCEEDED]
  disk_paths:
    description: The paths whose volumes C(df -h) shows (the seed's C(/), C(/var/log), C(/var/lib/cctelegram)).
    type: list
    elements: str
    default: [/, /var/log]
  ports:
    description: The TCP ports whose listening sockets are shown (the seed's C(:808[0-9]|:9090)); all without.
    type: list
    elements: int
    default: []
  status_lines:
    description: Journal lines C(systemctl status) shows for each unit.
    type: int
    default: 10
  timeout:
    description: Seconds each command or request may take.
    type: float
    default: 10
  max_section_bytes:
    description: The most output kept of one step (1024 to 16777216); the rest is counted, not kept.
    type: int
    default: 65536
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes
  - mcpops.runbooks.attributes.no_group
notes:
  - Linux with systemd; runs on the managed host with its C(python3) and the standard library only.
  - In check mode every step runs (they only read) and nothing is written; RV(sections) then carries each step's
    output.
seealso:
  - module: mcpops.runbooks.app_log_scan
"""

EXAMPLES = r"""
- name: "Service Health Diagnostics (mcp-diagnostics.sh), each section a file"
  mcpops.runbooks.diagnostics_collect:
    dest: /var/tmp/mcpops-diagnostics/run-1
    unit: "{{ mcp_profile.runtime.unit }}"
    depends_on: "{{ mcp_profile.runtime.depends_on }}"
    health_url: "http://{{ ansible_host }}:8080/health"
    metrics_url: "http://{{ ansible_host }}:9090/metrics"
    api_key: "{{ cctelegram_api_key }}"
    app_log: /var/log/cctelegram/application.log
    security_log: /var/log/cctelegram/security.log
    disk_paths: [/, /var/log, /var/lib/cctelegram]
    ports: [8080, 8091, 9090]
  register: diagnostics
"""

RETURN = r"""
host:
  description: The host's name as it says it.
  returned: always
  type: str
collected_at:
  description: When the collection started, UTC.
  returned: always
  type: str
  sample: "2026-12-05T14:30:00Z"
dest:
  description: O(dest).
  returned: always
  type: str
sections:
  description: One entry a section, in the seed's order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: system-information, service-status, network-connectivity, resource-usage, process-information,
        network-connections, recent-errors, security-events or performance-metrics.
      type: str
    title:
      description: The seed's heading.
      type: str
    file:
      description: The file's name, C(NN-<name>.txt).
      type: str
    ok:
      description: Whether every step exited 0.
      type: bool
    duration_ms:
      description: How long the section took.
      type: float
    steps:
      description: Each step's C(command), C(rc) (null when it did not run), C(duration_ms), C(truncated), and in
        check mode its C(output).
      type: list
      elements: dict
    path:
      description: The file written (not in check mode).
      type: str
    sha256:
      description: The file's sha256 (not in check mode).
      type: str
    bytes:
      description: The file's size (not in check mode).
      type: int
  sample: [{"name": "system-information", "title": "System Information", "file": "01-system-information.txt",
            "ok": true, "duration_ms": 12.5, "steps": [{"command": "hostname", "rc": 0, "duration_ms": 1.2,
            "truncated": false}], "path": "/var/tmp/d/01-system-information.txt", "sha256": "9f86d0...", "bytes": 312}]
failed_sections:
  description: The names of the sections with a step that did not exit 0.
  returned: always
  type: list
  elements: str
files:
  description: The files written, in section order (empty in check mode or without O(dest)).
  returned: always
  type: list
  elements: str
duration_ms:
  description: How long the whole collection took.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.diagnostics_collect_run import run
from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.http_probe import SEED_METRICS


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path"),
            sections=dict(type="list", elements="str", default=[]),
            unit=dict(type="str", required=True),
            depends_on=dict(type="list", elements="str", default=[]),
            optional_units=dict(type="list", elements="str", default=["nginx"]),
            health_url=dict(type="str"),
            metrics_url=dict(type="str"),
            api_key=dict(type="str", no_log=True),
            api_key_header=dict(type="str", default="X-API-Key", no_log=False),  # the header's name, not the key
            telegram_token_file=dict(type="path", no_log=False),  # the file's path; the module reads the token itself
            telegram_api_url=dict(type="str", default="https://api.telegram.org"),
            validate_certs=dict(type="bool", default=True),
            metrics_pattern=dict(type="str", default=SEED_METRICS),
            app_log=dict(type="path"),
            security_log=dict(type="path"),
            error_lines=dict(type="int", default=10),
            error_levels=dict(type="list", elements="str", default=["ERROR", "CRITICAL", "FATAL"]),
            security_lines=dict(type="int", default=5),
            security_events=dict(type="list", elements="str", default=["SECURITY", "RATE_LIMIT_EXCEEDED"]),
            disk_paths=dict(type="list", elements="str", default=["/", "/var/log"]),
            ports=dict(type="list", elements="int", default=[]),
            status_lines=dict(type="int", default=10),
            timeout=dict(type="float", default=10),
            max_section_bytes=dict(type="int", default=65536),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
