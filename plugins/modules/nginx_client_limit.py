#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nginx_client_limit module: its documentation, argument spec and main(); the work is
_nginx/nginx_client_limit_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nginx_client_limit
short_description: Rate-limit offending clients at nginx, set a limit_req zone's rate or a limit_conn; state=absent reverts
version_added: "0.1.0"
description:
  - "The runbook's containment, \"nginx rate limiting for the offending client\", in two forms."
  - "With O(clients): the addresses or networks are marked in the offenders include O(path), a C(geo $<variable>)
    block (C(<client> 1;) lines) that a C(map) turns into a key only marked clients have, counted by
    C(limit_req_zone $<variable>_key zone=O(zone):10m rate=O(rate)). Every other client's key is empty, and nginx
    does not count empty keys: only the marked clients are limited. A file without that C(geo) gets this scaffold
    first (an empty file is fine). The server or location must apply the zone: C(limit_req zone=O(zone) nodelay;)
    (and C(limit_req_status 429;) for 429 instead of nginx's default 503). V(absent) unmarks the clients."
  - "Without O(clients): the rate of C(limit_req_zone ... zone=O(zone):...) in O(path) is set to O(rate) (the seed's
    C(sed s/rate=30r/rate=10r/)), with a comment after it on its line that keeps the rate it had first
    (C(# mcpops nginx_client_limit: was rate=30r/s)); V(absent) puts that rate back and drops the comment."
  - "With O(connections): the runbook's \"temporarily reduce concurrent connections\". Every C(limit_conn O(zone) N;) in
    O(path) (the zone of a C(limit_conn_zone $binary_remote_addr ...): the connections one client may hold at once) is
    set to O(connections), with a comment after it that keeps the number it had first
    (C(# mcpops nginx_client_limit: was connections=64)). A client over it gets C(limit_conn_status) (503 unless set)."
  - "V(absent) without O(clients) puts back what the module set on O(zone): the rate of its C(limit_req_zone), or the
    number of its C(limit_conn) lines (nginx gives a shared zone one use, so the name says which); O(rate) and
    O(connections) are not needed for it."
  - "Validation as M(mcpops.runbooks.nginx_upstream_server) does it: the conf must pass C(nginx -t) before; the new text
    replaces the file atomically; a text C(nginx -t) rejects is replaced by the old bytes and the task fails with what
    nginx said. O(reload) reloads nginx after a change."
  - "Refused, nothing touched: a client that is not an IP address or a network in CIDR form with its host bits zero,
    a rate not like C(10r/s) or C(300r/m), a zone or variable name with anything but letters, digits, C(_), C(.), C(-),
    O(connections) not a whole number from 1 to 1000000 or given with O(clients) or O(rate)."
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  path:
    description: The offenders include (with O(clients)) or the conf file holding the zone's C(limit_req_zone); a symlink is followed.
    type: path
    required: true
  clients:
    description: The offending IP addresses or networks (CIDR). Leave out to set the zone's rate instead.
    type: list
    elements: str
  state:
    description: V(present) limits (or sets the rate), V(absent) reverts.
    type: str
    choices: [present, absent]
    default: present
  zone:
    description: The C(limit_req_zone) name (with O(clients), the offenders' own zone); with O(connections), the C(limit_conn) zone.
    type: str
    required: true
  rate:
    description:
      - Without O(clients), the zone's new rate (required for V(present)).
      - With O(clients), the offenders zone's rate; when left out, it stays (C(5r/s) in a new scaffold).
    type: str
  connections:
    description:
      - The concurrent connections each client may hold, set on every C(limit_conn O(zone) N;) in O(path).
      - Not with O(clients) or O(rate).
    type: int
  variable:
    description: With O(clients), the C(geo) variable's name without C($); the default is O(zone) with C(.) and C(-) made C(_).
    type: str
extends_documentation_fragment:
  - mcpops.runbooks.nginx
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes_with_diff
  - mcpops.runbooks.attributes.no_group
notes:
  - "Check mode plans the edit and shows its diff; it writes nothing, runs no C(nginx -t) and reloads nothing."
seealso:
  - module: mcpops.runbooks.nginx_upstream_server
"""

EXAMPLES = r"""
- name: "Containment: rate-limit the offending client to 5 requests a second"
  mcpops.runbooks.nginx_client_limit:
    path: /etc/nginx/conf.d/cctelegram_offenders.conf
    nginx_conf: /etc/nginx/nginx.conf
    zone: cctelegram_offenders
    clients: [203.0.113.7, 198.51.100.0/24]
    rate: 5r/s
    reload: true

- name: "Rate limiting (traffic spike): 30r/s -> 10r/s for everyone"
  mcpops.runbooks.nginx_client_limit:
    path: /etc/nginx/sites-available/cctelegram
    nginx_conf: /etc/nginx/nginx.conf
    zone: cctelegram
    rate: 10r/s
    reload: true

- name: "Resource limits: temporarily reduce concurrent connections to 8 a client"
  mcpops.runbooks.nginx_client_limit:
    path: /etc/nginx/sites-available/cctelegram
    nginx_conf: /etc/nginx/nginx.conf
    zone: cctelegram_conn
    connections: 8
    reload: true

- name: "Revert: the limit_conn's first number back (the zone's kind is read from the file)"
  mcpops.runbooks.nginx_client_limit:
    path: /etc/nginx/sites-available/cctelegram
    nginx_conf: /etc/nginx/nginx.conf
    zone: cctelegram_conn
    state: absent
    reload: true

- name: "Revert: the zone's first rate back"
  mcpops.runbooks.nginx_client_limit:
    path: /etc/nginx/sites-available/cctelegram
    nginx_conf: /etc/nginx/nginx.conf
    zone: cctelegram
    state: absent
    reload: true
"""

RETURN = r"""
path:
  description: The file edited (a symlink resolved).
  returned: always
  type: str
limit:
  description:
    - What was limited, V(clients), V(zone_rate) or V(connections). (Not called C(mode), a name Ansible fills with
      the file's permissions for a result that has a C(path).)
  returned: success
  type: str
limited_before:
  description: With O(clients), the clients the geo marked before.
  returned: success and clients given
  type: list
  elements: str
limited:
  description: With O(clients), the clients it marks after (in check mode, would mark).
  returned: success and clients given
  type: list
  elements: str
rate_before:
  description: When RV(limit) is V(zone_rate), the zone's rate before.
  returned: success and limit is zone_rate
  type: str
rate:
  description: When RV(limit) is V(zone_rate), the zone's rate after.
  returned: success and limit is zone_rate
  type: str
original_rate:
  description: When RV(limit) is V(zone_rate), the rate the zone had before mcpops first changed it (null when unchanged).
  returned: success and limit is zone_rate
  type: str
connections_before:
  description: When RV(limit) is V(connections), the number of the zone's (first) C(limit_conn) before.
  returned: success and limit is connections
  type: int
connections:
  description: When RV(limit) is V(connections), the number after (in check mode, would be).
  returned: success and limit is connections
  type: int
original_connections:
  description: When RV(limit) is V(connections), the number before mcpops first changed it (null when unchanged).
  returned: success and limit is connections
  type: int
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
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.nginx_client_limit_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            clients=dict(type="list", elements="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            zone=dict(type="str", required=True),
            rate=dict(type="str"),
            connections=dict(type="int"),
            variable=dict(type="str"),
            **NGINX_ARGSPEC
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
