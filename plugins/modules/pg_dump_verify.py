#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pg_dump_verify module: its documentation, argument spec and main(); the work is _pg/pg_dump_verify_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_dump_verify
short_description: Verify a PostgreSQL dump - integrity, a test restore into a scratch database, key table row counts
version_added: "0.1.0"
description:
  - The database backup verification runbook's steps 2 and 3 for one dump file.
  - "Integrity: the kind is read from the file's first bytes. A custom (C(pg_dump -Fc)) or tar (C(-Ft)) archive
    must pass C(pg_restore --list); a plain SQL dump (C(.sql), or gzip-compressed C(.sql.gz)) must decompress to its
    end (the gzip CRC covers every byte) and end with pg_dump's C(-- PostgreSQL database dump complete) trailer,
    which a truncated dump lacks. Every O(key_tables) entry must be a table the dump creates."
  - "Test restore (O(restore=true)): a new scratch database is created (never an existing one: the module refuses),
    the dump restored into it in one transaction stopping at the first error (C(pg_restore --no-owner --no-privileges
    --exit-on-error --single-transaction) or C(psql -v ON_ERROR_STOP=1 --single-transaction), gzip decompressed on
    the fly), the rows of every key table counted against O(min_rows), and the scratch database dropped, also when
    a step failed."
  - The result is what a backup verification log records (size, timestamp, duration, row counts, result); a failure
    names the stage (C(integrity), C(restore), C(sanity)) and what the tool or server said.
  - The password reaches C(pg_restore) and C(psql) in C(PGPASSWORD), never on their command line.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  path:
    description: The dump file.
    type: path
    required: true
  key_tables:
    description: Tables that must be in the dump and, after the test restore, hold at least O(min_rows) rows (C(name) for C(public.name), or C(schema.name)).
    type: list
    elements: str
    default: []
  min_rows:
    description: Rows each key table must hold after the test restore.
    type: int
    default: 1
  restore:
    description: Also test-restore into a scratch database (step 3); V(false) checks integrity only.
    type: bool
    default: true
  scratch_db:
    description: Name of the scratch database (lowercase letters, digits, _); default C(mcpops_verify_<8 hex>). It must not exist.
    type: str
    default: ""
  restore_timeout:
    description: Seconds the listing and the restore may take, each.
    type: int
    default: 3600
  bin_dir:
    description: Directory of C(pg_restore) and C(psql); default - PATH, then C(pg_config --bindir), then the newest C(/usr/lib/postgresql/*/bin).
    type: path
  login_user:
    description: Role to log in as; it needs C(CREATEDB) for the test restore.
    type: str
    default: postgres
  login_db:
    description: Database to connect to for creating and dropping the scratch database.
    type: str
    default: postgres
extends_documentation_fragment:
  - mcpops.runbooks.postgres
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes
  - mcpops.runbooks.attributes.postgres_group
attributes:
  check_mode:
    description: Checks integrity (read-only) and reports RV(result=integrity_ok); creates, restores and drops nothing.
  diff_mode:
    description: Nothing to diff.
requirements:
  - psycopg (3) or psycopg2, and the PostgreSQL client programs (pg_restore, psql), on the host the module runs on
notes:
  - A plain SQL dump carries C(ALTER ... OWNER TO) lines; restore it on a server that has the dump's roles, or verify
    custom-format dumps, which are restored with C(--no-owner).
  - The module changes nothing that outlives it, so it always reports C(changed=false).
seealso:
  - module: mcpops.runbooks.pg_connections
"""

EXAMPLES = r"""
- name: Step 2 - verify backup integrity (pg_restore --list)
  mcpops.runbooks.pg_dump_verify:
    path: /backups/latest.dump
    key_tables: [tokens, audit_events]
    restore: false

- name: Step 3 - test restore into a scratch database and count the key tables
  mcpops.runbooks.pg_dump_verify:
    path: /backups/backup_20240101.sql.gz
    key_tables: [tokens, audit_events]
    login_unix_socket: /var/run/postgresql
  register: verified
"""

RETURN = r"""
path:
  description: The dump file.
  returned: always
  type: str
name:
  description: Its file name.
  returned: always
  type: str
kind:
  description: C(custom), C(tar), C(plain) or C(plain.gz).
  returned: when the file could be read
  type: str
size_bytes:
  description: Size of the dump file.
  returned: when the file exists
  type: int
modified:
  description: Its modification time, UTC C(YYYY-MM-DDTHH:MM:SSZ).
  returned: when the file exists
  type: str
toc_entries:
  description: Entries in the archive's table of contents (null for plain dumps).
  returned: when the integrity check passed
  type: int
tables:
  description: How many tables the dump creates.
  returned: when the integrity check passed
  type: int
key_tables:
  description: The key tables, schema-qualified.
  returned: always
  type: list
  elements: str
row_counts:
  description: Rows of each key table in the restored scratch database.
  returned: always
  type: dict
  sample: {"public.tokens": 5000, "public.audit_events": 120345}
restored:
  description: Whether the test restore ran and succeeded.
  returned: always
  type: bool
scratch_db:
  description: The scratch database used (dropped again); null when no restore was tried.
  returned: always
  type: str
stage:
  description: C(done), or the stage that failed - C(input), C(integrity), C(restore), C(sanity).
  returned: always
  type: str
result:
  description: C(ok) (restored and counted), C(integrity_ok) (check mode or O(restore=false)), or C(failed).
  returned: always
  type: str
duration_seconds:
  description: Seconds the verification took.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.connect import CONNECTION_ARGSPEC
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.pg_dump_verify_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            key_tables=dict(type="list", elements="str", default=[], no_log=False),
            min_rows=dict(type="int", default=1),
            restore=dict(type="bool", default=True),
            scratch_db=dict(type="str", default=""),
            restore_timeout=dict(type="int", default=3600),
            bin_dir=dict(type="path"),
            **CONNECTION_ARGSPEC
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
