#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The oauth_states module: its documentation, argument spec and main(); the work is _mysql/oauth_states_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: oauth_states
short_description: Report and clean up ConnectorMCP's OAuth state table (expired states) in MySQL/MariaDB
version_added: "0.1.0"
description:
  - ConnectorMCP's "OAuth Flow Failures" runbook, its remediation. Its two diagnosis queries ("SELECT COUNT(*) as
    states, MAX(expires_at) as latest FROM oauth_states" and "SELECT COUNT(*) as expired FROM oauth_states WHERE
    expires_at < NOW()") and the database's clock are M(mcpops.runbooks.oauth_states_info).
  - O(state=cleaned) is its remediation step "Clean up expired states" ("DELETE FROM oauth_states WHERE expires_at <
    NOW()") in batches of O(batch_size) rows, each C(DELETE ... LIMIT) its own autocommitted transaction, so a run
    stopped half-way has deleted whole batches and nothing else and a busy table is never locked for the whole
    cleanup. "Expired" is by the database's clock, read once at the start (every batch and the count use that one
    cutoff). At most O(max_rows) rows when given. A second run reports C(changed=false).
  - Refused before anything is touched - a table or column name with anything but letters, digits and C(_); no
    O(login_db). A table or column that does not exist, or a column that is not a date/time, fails naming it.
  - Why not community.mysql - C(community.mysql.mysql_query) runs the runbook's C(DELETE) in one statement (one long
    transaction on a big table) and has no check mode (its task is skipped in check mode, so it cannot say how many
    rows it would delete); C(community.mysql.mysql_info) does not read tables.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  state:
    description:
      - V(cleaned) deletes the expired rows.
      - V(info), and leaving O(state) out, are deprecated and will be removed in 2.0.0 (O(state) will be required) - they
        still report as M(mcpops.runbooks.oauth_states_info) does, with a deprecation warning.
    type: str
  table:
    description: The OAuth state table, in O(login_db). Letters, digits and C(_) only.
    type: str
    default: oauth_states
  expires_column:
    description: Its expiry column (C(DATETIME), C(TIMESTAMP) or C(DATE)). Letters, digits and C(_) only.
    type: str
    default: expires_at
  batch_size:
    description: Rows a C(DELETE) statement (and transaction) removes at most.
    type: int
    default: 1000
  max_rows:
    description: Delete at most this many rows in this run (the rest stay for a later run). No cap when left out.
    type: int
  login_db:
    description: The database that holds O(table) (ConnectorMCP's is C(connectorMCP)). Required.
    type: str
    default: ""
extends_documentation_fragment:
  - mcpops.runbooks.mysql
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes_with_diff
  - mcpops.runbooks.attributes.mysql_group
attributes:
  check_mode:
    description: Counts the rows it would delete (RV(deleted)) and deletes none.
  diff_mode:
    description: Total and expired rows before and after (in check mode, what they would be).
requirements:
  - PyMySQL on the host the module runs on
notes:
  - O(login_user) needs C(SELECT) on the table (and C(DELETE) for O(state=cleaned)).
  - Rows that expire while a cleanup runs stay for the next run (the cutoff is fixed at the start).
seealso:
  - module: mcpops.runbooks.oauth_states_info
  - module: mcpops.runbooks.mysql_connections
"""

EXAMPLES = r"""
- name: Clean up expired states, 1000 rows a transaction
  mcpops.runbooks.oauth_states:
    state: cleaned
    login_host: db.internal
    login_user: connectormcp
    login_password: "{{ connector_mysql_password }}"
    login_db: connectorMCP

- name: A first pass on a huge backlog - at most 100,000 rows, small batches
  mcpops.runbooks.oauth_states:
    state: cleaned
    batch_size: 500
    max_rows: 100000
    login_db: connectorMCP
"""

RETURN = r"""
total:
  description: Rows in the table (the first query's C(states)).
  returned: deprecated state=info
  type: int
  sample: 5210
latest:
  description: The latest expiry, "MAX(expires_at)" (the first query's C(latest)); null for an empty table.
  returned: deprecated state=info
  type: str
  sample: "2024-01-15 10:40:00"
expired:
  description: Rows with "expires_at < NOW()" by the database's clock (the second query's C(expired)).
  returned: deprecated state=info
  type: int
  sample: 5000
oldest:
  description: The earliest expiry in the table, "MIN(expires_at)", or null for an empty table.
  returned: deprecated state=info
  type: str
oldest_expired:
  description: The earliest expiry among the expired rows, or null when none has expired.
  returned: deprecated state=info
  type: str
queries:
  description: The runbook's two queries as it writes them (with O(table) and O(expires_column)) and their answers.
  returned: deprecated state=info
  type: list
  elements: dict
  sample: [{"sql": "SELECT COUNT(*) as states, MAX(expires_at) as latest FROM oauth_states", "states": 5210, "latest": "2024-01-15 10:40:00"},
           {"sql": "SELECT COUNT(*) as expired FROM oauth_states WHERE expires_at < NOW()", "expired": 5000}]
db_now:
  description: The database's "NOW()" (its session time zone), the time "expired" is measured against.
  returned: deprecated state=info
  type: str
db_utc_now:
  description: The database's "UTC_TIMESTAMP()".
  returned: always
  type: str
db_utc_offset_seconds:
  description: db_now - db_utc_now, in seconds (the session time zone's offset).
  returned: deprecated state=info
  type: int
database:
  description: The database the table was read in.
  returned: always
  type: str
table:
  description: The table, as validated.
  returned: always
  type: str
expires_column:
  description: The expiry column, as validated.
  returned: always
  type: str
deleted:
  description: Rows deleted (in check mode, that would be).
  returned: state is cleaned
  type: int
  sample: 5000
batches:
  description: C(DELETE) statements that deleted rows (in check mode, that would).
  returned: state is cleaned
  type: int
batch_size:
  description: O(batch_size).
  returned: state is cleaned
  type: int
cutoff:
  description: The database's "NOW()" at the start; rows expiring before it were deleted.
  returned: state is cleaned
  type: str
total_before:
  description: Rows in the table before.
  returned: state is cleaned
  type: int
expired_before:
  description: Expired rows before.
  returned: state is cleaned
  type: int
remaining_expired:
  description: Rows expired before the cutoff still there (left by O(max_rows); in check mode, that would be).
  returned: state is cleaned
  type: int
elapsed_seconds:
  description: Seconds the deletion took.
  returned: state is cleaned
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.info_state import check_state
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connect import CONNECTION_ARGSPEC
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.oauth_states_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            CONNECTION_ARGSPEC,
            state=dict(type="str"),
            table=dict(type="str", default="oauth_states"),
            expires_column=dict(type="str", default="expires_at"),
            batch_size=dict(type="int", default=1000),
            max_rows=dict(type="int"),
        ),
        supports_check_mode=True,
    )
    check_state(module, ["cleaned"], "oauth_states_info")
    run_module(module, run, diff=module._diff)


if __name__ == "__main__":
    main()
