#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mysql_connections module: its documentation, argument spec and main(); the work is _mysql/mysql_connections_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mysql_connections
short_description: Kill selected MySQL/MariaDB client sessions or their queries safely
version_added: "0.1.0"
description:
  - ConnectorMCP's "Database Connection Issues" runbook, its remediation - V(killed) and V(query_killed) free
    connections, with guards. Its step "Check connection limits" (C(SHOW STATUS LIKE 'Threads_connected')) and where
    the sessions come from are M(mcpops.runbooks.mysql_connections_info). No query text is ever read or returned (it
    can hold secrets).
  - O(state=killed) runs C(KILL CONNECTION), O(state=query_killed) C(KILL QUERY), on the client sessions matching
    every filter given (AND; a list matches any of its values, exactly). The sessions are chosen by one parameterised
    SELECT on C(information_schema.PROCESSLIST), longest idle first; no filter value is ever spliced into SQL, so
    quotes, C(; DROP), comments or any unicode can only fail to match. Each KILL takes the session's integer id;
    up to 1000 KILLs go in one round trip (multi-statements switched on for that text alone, which holds nothing but
    C(KILL CONNECTION <id>) with the checked integer ids).
  - Never killed - this module's own connection; the server's own threads (user C(system user),
    C(event_scheduler), C(unauthenticated user); commands C(Daemon), C(Binlog Dump), C(Binlog Dump GTID),
    C(Slave_IO), C(Slave_SQL), C(Slave_worker), C(Connect), C(Killed)); the sessions of O(exclude_users).
    O(state=query_killed) never selects a C(Sleep) session (it runs no query).
  - Refused before connecting - no narrowing filter at all (O(users), O(hosts), O(databases), O(commands),
    O(idle_for)) unless O(all_matching=true); an unknown command; a malformed duration; a host given with its
    port; O(limit) below 1.
  - After killing it waits, up to O(wait_timeout) seconds for all of them together, until the killed sessions are
    gone from the processlist (killed queries - until their session no longer runs them), and fails listing those
    that survived. A second run with the same filters finds nothing left and reports C(changed=false).
  - Why not community.mysql - C(community.mysql.mysql_info) reads status and variables but not the processlist,
    and no community.mysql module kills sessions; C(community.mysql.mysql_query) could run a C(KILL) but offers no
    selection with guards, no wait until the sessions are gone, and no check mode (its task is skipped in check
    mode, so it cannot say what it would kill).
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  state:
    description:
      - V(killed) kills the selected sessions (C(KILL CONNECTION)); V(query_killed) stops their running statement
        (C(KILL QUERY)) and keeps the session.
      - V(info), and leaving O(state) out, are deprecated and will be removed in 2.0.0 (O(state) will be required) - they
        still report as M(mcpops.runbooks.mysql_connections_info) does, with a deprecation warning.
    type: str
  users:
    description: Only sessions of these users (C(PROCESSLIST.USER), exact, case-sensitive).
    type: list
    elements: str
  hosts:
    description:
      - Only sessions from these client hosts (C(PROCESSLIST.HOST) without its port, exact), for example V(10.0.0.7),
        or V(localhost) for unix-socket sessions. With C(skip_name_resolve) off the server shows host names instead.
    type: list
    elements: str
  databases:
    description: Only sessions whose default database (C(PROCESSLIST.DB)) is one of these.
    type: list
    elements: str
  commands:
    description: Only sessions running one of these commands (C(PROCESSLIST.COMMAND)); V(Sleep) is an idle session.
    type: list
    elements: str
    choices:
      - Sleep
      - Query
      - Execute
      - Prepare
      - Fetch
      - Close stmt
      - Reset stmt
      - Long Data
      - Init DB
      - Field List
      - Statistics
      - Change user
      - Set option
      - Ping
      - Processlist
      - Debug
  idle_for:
    description:
      - Only sessions in their current command for at least this long (C(PROCESSLIST.TIME), whole seconds), for example
        V(10m), V(1h), V(1h30m), V(90s) or a number of seconds. With O(commands=[Sleep]), sessions idle that long.
    type: str
  exclude_users:
    description: Never sessions of these users (for example the replication or monitoring account). Not a narrowing filter on its own.
    type: list
    elements: str
  limit:
    description: At most this many sessions, the longest in their command first. Not a narrowing filter on its own.
    type: int
  all_matching:
    description: Allow a call with no narrowing filter, which selects every client session (but this module's own and the guarded ones).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait, for all killed sessions together, until they are gone (V(0) checks once).
    type: float
    default: 30
  login_db:
    description: Database to connect to (none needed; the processlist covers the whole server).
    type: str
    default: ""
extends_documentation_fragment:
  - mcpops.runbooks.mysql
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes_with_diff
  - mcpops.runbooks.attributes.mysql_group
attributes:
  check_mode:
    description: Selects the sessions exactly as a real run and returns them under RV(sessions); kills none.
  diff_mode:
    description: Client sessions and matching sessions before and after (in check mode, what they would be).
requirements:
  - PyMySQL on the host the module runs on
notes:
  - O(login_user) needs the C(PROCESS) privilege to see other users' sessions and C(CONNECTION ADMIN) (MariaDB 10.5+,
    MySQL 8) or C(SUPER) to kill them. When the server is out of connections, only such an account may still log in
    (the one extra connection MariaDB and MySQL keep for it).
  - Between the SELECT and its KILL a session may start a new command; the KILL still applies to it. A session that
    ended in between counts as gone.
  - Usually run with C(delegate_to) a host that has PyMySQL and reaches the server.
