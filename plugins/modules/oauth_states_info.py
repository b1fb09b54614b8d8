#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The oauth_states_info module: its documentation, argument spec and main(); the work is _mysql/oauth_states_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: oauth_states_info
short_description: Report ConnectorMCP's OAuth state table in MySQL/MariaDB - states, expired ones, the database's clock
version_added: "0.2.0"
description:
  - ConnectorMCP's "OAuth Flow Failures" runbook, its two diagnosis queries ("SELECT COUNT(*) as states,
    MAX(expires_at) as latest FROM oauth_states" and "SELECT COUNT(*) as expired FROM oauth_states WHERE
    expires_at < NOW()"), with the oldest expired row and the database's clock ("NOW()" and "UTC_TIMESTAMP()") to
    compare with the instances' clocks. Read-only; M(mcpops.runbooks.oauth_states) cleans up the expired rows.
  - Refused before connecting - a table or column name with anything but letters, digits and C(_); no O(login_db).
    A table or column that does not exist, or a column that is not a date/time, fails naming it.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  table:
    description: The OAuth state table, in O(login_db). Letters, digits and C(_) only.
    type: str
    default: oauth_states
  expires_column:
    description: Its expiry column (C(DATETIME), C(TIMESTAMP) or C(DATE)). Letters, digits and C(_) only.
    type: str
    default: expires_at
  login_db:
    description: The database that holds O(table) (ConnectorMCP's is C(connectorMCP)). Required.
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
  - O(login_user) needs C(SELECT) on the table.
seealso:
  - module: mcpops.runbooks.oauth_states
  - module: mcpops.runbooks.mysql_connections_info
"""

EXAMPLES = r"""
- name: Check the OAuth state table (the runbook's two queries) and the database's clock
  mcpops.runbooks.oauth_states_info:
    login_host: db.internal
    login_user: connectormcp
    login_password: "{{ connector_mysql_password }}"
    login_db: connectorMCP
  register: oauth
"""

RETURN = r"""
total:
  description: Rows in the table (the first query's C(states)).
  returned: always
  type: int
  sample: 5210
latest:
  description: The latest expiry, "MAX(expires_at)" (the first query's C(latest)); null for an empty table.
  returned: always
  type: str
  sample: "2024-01-15 10:40:00"
expired:
  description: Rows with "expires_at < NOW()" by the database's clock (the second query's C(expired)).
  returned: always
  type: int
  sample: 5000
oldest:
  description: The earliest expiry in the table, "MIN(expires_at)", or null for an empty table.
  returned: always
  type: str
oldest_expired:
  description: The earliest expiry among the expired rows, or null when none has expired.
  returned: always
  type: str
queries:
  description: The runbook's two queries as it writes them (with O(table) and O(expires_column)) and their answers.
  returned: always
  type: list
  elements: dict
  sample: [{"sql": "SELECT COUNT(*) as states, MAX(expires_at) as latest FROM oauth_states", "states": 5210, "latest": "2024-01-15 10:40:00"},
           {"sql": "SELECT COUNT(*) as expired FROM oauth_states WHERE expires_at < NOW()", "expired": 5000}]
db_now:
  description: The database's "NOW()" (its session time zone), the time "expired" is measured against.
  returned: always
  type: str
db_utc_now:
  description: The database's "UTC_TIMESTAMP()".
  returned: always
  type: str
db_utc_offset_seconds:
  description: db_now - db_utc_now, in seconds (the session time zone's offset).
  returned: always
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
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connect import CONNECTION_ARGSPEC
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.oauth_states_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            table=dict(type="str", default="oauth_states"),
            expires_column=dict(type="str", default="expires_at"),
            **CONNECTION_ARGSPEC
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
