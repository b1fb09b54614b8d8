#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pg_maintenance module: its documentation, argument spec and main(); the work is _pg/pg_maintenance_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_maintenance
short_description: Run VACUUM ANALYZE and, only when asked, REINDEX DATABASE on one PostgreSQL database
version_added: "0.2.0"
description:
  - The "Database Recovery" steps of runbook seed 002 - C(VACUUM ANALYZE) of the service's database and, when
    corruption is suspected, C(REINDEX DATABASE).
  - Connects to O(database) itself (whatever O(login_db) says), since both statements work on the database the
    session is connected to, and runs C(VACUUM (ANALYZE)) when O(vacuum_analyze=true), then
    C(REINDEX DATABASE <database>) when O(reindex=true). The name is only ever a quoted identifier.
  - C(REINDEX DATABASE) takes locks that block writes to each table (and reads that use its indexes) while that
    table's indexes are rebuilt; the module runs it only when O(reindex=true), and the runbooks ask for a
    confirmation on top.
  - Returns, after the run, each user table's C(last_vacuum) and C(last_analyze) from C(pg_stat_user_tables), so the
    caller sees the maintenance happened.
  - Refused before connecting - neither O(vacuum_analyze) nor O(reindex); a database name that is empty, over 63
    bytes or holds a control character.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  database:
    description: The database to maintain.
    type: str
    required: true
  vacuum_analyze:
    description: Run C(VACUUM (ANALYZE)) on every table of O(database) the login may vacuum.
    type: bool
    default: false
  reindex:
    description: Run C(REINDEX DATABASE) on O(database) (it locks each table while its indexes are rebuilt).
    type: bool
    default: false
  login_user:
    description: Role to log in as; the database's owner or a superuser, to vacuum and reindex every table.
    type: str
    default: postgres
  login_db:
    description:
      - Not used to connect - the module connects to O(database) itself. Kept so that the C(postgres) action group's
        defaults apply.
    type: str
    default: postgres
extends_documentation_fragment:
  - mcpops.runbooks.postgres
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes
  - mcpops.runbooks.attributes.postgres_group
attributes:
  check_mode:
    description: Connects and reads the table statistics as a real run does; runs no maintenance statement.
requirements:
  - psycopg (3) or psycopg2 on the host the module runs on
notes:
  - The connection options are named as in C(community.postgresql).
  - C(changed) is true whenever a statement ran; maintenance is not idempotent in the Ansible sense, each run does it again.
seealso:
  - module: mcpops.runbooks.pg_connections_info
  - module: mcpops.runbooks.pg_connections
"""

EXAMPLES = r"""
- name: Vacuum and analyze
  mcpops.runbooks.pg_maintenance:
    database: cctelegram
    vacuum_analyze: true
    login_host: db.internal
    login_password: "{{ pg_password }}"

- name: Index rebuild (if corruption suspected)
  mcpops.runbooks.pg_maintenance:
    database: cctelegram
    reindex: true
"""

RETURN = r"""
database:
  description: The database maintained.
  returned: always
  type: str
  sample: cctelegram
statements:
  description: What was to run, in order (check mode - what would run).
  returned: always
  type: list
  elements: str
  sample: ["VACUUM ANALYZE", "REINDEX DATABASE cctelegram"]
ran:
  description: What ran (empty in check mode).
  returned: always
  type: list
  elements: str
durations_ms:
  description: Milliseconds each statement took.
  returned: always
  type: dict
  sample: {"VACUUM ANALYZE": 120}
tables:
  description: Each user table's C(last_vacuum) and C(last_analyze) (UTC, null when never by hand), read after the run.
  returned: success
  type: list
  elements: dict
  sample: [{"schema": "public", "table": "messages", "last_vacuum": "2026-12-05T14:20:01Z", "last_analyze": "2026-12-05T14:20:01Z"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.connect import CONNECTION_ARGSPEC
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.pg_maintenance_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            database=dict(type="str", required=True),
            vacuum_analyze=dict(type="bool", default=False),
            reindex=dict(type="bool", default=False),
            **CONNECTION_ARGSPEC
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
