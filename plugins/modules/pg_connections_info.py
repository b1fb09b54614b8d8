#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pg_connections_info module: its documentation, argument spec and main(); the work is _pg/pg_connections_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_connections_info
short_description: Report PostgreSQL client connections - count against max_connections, sources, blocked sessions
version_added: "0.2.0"
description:
  - Steps 1 and 2 of the database connection exhaustion runbook (connection count, connection sources). Read-only;
    M(mcpops.runbooks.pg_connections) terminates or cancels sessions.
  - Counts client sessions (C(backend_type = 'client backend')) against C(max_connections) and the reserved slots,
    groups them by state, client address, application, user and database, and reports the oldest
    C(idle in transaction) session and the sessions waiting on a lock with the pids blocking them.
  - No query text is returned.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  login_user:
    description:
      - Role to log in as. To see the details of other roles' sessions (their state, client address, application)
        it must be a superuser or a member of C(pg_read_all_stats).
    type: str
    default: postgres
  login_db:
    description: Database to connect to (any works; C(pg_stat_activity) covers the whole server).
    type: str
    default: postgres
extends_documentation_fragment:
  - mcpops.runbooks.postgres
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.postgres_group
requirements:
  - psycopg (3) or psycopg2 on the host the module runs on
notes:
  - The connection options are named as in C(community.postgresql).
  - Usually run with C(delegate_to) a host that has the driver and reaches the server.
seealso:
  - module: mcpops.runbooks.pg_connections
  - module: community.postgresql.postgresql_info
"""

EXAMPLES = r"""
- name: Steps 1 and 2 - connection count and sources
  mcpops.runbooks.pg_connections_info:
    login_host: db.internal
    login_user: postgres
    login_password: "{{ pg_password }}"
  register: pg

- name: Over 90 percent used - say which application holds the most
  ansible.builtin.debug:
    msg: "{{ pg.percent_used }} % used; most by {{ pg.by_application_name[0].name }}"
  when: pg.percent_used > 90
"""

RETURN = r"""
total:
  description: Client sessions on the server (this module's own included).
  returned: always
  type: int
  sample: 187
max_connections:
  description: C(max_connections).
  returned: always
  type: int
superuser_reserved_connections:
  description: C(superuser_reserved_connections).
  returned: always
  type: int
reserved_connections:
  description: C(reserved_connections) (PostgreSQL 16 and later; 0 before).
  returned: always
  type: int
available:
  description: Slots ordinary roles can still open (max_connections - reserved - total, never below 0).
  returned: always
  type: int
percent_used:
  description: total / max_connections, in percent, one decimal.
  returned: always
  type: float
  sample: 93.5
server_version:
  description: C(server_version).
  returned: always
  type: str
by_state:
  description:
    - Sessions per state, C([{name, count}]) most first; likewise RV(by_client_addr) (unix socket clients as
      C(local)), RV(by_application_name), RV(by_user), RV(by_database).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "idle", "count": 150}, {"name": "active", "count": 30}]
by_client_addr:
  description: Sessions per client address.
  returned: always
  type: list
  elements: dict
by_application_name:
  description: Sessions per application_name.
  returned: always
  type: list
  elements: dict
by_user:
  description: Sessions per role.
  returned: always
  type: list
  elements: dict
by_database:
  description: Sessions per database.
  returned: always
  type: list
  elements: dict
oldest_idle_in_transaction:
  description:
    - The session longest in an open transaction while idle (C(pid), C(user), C(database), C(client_addr),
      C(application_name), C(idle_seconds), C(transaction_seconds)), or null.
  returned: always
  type: dict
waiting:
  description: Sessions waiting on a lock or blocked by others, each with C(blocked_by) (pids) and C(waiting_seconds).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.connect import CONNECTION_ARGSPEC
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.pg_connections_run import run


def main():
    module = AnsibleModule(argument_spec=dict(**CONNECTION_ARGSPEC), supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
