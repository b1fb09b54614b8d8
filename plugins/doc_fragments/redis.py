# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doc fragment mcpops.runbooks.redis: the connection options of the collection's Redis modules (redis_keys)."""

from __future__ import annotations


class ModuleDocFragment:
    # The connection options of the Redis modules, named as community.general's redis modules name them
    # (login_host, login_port, login_user, login_password, tls, validate_certs, ca_certs, client_cert_file,
    # client_key_file) plus login_db and connect_timeout, which those modules do not have. The argument spec that
    # goes with them is CONNECTION_ARGSPEC in module_utils/_redis/connection.py. Unlike community.general's,
    # the client is the collection's own RESP2 code: no redis-py nor certifi on the target.
    DOCUMENTATION = r"""
options:
  login_host:
    description: Host of the Redis server (name or address).
    type: str
    default: 127.0.0.1
  login_port:
    description: Port of the Redis server.
    type: int
    default: 6379
  login_user:
    description:
      - ACL user to log in as (C(AUTH user password), Redis 6 and later). Empty for the default user.
    type: str
  login_password:
    description:
      - Password (the default user's C(requirepass), or O(login_user)'s). Never returned nor logged, and never in an
        error message.
    type: str
  login_db:
    description: Database number to C(SELECT).
    type: int
    default: 0
  tls:
    description:
      - Connect with TLS (to the server's C(tls-port)). Off by default, unlike C(community.general.redis_data), because
        a plain C(port) is the usual Redis set-up.
    type: bool
    default: false
  validate_certs:
    description:
      - Verify the server's certificate and that it names O(login_host), with O(tls=true). Turn off only for a lab.
    type: bool
    default: true
  ca_certs:
    description:
      - CA certificate file (PEM) to verify the server with, with O(tls=true). Default - the system's trust store.
    type: str
    aliases: [ca_cert]
  client_cert_file:
    description: Client certificate file (PEM) for a server that asks for one (C(tls-auth-clients)).
    type: str
  client_key_file:
    description: Private key of O(client_cert_file), when not in the same file.
    type: str
  connect_timeout:
    description: Seconds to wait for the TCP connection and the TLS handshake.
    type: float
    default: 10
"""
