#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mysql_backup module: its documentation, argument spec and main(); the work is _mysql/mysql_backup_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mysql_backup
short_description: Dump one MariaDB/MySQL database with its binary log coordinates, for point-in-time recovery
version_added: "0.1.0"
description:
  - ConnectorMCP's "restore database from backup" needs a backup that says where in the binary log it stops; this
    module makes it. mcpops.runbooks.mysql_point_in_time_restore restores it and replays the binary log after it.
  - "O(state=present) writes C(<dest_dir>/<database>-<YYYYmmddTHHMMSSZ>.sql.gz) (UTC, the module host's clock) with
    C(mariadb-dump --single-transaction --master-data=2 --routines --triggers --hex-blob <database>): the tables of
    ONE database with no C(CREATE DATABASE) nor C(USE), so the dump loads into a database of another name.
    C(--master-data=2) writes the binary log coordinates of the dump's consistent snapshot as a
    C(-- CHANGE MASTER TO) comment; they go into the manifest."
  - "The manifest C(<same name>.json) holds C(database), C(file), C(sha256) and C(size) of the .sql.gz,
    C(binlog_file), C(binlog_position), C(dump_started_utc) and C(server_time_utc) (the server's UTC clock before
    the dump and after it: the data is as of a moment between them), C(created_at), C(tool_version), C(format)."
  - "Crash safety: the dump and the manifest are written (mode 0600) to hidden temp names in O(dest_dir)
    (C(.<name>.*.tmp)), fsynced, and only then linked to their real names (never over an existing file) and the
    directory fsynced. A kill in the middle leaves at most a hidden temp file, never a half backup under a
    backup's name. A dump that lacks mariadb-dump's C(-- Dump completed) trailer or the coordinates is refused."
  - Every run makes a new backup, so the task always reports C(changed) (a backup is not idempotent).
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  database:
    description: The database to dump (letters, digits, _ and $).
    type: str
    required: true
  dest_dir:
    description: Existing directory the backup goes to.
    type: path
    required: true
  state:
    description: V(present) makes a backup.
    type: str
    choices: [present]
    default: present
  keep:
    description:
      - After a new backup, keep only the newest O(keep) backups of O(database) in O(dest_dir) and delete the older
        ones (manifest and dump). V(0) keeps every backup.
    type: int
    default: 0
  dump_timeout:
    description: Seconds the dump may take.
    type: int
    default: 3600
  bin_dir:
    description: Directory of the MariaDB client programs; default - PATH, then C(/usr/bin), C(/usr/local/bin). The MySQL-era
      names (C(mysql), C(mysqldump), C(mysqlbinlog)) are used when the MariaDB ones are missing.
    type: path
extends_documentation_fragment:
  - mcpops.runbooks.mysql
attributes:
  check_mode:
    description: Can run in check mode and report what would change without changing anything.
    support: full
    details: Connects and checks (the database exists, the binary log is on); dumps and writes nothing, prunes nothing, and returns the paths it would write.
  diff_mode:
    description: Reports what changed when run with C(--diff).
    support: none
  action_group:
    description: Use C(group/mcpops.runbooks.mysql) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - mcpops.runbooks.mysql
requirements:
  - The MariaDB (or MySQL) client program mariadb-dump and mariadb, on the host the module runs on.
  - The login needs SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD and BINLOG MONITOR (or REPLICATION CLIENT).
  - The server's binary log must be on (C(log_bin)); the module refuses otherwise.
notes:
  - The password reaches the client programs in a mode 0600 C(--defaults-extra-file) in a private temp dir (mode
    0700) removed at the end, never on their command line.
  - The backup files hold the database's data; they are created with mode 0600.
  - A backup written in the same second as another of the same database is refused (run again).
seealso:
  - module: mcpops.runbooks.mysql_point_in_time_restore
"""

EXAMPLES = r"""
- name: Back up connectorMCP before a risky change
  mcpops.runbooks.mysql_backup:
    database: connectorMCP
    dest_dir: /var/backups/connectormcp
    keep: 14
    login_unix_socket: /run/mysqld/mysqld.sock
    login_user: root
    login_password: "{{ mysql_login_password }}"
  register: backup

- name: Show where it stops in the binary log
  ansible.builtin.debug:
    msg: "{{ backup.manifest.binlog_file }}:{{ backup.manifest.binlog_position }}"
"""

RETURN = r"""
database:
  description: The database dumped.
  returned: always
  type: str
path:
  description: The dump file (in check mode, the one that would be written).
  returned: always
  type: str
manifest_path:
  description: The manifest file.
  returned: always
  type: str
manifest:
  description: The manifest written (null in check mode).
  returned: always
  type: dict
  sample: {"database": "connectorMCP", "file": "connectorMCP-20240101T030000Z.sql.gz", "sha256": "9f86d0...",
           "size": 10422, "binlog_file": "binlog.000007", "binlog_position": 1760,
           "server_time_utc": "2024-01-01T03:00:01Z", "dump_started_utc": "2024-01-01T03:00:00Z",
           "created_at": "2024-01-01T03:00:00Z", "tool_version": "mariadb-dump Ver 10.19 ...",
           "format": "mcpops.mysql_backup/1"}
pruned:
  description: Files deleted by O(keep) (in check mode, those that would be).
  returned: always
  type: list
  elements: str
msg:
  description: What was done.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connection_options import CONNECTION_ARGSPEC
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.mysql_backup_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            database=dict(type="str", required=True),
            dest_dir=dict(type="path", required=True),
            state=dict(type="str", choices=["present"], default="present"),
            keep=dict(type="int", default=0, no_log=False),
            dump_timeout=dict(type="int", default=3600),
            bin_dir=dict(type="path"),
            **CONNECTION_ARGSPEC
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
