# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doc fragment mcpops.runbooks.mysql: the connection options of the MySQL/MariaDB modules."""

from __future__ import annotations


class ModuleDocFragment:
    # The connection options of the MySQL/MariaDB modules (named as community.mysql names them); the argument
    # spec that goes with them is CONNECTION_ARGSPEC in module_utils/_mysql/connection_options.py. A module
    # documents login_db itself: which database it needs differs.
    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host of the server (name or address), over TCP. C(localhost) too is reached over TCP here, so the account
        must exist for the address the server sees (for example C(root@127.0.0.1)); use O(login_unix_socket) for a
        socket login.
    type: str
    default: localhost
  login_port:
    description: TCP port of the server.
    type: int
    default: 3306
  login_user:
    description: Account to log in as.
    type: str
    default: root
  login_password:
    description: Password of O(login_user). Never returned nor logged.
    type: str
    default: ""
  login_unix_socket:
    description: Path of the server's unix socket; wins over O(login_host) and O(login_port).
    type: str
    default: ""
  connect_timeout:
    description: Seconds to wait for the connection.
    type: int
    default: 10
  ca_cert:
    description: CA certificate file to verify the server's TLS certificate with; TLS is used when it or O(client_cert) is given.
    type: path
  client_cert:
    description: Client certificate file, for servers that require one (C(REQUIRE X509)).
    type: path
  client_key:
    description: Private key file of O(client_cert).
    type: path
notes:
  - No option file (C(~/.my.cnf)) is read, unlike community.mysql; every connection setting is an option.
"""