seealso:
  - module: mcpops.runbooks.mysql_connections_info
  - module: mcpops.runbooks.oauth_states
  - module: mcpops.runbooks.pg_connections
"""

EXAMPLES = r"""
- name: Free connections - kill sessions idle for 10 minutes, never the monitoring account's
  mcpops.runbooks.mysql_connections:
    state: killed
    commands: [Sleep]
    idle_for: 10m
    exclude_users: [monitoring]
    login_host: db.internal
    login_password: "{{ mysql_root_password }}"

- name: Stop the long queries of the report user from one host, at most 20
  mcpops.runbooks.mysql_connections:
    state: query_killed
    commands: [Query]
    idle_for: 5m
    users: [report]
    hosts: [10.20.0.15]
    limit: 20
    login_unix_socket: /run/mysqld/mysqld.sock
"""

RETURN = r"""
threads_connected:
  description: C(Threads_connected) (every connection, this module's own included).
  returned: deprecated state=info
  type: int
  sample: 148
threads_running:
  description: C(Threads_running).
  returned: deprecated state=info
  type: int
max_connections:
  description: C(max_connections).
  returned: deprecated state=info
  type: int
  sample: 151
max_used_connections:
  description: C(Max_used_connections), the high-water mark since the server started.
  returned: deprecated state=info
  type: int
extra_max_connections:
  description: C(extra_max_connections) (MariaDB's extra_port connections; null on MySQL).
  returned: deprecated state=info
  type: int
max_user_connections:
  description: C(max_user_connections) (0 is no per-account limit).
  returned: deprecated state=info
  type: int
wait_timeout:
  description: C(wait_timeout), the seconds after which the server closes an idle session itself.
  returned: deprecated state=info
  type: int
aborted_connects:
  description: C(Aborted_connects).
  returned: deprecated state=info
  type: int
refused_max_connections:
  description: C(Connection_errors_max_connections), connections refused for C(max_connections) since the start.
  returned: deprecated state=info
  type: int
available:
  description: max_connections - threads_connected, never below 0.
  returned: deprecated state=info
  type: int
percent_used:
  description: threads_connected / max_connections, in percent, one decimal.
  returned: deprecated state=info
  type: float
  sample: 98.0
server_version:
  description: C(version).
  returned: deprecated state=info
  type: str
client_sessions:
  description: Client sessions in the processlist (the server's own threads left out, this module's included).
  returned: deprecated state=info
  type: int
by_user:
  description:
    - Client sessions per user, C([{name, count}]) most first; likewise RV(by_host) (client host without port),
      RV(by_command) and RV(by_database) (no database is C("")).
  returned: deprecated state=info
  type: list
  elements: dict
  sample: [{"name": "connectormcp", "count": 140}, {"name": "root", "count": 1}]
by_host:
  description: Client sessions per client host.
  returned: deprecated state=info
  type: list
  elements: dict
by_command:
  description: Client sessions per command (C(Sleep) is idle).
  returned: deprecated state=info
  type: list
  elements: dict
by_database:
  description: Client sessions per default database.
  returned: deprecated state=info
  type: list
  elements: dict
longest_idle:
  description: The five C(Sleep) sessions idle longest, each C(id), C(user), C(host), C(db), C(command), C(time) (seconds), C(state); never the query text.
  returned: deprecated state=info
  type: list
  elements: dict
  sample: [{"id": 4242, "user": "connectormcp", "host": "10.0.0.7", "db": "connectorMCP", "command": "Sleep", "time": 912, "state": ""}]
longest_running:
  description: The five other sessions longest in their command (queries), as RV(longest_idle).
  returned: deprecated state=info
  type: list
  elements: dict
sessions:
  description: The sessions killed (in check mode, that would be), fields as RV(longest_idle), longest in their command first.
  returned: state is killed or query_killed
  type: list
  elements: dict
count:
  description: Length of RV(sessions).
  returned: state is killed or query_killed
  type: int
survived:
  description:
    - Killed sessions still present (killed) or still running the same command (query_killed) after O(wait_timeout);
      the task fails when there are any.
  returned: state is killed or query_killed
  type: list
  elements: dict
refused:
  description: Sessions the server refused to kill (the login lacks CONNECTION ADMIN / SUPER); the task fails when there are any.
  returned: state is killed or query_killed
  type: list
  elements: dict
gone:
  description: How many selected sessions were seen gone (0 in check mode).
  returned: state is killed or query_killed
  type: int
filters:
  description: The filters applied, as validated (idle_for in seconds as C(idle_seconds)).
  returned: state is killed or query_killed
  type: dict
elapsed_seconds:
  description: Seconds from the SELECT to the last poll.
  returned: state is killed or query_killed
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.info_state import check_state
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connect import CONNECTION_ARGSPEC
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.mysql_connections_run import run
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.session_filter import COMMANDS


def main():
    module = AnsibleModule(
        argument_spec=dict(
            CONNECTION_ARGSPEC,
            state=dict(type="str"),
            users=dict(type="list", elements="str"),
            hosts=dict(type="list", elements="str"),
            databases=dict(type="list", elements="str"),
            commands=dict(type="list", elements="str", choices=COMMANDS),
            idle_for=dict(type="str"),
            exclude_users=dict(type="list", elements="str"),
            limit=dict(type="int"),
            all_matching=dict(type="bool", default=False),
            wait_timeout=dict(type="float", default=30),
        ),
        supports_check_mode=True,
    )
    check_state(module, ["killed", "query_killed"], "mysql_connections_info")
    run_module(module, run, diff=module._diff)


if __name__ == "__main__":
    main()
