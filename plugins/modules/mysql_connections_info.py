#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mysql_connections_info module: its documentation, argument spec and main(); the work is _mysql/mysql_connections_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mysql_connections_info
short_description: Report MySQL/MariaDB connections - count against max_connections, where the sessions come from
version_added: "0.2.0"
description:
  - ConnectorMCP's "Database Connection Issues" runbook, its step "Check connection limits"
    (C(SHOW STATUS LIKE 'Threads_connected')) and where the sessions come from. Read-only;
    M(mcpops.runbooks.mysql_connections) kills sessions or their queries.
  - Reads C(Threads_connected), C(Threads_running), C(Max_used_connections) against C(max_connections), groups the
    client sessions of C(information_schema.PROCESSLIST) by user, client host (its port stripped), command (C(Sleep),
    C(Query), ...) and database, and lists the longest-idle and longest-running sessions.
  - No query text is ever read or returned (it can hold secrets).
  - Why not community.mysql - C(community.mysql.mysql_info) reads status and variables but not the processlist.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  login_db:
    description: Database to connect to (none needed; the processlist covers the whole server).
    type: str
    default: ""
extends_documentation_fragment:
  - mcpops.runbooks.mysql
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.mysql_group
requirements:
  - PyMySQL on the host the module runs on
notes:
  - O(login_user) needs the C(PROCESS) privilege to see other users' sessions. When the server is out of connections,
    only an account with C(CONNECTION ADMIN) (MariaDB 10.5+, MySQL 8) or C(SUPER) may still log in (the one extra
    connection MariaDB and MySQL keep for it).
  - Usually run with C(delegate_to) a host that has PyMySQL and reaches the server.
seealso:
  - module: mcpops.runbooks.mysql_connections
  - module: mcpops.runbooks.oauth_states_info
  - module: community.mysql.mysql_info
"""

EXAMPLES = r"""
- name: Check connection limits and where the sessions come from
  mcpops.runbooks.mysql_connections_info:
    login_host: db.internal
    login_user: root
    login_password: "{{ mysql_root_password }}"
  register: mysql

- name: Say who holds the most sessions
  ansible.builtin.debug:
    msg: "{{ mysql.threads_connected }}/{{ mysql.max_connections }}; most by {{ mysql.by_user[0].name }}"
"""

RETURN = r"""
threads_connected:
  description: C(Threads_connected) (every connection, this module's own included).
  returned: always
  type: int
  sample: 148
threads_running:
  description: C(Threads_running).
  returned: always
  type: int
max_connections:
  description: C(max_connections).
  returned: always
  type: int
  sample: 151
max_used_connections:
  description: C(Max_used_connections), the high-water mark since the server started.
  returned: always
  type: int
extra_max_connections:
  description: C(extra_max_connections) (MariaDB's extra_port connections; null on MySQL).
  returned: always
  type: int
max_user_connections:
  description: C(max_user_connections) (0 is no per-account limit).
  returned: always
  type: int
wait_timeout:
  description: C(wait_timeout), the seconds after which the server closes an idle session itself.
  returned: always
  type: int
aborted_connects:
  description: C(Aborted_connects).
  returned: always
  type: int
refused_max_connections:
  description: C(Connection_errors_max_connections), connections refused for C(max_connections) since the start.
  returned: always
  type: int
available:
  description: max_connections - threads_connected, never below 0.
  returned: always
  type: int
percent_used:
  description: threads_connected / max_connections, in percent, one decimal.
  returned: always
  type: float
  sample: 98.0
server_version:
  description: C(version).
  returned: always
  type: str
client_sessions:
  description: Client sessions in the processlist (the server's own threads left out, this module's included).
  returned: always
  type: int
by_user:
  description:
    - Client sessions per user, C([{name, count}]) most first; likewise RV(by_host) (client host without port),
      RV(by_command) and RV(by_database) (no database is C("")).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "connectormcp", "count": 140}, {"name": "root", "count": 1}]
by_host:
  description: Client sessions per client host.
  returned: always
  type: list
  elements: dict
by_command:
  description: Client sessions per command (C(Sleep) is idle).
  returned: always
  type: list
  elements: dict
by_database:
  description: Client sessions per default database.
  returned: always
  type: list
  elements: dict
longest_idle:
  description: The five C(Sleep) sessions idle longest, each C(id), C(user), C(host), C(db), C(command), C(time) (seconds), C(state); never the query text.
  returned: always
  type: list
  elements: dict
  sample: [{"id": 4242, "user": "connectormcp", "host": "10.0.0.7", "db": "connectorMCP", "command": "Sleep", "time": 912, "state": ""}]
longest_running:
  description: The five other sessions longest in their command (queries), as RV(longest_idle).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connect import CONNECTION_ARGSPEC
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.mysql_connections_run import run


def main():
    module = AnsibleModule(argument_spec=dict(**CONNECTION_ARGSPEC), supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
