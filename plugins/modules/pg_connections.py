#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pg_connections module: its documentation, argument spec and main(); the work is _pg/pg_connections_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_connections
short_description: Terminate or cancel selected PostgreSQL client sessions safely
version_added: "0.1.0"
description:
  - The database connection exhaustion runbook's step 3 (kill idle connections), with guards. Its steps 1 and 2
    (connection count, connection sources) are M(mcpops.runbooks.pg_connections_info).
  - O(state=terminated) calls C(pg_terminate_backend), O(state=cancelled) C(pg_cancel_backend), on the client
    sessions matching every filter given (AND; a list matches any of its values). Selection and signal are one
    parameterised statement; no filter value is ever spliced into SQL, so quotes, C(; DROP) or any unicode can
    only fail to match.
  - Never signalled - this module's own session; any backend that is not a client backend (walsender,
    autovacuum, background workers, ...); the sessions of a superuser unless O(include_superusers=true).
  - Refused before connecting - no narrowing filter at all (O(states), O(idle_for), O(client_addrs),
    O(application_names), O(users), O(databases)) unless O(all_matching=true); an unknown state; a malformed
    duration or network; O(limit) below 1.
  - After signalling it waits, up to O(wait_timeout) seconds for all of them together, until the terminated
    sessions are gone from C(pg_stat_activity) (cancelled ones - until their query is over), and fails listing
    those that survived. It does not use C(pg_terminate_backend)'s own timeout argument, which waits for one
    backend at a time.
  - A second run with the same filters finds nothing left and reports C(changed=false).
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  state:
    description:
      - V(terminated) terminates the selected sessions; V(cancelled) cancels their running query.
      - V(info), and leaving O(state) out, are deprecated and will be removed in 2.0.0 (O(state) will be required) - they
        still report as M(mcpops.runbooks.pg_connections_info) does, with a deprecation warning.
    type: str
  states:
    description: Only sessions in one of these C(pg_stat_activity.state) values.
    type: list
    elements: str
    choices: [active, idle, idle in transaction, idle in transaction (aborted), fastpath function call, disabled]
  idle_for:
    description:
      - Only sessions whose C(state_change) is at least this long ago (in their current state for that long),
        for example V(10m), V(1h), V(1h30m), V(90s) or a number of seconds.
    type: str
  client_addrs:
    description: Only sessions from these addresses or CIDR networks (C(client_addr <<= network)); unix-socket sessions never match.
    type: list
    elements: str
  application_names:
    description: Only sessions with one of these C(application_name) values (exact match).
    type: list
    elements: str
  users:
    description: Only sessions of these roles (C(usename)).
    type: list
    elements: str
  databases:
    description: Only sessions connected to these databases (C(datname)).
    type: list
    elements: str
  exclude_users:
    description: Never sessions of these roles (for example the replication or monitoring role). Not a narrowing filter on its own.
    type: list
    elements: str
  limit:
    description: At most this many sessions, those longest in their state first. Not a narrowing filter on its own.
    type: int
  include_superusers:
    description: Also signal sessions of superuser roles.
    type: bool
    default: false
  all_matching:
    description: Allow a call with no narrowing filter, which selects every client session (but this module's own).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait, for all signalled sessions together, until they are gone (V(0) checks once).
    type: float
    default: 30
  login_user:
    description:
      - Role to log in as. To see and signal other roles' sessions it must be a superuser or a member of
        C(pg_signal_backend) and C(pg_read_all_stats); only a superuser can signal a superuser's session.
    type: str
    default: postgres
  login_db:
    description: Database to connect to (any works; C(pg_stat_activity) covers the whole server).
    type: str
    default: postgres
extends_documentation_fragment:
  - mcpops.runbooks.postgres
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes
  - mcpops.runbooks.attributes.postgres_group
attributes:
  check_mode:
    description: Selects the sessions exactly as a real run and returns them under RV(sessions); signals none.
  diff_mode:
    description: There is nothing to diff; the result lists the sessions.
requirements:
  - psycopg (3) or psycopg2 on the host the module runs on
notes:
  - The connection options are named as in C(community.postgresql). Unlike C(community.postgresql.postgresql_query),
    whose check mode still runs a C(SELECT pg_terminate_backend(...)), this module signals nothing in check mode.
  - Usually run with C(delegate_to) a host that has the driver and reaches the server.
seealso:
  - module: mcpops.runbooks.pg_connections_info
  - module: mcpops.runbooks.pg_dump_verify
"""

EXAMPLES = r"""
- name: Step 3 - terminate idle sessions older than 10 minutes, not the monitoring role's
  mcpops.runbooks.pg_connections:
    state: terminated
    states: [idle]
    idle_for: 10m
    exclude_users: [monitoring]
    login_host: db.internal
    login_password: "{{ pg_password }}"

- name: Cancel the long queries of one application from one network, at most 20
  mcpops.runbooks.pg_connections:
    state: cancelled
    states: [active]
    idle_for: 5m
    application_names: [report-worker]
    client_addrs: [10.20.0.0/16]
    limit: 20
    login_unix_socket: /var/run/postgresql
"""

RETURN = r"""
total:
  description: Client sessions on the server (this module's own included).
  returned: deprecated state=info
  type: int
  sample: 187
max_connections:
  description: C(max_connections).
  returned: deprecated state=info
  type: int
superuser_reserved_connections:
  description: C(superuser_reserved_connections).
  returned: deprecated state=info
  type: int
reserved_connections:
  description: C(reserved_connections) (PostgreSQL 16 and later; 0 before).
  returned: deprecated state=info
  type: int
available:
  description: Slots ordinary roles can still open (max_connections - reserved - total, never below 0).
  returned: deprecated state=info
  type: int
percent_used:
  description: total / max_connections, in percent, one decimal.
  returned: deprecated state=info
  type: float
  sample: 93.5
server_version:
  description: C(server_version).
  returned: deprecated state=info
  type: str
by_state:
  description:
    - Sessions per state, C([{name, count}]) most first; likewise RV(by_client_addr) (unix socket clients as
      C(local)), RV(by_application_name), RV(by_user), RV(by_database).
  returned: deprecated state=info
  type: list
  elements: dict
  sample: [{"name": "idle", "count": 150}, {"name": "active", "count": 30}]
by_client_addr:
  description: Sessions per client address.
  returned: deprecated state=info
  type: list
  elements: dict
by_application_name:
  description: Sessions per application_name.
  returned: deprecated state=info
  type: list
  elements: dict
by_user:
  description: Sessions per role.
  returned: deprecated state=info
  type: list
  elements: dict
by_database:
  description: Sessions per database.
  returned: deprecated state=info
  type: list
  elements: dict
oldest_idle_in_transaction:
  description:
    - The session longest in an open transaction while idle (C(pid), C(user), C(database), C(client_addr),
      C(application_name), C(idle_seconds), C(transaction_seconds)), or null.
  returned: deprecated state=info
  type: dict
waiting:
  description: Sessions waiting on a lock or blocked by others, each with C(blocked_by) (pids) and C(waiting_seconds).
  returned: deprecated state=info
  type: list
  elements: dict
sessions:
  description:
    - The sessions terminated or cancelled (in check mode, that would be), each C(pid), C(user), C(database),
      C(client_addr), C(application_name), C(state), C(idle_seconds) (seconds since C(state_change)).
  returned: state is terminated or cancelled
  type: list
  elements: dict
  sample: [{"pid": 4242, "user": "app", "database": "gateway", "client_addr": "10.0.0.7",
            "application_name": "dashboard", "state": "idle", "idle_seconds": 912.4}]
count:
  description: Length of RV(sessions).
  returned: state is terminated or cancelled
  type: int
survived:
  description:
    - Signalled sessions still present (terminated) or still running the same query (cancelled) after
      O(wait_timeout); the task fails when there are any.
  returned: state is terminated or cancelled
  type: list
  elements: dict
gone:
  description: How many signalled sessions were seen gone (0 in check mode).
  returned: state is terminated or cancelled
  type: int
filters:
  description: The filters applied, as validated (durations in seconds, networks normalized).
  returned: state is terminated or cancelled
  type: dict
elapsed_seconds:
  description: Seconds from the statement to the last poll.
  returned: state is terminated or cancelled
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.info_state import check_state
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.connect import CONNECTION_ARGSPEC
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.pg_connections_run import run
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.session_filter import STATES


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str"),
            states=dict(type="list", elements="str", choices=STATES),
            idle_for=dict(type="str"),
            client_addrs=dict(type="list", elements="str"),
            application_names=dict(type="list", elements="str"),
            users=dict(type="list", elements="str"),
            databases=dict(type="list", elements="str"),
            exclude_users=dict(type="list", elements="str"),
            limit=dict(type="int"),
            include_superusers=dict(type="bool", default=False),
            all_matching=dict(type="bool", default=False),
            wait_timeout=dict(type="float", default=30),
            **CONNECTION_ARGSPEC
        ),
        supports_check_mode=True,
    )
    check_state(module, ["terminated", "cancelled"], "pg_connections_info")
    run_module(module, run)


if __name__ == "__main__":
    main()
