# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doc fragment mcpops.runbooks.nginx: how the collection's nginx modules (nginx_upstream_server,
nginx_client_limit) run nginx to validate and reload the conf they edit."""

from __future__ import annotations


class ModuleDocFragment:
    # The argument spec that goes with these options is NGINX_ARGSPEC in module_utils/_nginx/nginx_cli.py.
    DOCUMENTATION = r"""
options:
  nginx_conf:
    description: nginx's main conf (C(nginx -c)), which includes O(path); C(nginx -t) judges it.
    type: path
    required: true
  nginx_prefix:
    description: nginx's prefix (C(nginx -p)); its default when not given.
    type: path
  nginx_binary:
    description: The nginx binary, a path or a name looked up in C(PATH) and C(/usr/sbin).
    type: str
    default: nginx
  reload:
    description: Reload nginx (C(nginx -s reload)) after a change. Nothing changed, nothing reloaded.
    type: bool
    default: false
"""
