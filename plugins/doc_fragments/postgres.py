# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doc fragment mcpops.runbooks.postgres: the connection options of pg_connections and pg_dump_verify."""

from __future__ import annotations


class ModuleDocFragment:
    # The connection options of the PostgreSQL modules (named as community.postgresql names them); the
    # argument spec that goes with them is CONNECTION_ARGSPEC in module_utils/_pg/connect.py. A module
    # documents login_user and login_db itself: what the role needs and which database differ.
    DOCUMENTATION = r"""
options:
  login_host:
    description: Host of the server (name or address). Empty for libpq's default (the local unix socket).
    type: str
    default: ""
  login_port:
    description: Port of the server.
    type: int
    default: 5432
  login_password:
    description: Password of O(login_user). Never returned nor logged.
    type: str
    default: ""
  login_unix_socket:
    description: Directory of the server's unix socket; wins over O(login_host).
    type: str
    default: ""
  ssl_mode:
    description: libpq C(sslmode).
    type: str
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
    default: prefer
  ca_cert:
    description: CA certificate file to verify the server with (libpq C(sslrootcert)); with O(ssl_mode=verify-ca) or V(verify-full).
    type: str
    default: ""
  connect_timeout:
    description: Seconds to wait for each connection.
    type: int
    default: 10
"""
