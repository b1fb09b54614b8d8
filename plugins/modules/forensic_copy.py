#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The forensic_copy module: its documentation, argument spec and main(); the work is _forensic/forensic_copy_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: forensic_copy
short_description: Seal a forensic copy (AES-256-GCM) with the operator's key, or open one
version_added: "0.1.0"
description:
  - "Forensic copies of a gateway's C(.data) (triage bundles, safety backups, debug copies) hold tokens and audit data.
    O(state=sealed) writes O(src) or O(content) to O(dest) encrypted with the operator's key (O(key_file)):
    AES-256-GCM in 1 MiB authenticated chunks under a versioned header, a fresh salt (so a fresh file key and
    nonces) a file; memory stays bounded whatever the size. O(state=opened) decrypts the sealed O(src) into O(dest)."
  - "Files are written 0600 (the mode is set before a byte is written) to a temp name beside O(dest), fsynced and
    renamed: a reader or a crash sees the old file or the new one. A missing parent directory is made 0700."
  - "A wrong key, a sealed file that was changed or truncated, a key file that is a link, not 0600 (group or others
    may read it) or not 32 bytes: the task fails with a message naming the file, O(dest) is untouched. The key never
    appears in a result or a message."
  - "Without O(key_file) the module refuses, unless O(allow_unencrypted=true): then O(dest) is written in clear
    (0600) and the task warns."
  - "Idempotent: a O(dest) that already holds (or, sealed, opens to) the same bytes is left as it is."
  - "The documented way to open any forensic copy of this collection (a safety backup's files are opened by
    M(mcpops.runbooks.gateway_backup) when it restores one):
    C(ansible localhost -m mcpops.runbooks.forensic_copy -a 'state=opened src=<file>.sealed dest=<file> key_file=<key>')."
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
requirements:
  - "python3 C(cryptography) on the host the module runs on (Debian/Ubuntu: C(python3-cryptography))"
options:
  state:
    description: V(sealed) writes a sealed copy; V(opened) opens one.
    type: str
    choices: [sealed, opened]
    default: sealed
  src:
    description:
      - V(sealed) the regular file to seal (never followed when a link); V(opened) the sealed file.
      - Exactly one of O(src) and O(content) with V(sealed).
    type: path
  content:
    description: The text to seal (V(sealed) only), e.g. a triage bundle's JSON. Never logged.
    type: str
  dest:
    description: The file to write (0600).
    type: path
    required: true
  key_file:
    description:
      - The operator's forensic key file on the host the module runs on (the inventory var C(mcpops_forensic_key_file)),
        mode 0600, holding 32 random bytes as 64 hex digits (C(umask 077; openssl rand -hex 32 > key)), base64 or raw.
    type: path
  allow_unencrypted:
    description: With no O(key_file), write the copy in clear (0600) instead of refusing. V(sealed) only.
    type: bool
    default: false
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes
  - mcpops.runbooks.attributes.no_group
seealso:
  - module: mcpops.runbooks.gateway_backup
"""

EXAMPLES = r"""
- name: Seal a triage bundle on the controller
  mcpops.runbooks.forensic_copy:
    content: "{{ bundle | to_nice_json }}"
    dest: "{{ run_dir }}/{{ inventory_hostname }}.json.sealed"
    key_file: "{{ mcpops_forensic_key_file }}"
  delegate_to: localhost

- name: Open it again (the documented way to read a sealed copy)
  mcpops.runbooks.forensic_copy:
    state: opened
    src: runs/20261123T031500Z-triage/gw1.json.sealed
    dest: /root/gw1.json
    key_file: /etc/mcpops/forensic.key
"""

RETURN = r"""
dest:
  description:
    - The file written (or that would be).
    - As with every module that returns O(dest), Ansible adds the file's facts when it exists (C(state), C(mode),
      C(owner), C(size) ...); for that reason this module returns no C(state) or C(size) of its own.
  returned: always
  type: str
sealed:
  description: Whether a key was used (false only for V(sealed) with O(allow_unencrypted) and no key).
  returned: always
  type: bool
format:
  description: The sealed format, C(mcpops-forensic/1 (AES-256-GCM, chunked)); null in clear.
  returned: always
  type: str
bytes:
  description: The bytes written to O(dest) (sealed) or the plaintext bytes (opened).
  returned: changed and not check mode
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.forensic_copy_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["sealed", "opened"], default="sealed"),
            src=dict(type="path"),
            content=dict(type="str", no_log=True),
            dest=dict(type="path", required=True),
            key_file=dict(type="path", no_log=False),
            allow_unencrypted=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("src", "content")],
        supports_check_mode=True,
    )
    run_module(module, run, warn=module.warn)


if __name__ == "__main__":
    main()
