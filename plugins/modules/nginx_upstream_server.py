#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nginx_upstream_server module: its documentation, argument spec and main(); the work is
_nginx/nginx_upstream_server_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nginx_upstream_server
short_description: Drain, restore, add or remove one server of an nginx upstream, or set its health-check settings
version_added: "0.1.0"
description:
  - "The runbook's load balancer steps on nginx: in O(path), in C(upstream O(upstream) { ... }), one C(server O(server))
    is drained (V(drained): it gets the C(down) flag, nginx sends it no new requests), restored (V(active): C(down)
    taken off), added (V(present): a new C(server) line, not drained) or removed (V(absent))."
  - "The health check adjustment: nginx open source has no active health checks, only passive ones. O(max_fails) is
    how many failed attempts within O(fail_timeout) mark the server unavailable, and O(fail_timeout) is also how long
    it then stays out. A load balancer's health-check interval and timeout become these two (for example interval 10
    s, timeout 5 s, 2 failures: C(max_fails=2 fail_timeout=10s)); the other words of the server line stay as they are."
  - "Every other byte of the file stays as it was; the server line that changes is rewritten with single spaces."
  - "Validation: the conf must pass C(nginx -t -p O(nginx_prefix) -c O(nginx_conf)) before the change (else nothing is
    touched). The new text replaces the file atomically (a temp file renamed over it, mode and owner kept), then
    C(nginx -t) runs again; when it fails, the old bytes are put back, atomically too, and the task fails with what
    nginx said. The file is never left half written or invalid. One run at a time edits a directory (a lock on it)."
  - "With O(reload), a change is followed by C(nginx -s reload) with the same prefix and conf: nginx starts new workers
    with the new upstream and lets the old ones finish their requests."
  - "Refused, nothing touched: an upstream that is not in O(path) (or is there twice), a server not in it for V(drained)
    and V(active), a server listed twice, a O(server) that is not C(host:port), C([v6]:port) or C(unix:/path) (a C(;),
    brace, quote, space or newline never gets into the file), and draining or removing the last active server (not
    C(down), not C(backup)) unless O(force)."
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  path:
    description: The conf file that holds the upstream block (a symlink is followed; the file it names is edited).
    type: path
    required: true
  upstream:
    description: The upstream's name.
    type: str
    required: true
  server:
    description: The server's address as the upstream lists it, C(host:port) (compared without case).
    type: str
    required: true
  state:
    description:
      - V(drained) sets C(down), V(active) takes it off, V(present) adds the server when missing (a drained one stays
        drained), V(absent) removes it (already absent is no change).
    type: str
    choices: [drained, active, present, absent]
    default: present
  max_fails:
    description: Failed attempts within O(fail_timeout) after which nginx counts the server unavailable (0 turns the count off).
    type: int
  fail_timeout:
    description: The window of O(max_fails), and how long an unavailable server stays out (C(10s), C(500ms), C(1m)).
    type: str
  force:
    description: Drain or remove the server even when it is the upstream's last active one.
    type: bool
    default: false
extends_documentation_fragment:
  - mcpops.runbooks.nginx
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes_with_diff
  - mcpops.runbooks.attributes.no_group
notes:
  - "Check mode plans the edit and shows its diff; it writes nothing, runs no C(nginx -t) and reloads nothing."
  - "A reload is nginx's graceful one: requests already at a drained server finish there."
seealso:
  - module: mcpops.runbooks.nginx_client_limit
"""

EXAMPLES = r"""
- name: "Reroute: drain mcp-02 at the load balancer"
  mcpops.runbooks.nginx_upstream_server:
    path: /etc/nginx/sites-available/cctelegram
    nginx_conf: /etc/nginx/nginx.conf
    upstream: cctelegram_mcp
    server: 10.0.1.12:8080
    state: drained
    reload: true
  delegate_to: lb-01

- name: "Health check adjustment: 2 failures in 10 s take a server out for 10 s"
  mcpops.runbooks.nginx_upstream_server:
    path: /etc/nginx/sites-available/cctelegram
    nginx_conf: /etc/nginx/nginx.conf
    upstream: cctelegram_mcp
    server: 10.0.1.12:8080
    max_fails: 2
    fail_timeout: 10s
    reload: true
"""

RETURN = r"""
path:
  description: The file edited (a symlink resolved).
  returned: always
  type: str
upstream:
  description: The upstream's name.
  returned: success
  type: str
server:
  description: The server's address.
  returned: success
  type: str
before:
  description: The server before, C({address, down, backup, params}); null when it was not in the upstream.
  returned: success
  type: dict
after:
  description: The server after (in check mode, as it would be); null when it is not in the upstream.
  returned: success
  type: dict
servers:
  description: Every server of the upstream after the change, in file order, each C({address, down, backup, params}).
  returned: success
  type: list
  elements: dict
active:
  description: The addresses of the servers that take traffic after the change (not down, not backup).
  returned: success
  type: list
  elements: str
reloaded:
  description: Whether nginx was reloaded.
  returned: always
  type: bool
reload_confirmed:
  description:
    - After a reload, true once nginx runs a worker of the new generation (it then serves the new conf); null when
      the master is not known (the main conf names no C(pid) file). When no new worker starts within 10 s the task fails.
  returned: when reloaded
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.nginx_cli import NGINX_ARGSPEC
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.nginx_upstream_server_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            upstream=dict(type="str", required=True),
            server=dict(type="str", required=True),
            state=dict(type="str", choices=["drained", "active", "present", "absent"], default="present"),
            max_fails=dict(type="int"),
            fail_timeout=dict(type="str"),
            force=dict(type="bool", default=False),
            **NGINX_ARGSPEC
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
