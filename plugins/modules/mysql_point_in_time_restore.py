#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mysql_point_in_time_restore module: its documentation, argument spec and main(); the work is
_mysql/pitr_restore_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mysql_point_in_time_restore
short_description: Restore one MariaDB database from a mysql_backup and replay the binary log to a point in time
version_added: "0.1.0"
description:
  - "ConnectorMCP's point-in-time recovery, steps 2 and 3: restore the database from a backup, apply the binary logs
    to the recovery point. Steps 1 and 4 (stop, then start, every backend instance) are the playbook's; run this
    module only while nothing writes to the database."
  - "Checks first, all read-only (and all that check mode does): the manifest parses; its dump exists with the
    manifest's size and sha256; O(stop_datetime) is after the backup's C(server_time_utc); the binary log files
    from the backup's position to the newest are all still on the server (C(SHOW BINARY LOGS)); the database
    exists and has no triggers (C(RENAME TABLE) cannot move a table with triggers to another database); the binary
    log in that range holds no statement naming the database inside its text (with binlog_format STATEMENT or
    MIXED such a statement, for example C(INSERT INTO connectorMCP.t) or one run under another default database,
    cannot be redirected to a staging database: the module refuses rather than change the live database or lose
    the change). Any failed check is a clear error and nothing is changed."
  - "Then: a staging database C(<database>_pitr_<UTC YYYYmmddHHMMSS>) is created with the live database's character
    set, the dump loaded into it, and the binary log replayed into it with C(mariadb-binlog --read-from-remote-server
    --start-position=<manifest position> --stop-datetime=<point> --database=<database>
    --rewrite-db='<database>-><staging>' --disable-log-bin <files>) fed into C(mariadb <staging>). Every session
    of the restore runs with C(sql_log_bin=0). Every table the dump created must still exist after the replay."
  - "The swap is ONE C(RENAME TABLE db.t TO <database>_before_pitr_<stamp>.t, ..., staging.t TO db.t, ...)
    statement: the live database changes in one atomic step. With O(keep_previous=true) the old tables stay in
    C(<database>_before_pitr_<stamp>); otherwise that database is dropped. The emptied staging database is dropped."
  - "A failure before the RENAME leaves the live database untouched and drops the staging database (the error
    says so). Views, routines and events of the live database stay as they are (views refer to tables by name, so
    they see the restored tables); those of the backup are not restored."
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  database:
    description: The database to restore (letters, digits, _ and $; at most 37 characters, so that the names the module creates fit).
    type: str
    required: true
  backup:
    description: A manifest written by mcpops.runbooks.mysql_backup (its dump is in the same directory). Exclusive with O(backup_dir).
    type: path
  backup_dir:
    description: A directory of mysql_backup backups; the newest manifest of O(database) whose C(server_time_utc) is before
      O(stop_datetime) is used. Exclusive with O(backup).
    type: path
  stop_datetime:
    description:
      - "The recovery point, C(YYYY-MM-DD HH:MM:SS), in the DATABASE SERVER's time zone: what C(SELECT NOW()) shows
        in a new session (C(@@global.time_zone); C(SYSTEM) means the server host's zone). The server converts it to
        UTC (C(UNIX_TIMESTAMP)); in a daylight-saving change's repeated hour it picks one of the two. Changes up to
        the last second before it are replayed; nothing at or after it."
    type: str
    required: true
  keep_previous:
    description: Keep the replaced tables in C(<database>_before_pitr_<stamp>); V(false) drops them after the swap.
    type: bool
    default: true
  restore_timeout:
    description: Seconds each of loading the dump, reading and replaying the binary log may take.
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
    details: Does every read-only check (manifest, sha256, binary logs still on the server, the log decoded and scanned)
      and says what it would do; creates, loads, renames and drops nothing.
  diff_mode:
    description: Reports what changed when run with C(--diff).
    support: none
  action_group:
    description: Use C(group/mcpops.runbooks.mysql) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - mcpops.runbooks.mysql
requirements:
  - The MariaDB client programs mariadb and mariadb-binlog (or mysql and mysqlbinlog), on the host the module runs on.
  - "The login needs: CREATE, DROP, ALTER, INSERT and every privilege the dump's statements need, on all databases
    (it creates two); BINLOG MONITOR (SHOW BINARY LOGS), REPLICATION SLAVE (C(--read-from-remote-server)) and
    BINLOG ADMIN or SUPER (C(sql_log_bin=0)). The lab's root has them."
notes:
  - The password reaches the client programs in a mode 0600 C(--defaults-extra-file) in a private temp dir (mode
    0700) removed at the end, never on their command line.
  - "The restore is not written to the binary log (C(sql_log_bin=0)): replicas do not follow it and must be
    re-seeded, and a later point-in-time recovery cannot start from a backup older than this restore - take a new
    mysql_backup right after."
  - The binary log is decoded into a private temp dir (TMPDIR) first; it needs room for it.
  - binlog_format=ROW is the safe format for point-in-time recovery; with another the result has a warning.
  - Tables only in the live database (created after the backup and not by the replayed log) move to C(<database>_before_pitr_<stamp>) too.
seealso:
  - module: mcpops.runbooks.mysql_backup
"""

EXAMPLES = r"""
- name: Stop every backend instance first (the runbook's step 1)
  ansible.builtin.include_role:
    name: mcpops.runbooks.gateway_service
  vars:
    gateway_service_action: stop

- name: Restore connectorMCP to just before the bad migration
  mcpops.runbooks.mysql_point_in_time_restore:
    database: connectorMCP
    backup_dir: /var/backups/connectormcp
    stop_datetime: "2024-01-01 10:15:00"
    login_unix_socket: /run/mysqld/mysqld.sock
    login_password: "{{ mysql_login_password }}"
  register: pitr

- name: What was restored
  ansible.builtin.debug:
    msg: "{{ pitr.rows_before }} -> {{ pitr.rows_after }}; old tables in {{ pitr.previous_database }}"
"""

RETURN = r"""
database:
  description: The database restored.
  returned: always
  type: str
stop_datetime:
  description: The recovery point as given (server time zone).
  returned: always
  type: str
stop_datetime_utc:
  description: The recovery point in UTC, as the server converted it.
  returned: when the server was reached
  type: str
backup:
  description: The manifest used.
  returned: when one was chosen
  type: str
manifest:
  description: Its content.
  returned: when one was chosen
  type: dict
staging_database:
  description: The staging database (dropped at the end, and on failure).
  returned: always
  type: str
previous_database:
  description: The database holding the replaced tables (null when O(keep_previous=false)).
  returned: always
  type: str
binlog_files:
  description: The binary log files replayed (from the backup's file to the newest).
  returned: always
  type: list
  elements: str
tables:
  description: The tables swapped in.
  returned: always
  type: list
  elements: str
rows_before:
  description: Rows of each live table before the restore.
  returned: always
  type: dict
rows_after:
  description: Rows of each table after it (of the restored tables).
  returned: always
  type: dict
server:
  description: The server's version, binlog_format, time_zone, system_time_zone and now_utc.
  returned: when the server was reached
  type: dict
warnings:
  description: Things the operator should know (binlog_format not ROW, a recovery point in the future).
  returned: always
  type: list
  elements: str
stage:
  description: C(done), C(checked) (check mode), or where it failed - C(check), C(restore), C(replay), C(verify), C(swap), C(cleanup).
  returned: always
  type: str
msg:
  description: What was done, or would be in check mode.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connection_options import CONNECTION_ARGSPEC
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.pitr_restore_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            database=dict(type="str", required=True),
            backup=dict(type="path"),
            backup_dir=dict(type="path"),
            stop_datetime=dict(type="str", required=True),
            keep_previous=dict(type="bool", default=True),
            restore_timeout=dict(type="int", default=3600),
            bin_dir=dict(type="path"),
            **CONNECTION_ARGSPEC
        ),
        mutually_exclusive=[("backup", "backup_dir")],
        required_one_of=[("backup", "backup_dir")],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
