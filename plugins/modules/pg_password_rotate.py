#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pg_password_rotate module: its documentation, argument spec and main(); the work is
_pg/pg_password_rotate_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_password_rotate
short_description: Rotate a PostgreSQL role's own password and prove the old one is refused
version_added: "0.2.0"
description:
  - "The security incident runbook's \"rotate database passwords\" (seed 001): logs in as O(login_user) with its
    current password O(login_password), sets O(new_password) with C(ALTER ROLE CURRENT_USER), then proves it on
    fresh connections - the new password is accepted and the old one refused (SQLSTATE C(28P01))."
  - "The new password is sent as its verifier (O(encryption), computed by libpq on this side), never in clear: it
    reaches no server log or C(pg_stat_activity). No superuser is needed: a role may change its own password."
  - "Idempotent: when the current password is refused and the new one accepted, the rotation was done already and
    nothing changes (RV(already_rotated)). Neither accepted: the task fails and nothing is changed."
  - "A server that still accepts the old password after the change (C(trust), C(peer) or C(ident) in
    C(pg_hba.conf)) fails the task: a rotated password that is not needed protects nothing."
  - "Check mode logs in with the current password (the proof that the rotation can run) and changes nothing."
  - "Neither password appears in a result or a message."
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  login_user:
    description: The role whose password is rotated; it logs in as itself.
    type: str
    default: postgres
  login_db:
    description: A database the role may connect to (lego-mcp's C(lego_mcp)).
    type: str
    default: postgres
  new_password:
    description: The new password. Never logged.
    type: str
    required: true
  encryption:
    description: The verifier's algorithm (the server's C(password_encryption) for new roles is usually the same).
    type: str
    choices: [scram-sha-256, md5]
    default: scram-sha-256
extends_documentation_fragment:
  - mcpops.runbooks.postgres
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes
  - mcpops.runbooks.attributes.no_group
requirements:
  - psycopg (3) or psycopg2 (2.8 or later) on the host the module runs on, with libpq 10 or later
seealso:
  - module: mcpops.runbooks.pg_connections
"""

EXAMPLES = r"""
- name: "4. Eradicate: rotate the database password (the old one proven refused)"
  mcpops.runbooks.pg_password_rotate:
    login_host: db.internal
    login_user: lego_mcp
    login_password: "{{ lego_db_password }}"
    login_db: lego_mcp
    new_password: "{{ new_db_password }}"
  register: rotated
"""

RETURN = r"""
role:
  description: O(login_user).
  returned: always
  type: str
encryption:
  description: O(encryption).
  returned: always
  type: str
already_rotated:
  description: The current password was refused and the new one accepted before anything was done.
  returned: always
  type: bool
new_accepted:
  description: A fresh connection with O(new_password) was accepted (false in check mode).
  returned: always
  type: bool
old_refused:
  description: A fresh connection with O(login_password) was refused by the server (false in check mode).
  returned: always
  type: bool
sqlstate:
  description: The server's SQLSTATE of a failure, when it gave one.
  returned: failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.connect import CONNECTION_ARGSPEC
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.pg_password_rotate_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            CONNECTION_ARGSPEC,
            new_password=dict(type="str", required=True, no_log=True),
            encryption=dict(type="str", choices=["scram-sha-256", "md5"], default="scram-sha-256"),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
