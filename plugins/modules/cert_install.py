#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_install module: its documentation, argument spec and main(); the work is _tls/cert_install_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cert_install
short_description: Put a provided TLS certificate and key in place, checked first, with a backup of the old pair
version_added: "0.1.0"
description:
  - With O(state=present), reads the new certificate (O(cert_src), the leaf then its chain) and key (O(key_src)),
    and refuses, before anything is touched, a certificate that is not the key's pair, does not cover every
    name in O(names), is expired or not yet valid, or whose chain is out of order. Then copies the current
    pair into a new backup directory under O(backup_dir) and replaces O(cert_path) and O(key_path) atomically
    (each file's mode and owner kept; a key is never left world-readable).
  - With O(state=checked), only runs those checks on the new pair (for a method that puts it elsewhere, such as a
    Kubernetes TLS secret).
  - With O(state=restored), puts the pair of O(backup) back (the rollback of a renewal whose endpoint does not
    serve the new certificate).
  - Idempotent (the same bytes are not written again).
  - It does not reload the service; the playbook does that next.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  state:
    description: V(present) installs the new pair; V(checked) only checks it; V(restored) puts a backup back.
    type: str
    choices: [present, checked, restored]
    default: present
  cert_src:
    description: The new certificate on the host (PEM, leaf first, then its chain). Required with V(present) and V(checked).
    type: path
  key_src:
    description: The new private key on the host (PEM, unencrypted). Required with V(present) and V(checked).
    type: path
  cert_path:
    description: Where the service reads its certificate. Required with V(present); with V(restored) default the backup's.
    type: path
  key_path:
    description: Where the service reads its key. Required with V(present); with V(restored) default the backup's.
    type: path
  names:
    description: Host names (or IPs) the new certificate must cover.
    type: list
    elements: str
    default: []
  backup_dir:
    description: Where backups go (0700). Default C(.cert-backups) next to O(cert_path).
    type: path
  backup:
    description: With V(restored), the backup directory cert_install returned.
    type: path
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes_with_diff
  - mcpops.runbooks.attributes.no_group
attributes:
  check_mode:
    description: Reports what would be installed or restored and changes nothing.
  diff_mode:
    description: The serial before and after.
requirements:
  - cryptography >= 39 on the host that runs the module
"""

EXAMPLES = r"""
- name: Install the renewed pair (refused if it is not a pair or misses a name)
  mcpops.runbooks.cert_install:
    cert_src: /root/renewal/fullchain.pem
    key_src: /root/renewal/privkey.pem
    cert_path: /etc/onec-mcp-gateway/tls/fullchain.pem
    key_path: /etc/onec-mcp-gateway/tls/privkey.pem
    names: [gateway.example.com]
  register: installed

- name: Put the old pair back
  mcpops.runbooks.cert_install:
    state: restored
    backup: "{{ installed.backup }}"
"""

RETURN = r"""
backup:
  description: The backup directory of the old pair (null when nothing was replaced or in check mode).
  returned: always
  type: str
old_serial:
  description: Serial (hex) of the certificate in place before.
  returned: always
  type: str
new_serial:
  description: Serial (hex) of the certificate in place after.
  returned: always
  type: str
certificate:
  description: The new certificate's facts (subject, issuer, sans, not_after, days_left, key_type, ...).
  returned: with state=present and state=checked
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_install_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["present", "checked", "restored"]),
            cert_src=dict(type="path"),
            key_src=dict(type="path", no_log=False),
            cert_path=dict(type="path"),
            key_path=dict(type="path", no_log=False),
            names=dict(type="list", elements="str", default=[]),
            backup_dir=dict(type="path"),
            backup=dict(type="path"),
        ),
        required_if=[("state", "present", ("cert_src", "key_src", "cert_path", "key_path")),
                     ("state", "checked", ("cert_src", "key_src"))],
        supports_check_mode=True,
    )
    run_module(module, run, diff=module._diff)


if __name__ == "__main__":
    main()
