# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options every MySQL/MariaDB module of the collection takes, named as community.mysql names them
(their text: the doc fragment mcpops.runbooks.mysql). The PyMySQL modules connect with them (connect.py); the
modules that run the MariaDB client programs write them into a 0600 defaults file (client_tools.py)."""

from __future__ import annotations

CONNECTION_ARGSPEC = dict(
    login_host=dict(type="str", default="localhost"),
    login_port=dict(type="int", default=3306),
    login_user=dict(type="str", default="root"),
    login_password=dict(type="str", default="", no_log=True),
    login_unix_socket=dict(type="str", default=""),
    connect_timeout=dict(type="int", default=10),
    ca_cert=dict(type="path"),
    client_cert=dict(type="path"),
    client_key=dict(type="path", no_log=False),
)
