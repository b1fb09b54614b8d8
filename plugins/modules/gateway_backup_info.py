#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_backup_info
short_description: List the backups of an MCP gateway and verify them
version_added: "0.1.0"
description:
  - Lists the backups of an MCP gateway data dir, newest first, over the gateway API or from the files.
  - With O(verify=true) each backup gets C(valid) and C(problems), the named problems verification
    found (C(missing_manifest), C(bad_manifest), C(missing_file), C(size_mismatch),
    C(sha256_mismatch), C(invalid_json) with line and column, C(bad_jsonl_line) with the line number,
    C(unsafe_file), C(too_large), and last C(more_problems)).
  - "Read-only, and safe on a data dir someone else may write: below O(data_dir) (trusted as given) nothing is
    read or written through a link and nothing but regular files and directories is opened. A backup whose
    C(backups/<id>), C(manifest.json), C(data/), a directory in it or a data file is a link, a FIFO, a socket or
    a device gets an C(unsafe_file) problem that names it and says C(a link, not a regular file) or
    C(not a regular file) and what it is (a FIFO, a socket, ...), never anything about a link's target; it
    is not valid and never RV(latest_valid). A C(backups/) that is a link fails the task."
  - "Bounded: a data file's size is compared with the manifest before a byte of it is read (a larger or sparse
    file is a C(size_mismatch), unread); a manifest over 64 MiB is C(too_large) (a parse cache over 64 MiB is
    ignored); a C(.json) store over 256 MiB is hashed but not parsed (C(too_large)); a C(.jsonl) line
    longer than 16 MiB is a C(bad_jsonl_line) and is never held in memory; JSON nested deeper than the parser
    can follow is C(invalid_json) / C(bad_manifest) (nested too deeply), one problem of one backup, never a
    failed listing; at most 20 problems are listed per backup, then C(more_problems) gives the count of the rest;
    at most 5 bad lines per C(.jsonl) file."
  - "The parse cache C(backups/<id>/.parsed.json) is written (outside check mode) only as a new file created
    with C(O_EXCL | O_NOFOLLOW) and renamed into place, and never while it or its C(.parsed.json.tmp) is a link
    or a special file."
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  data_dir:
    description: The gateway data dir (C(ONEC_MCP_DATA_DIR)) on the managed host.
    type: path
    default: /var/lib/onec-mcp-gateway
  transport:
    description:
      - V(api) lists through C(GET /api/system/backups) at O(api_url); V(files) reads C(<data_dir>/backups);
        V(auto) uses the API when the gateway answers at O(api_url), the files otherwise.
      - Verification always reads the files; over the API a backup whose files are not on this host has
        C(valid) null.
    type: str
    choices: [auto, api, files]
    default: auto
  verify:
    description: Verify every backup against its manifest. This reads every file, so it is slower on large backups.
    type: bool
    default: false
  max_schema_version:
    description: Backups with a newer C(schemaVersion) are not candidates for RV(latest_valid).
    type: int
    default: 3
  api_url:
    description: Base URL of the gateway API, for example C(http://127.0.0.1:3000).
    type: str
  api_token:
    description: The admin (bootstrap) token, needed by the V(api) transport.
    type: str
extends_documentation_fragment:
  - mcpops.runbooks.gateway_api
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.gateway_group
notes:
  - Runs on the managed host with its C(python3) and the standard library only.
seealso:
  - module: mcpops.runbooks.gateway_backup
"""

EXAMPLES = r"""
- name: Which backup would INC-003 restore?
  mcpops.runbooks.gateway_backup_info:
    data_dir: /var/lib/onec-mcp-gateway
    transport: files
    verify: true
  register: backups

- name: Show it
  ansible.builtin.debug:
    msg: "latest valid backup: {{ backups.latest_valid }}"
"""

RETURN = r"""
backups:
  description: The backups, newest first (C(createdAt), then id).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The backup id.
      type: str
      sample: 20261123T020000Z-a1b2c3
    createdAt:
      description: UTC creation time; null when the manifest cannot be read.
      type: str
    schemaVersion:
      description: The data's schemaVersion at backup time; null when unknown.
      type: int
    sizeBytes:
      description: Total size of the backed-up files.
      type: int
    files:
      description: Number of files in the backup.
      type: int
    safety:
      description: Whether this is a safety backup a restore took (C(-pre-restore-) in the id).
      type: bool
    valid:
      description: Whether the backup passes verification; null when it could not be checked on this host.
      type: bool
      returned: verify is true
    problems:
      description:
        - Named problems verification found, each C(<name>) then the file and the detail, colon separated.
        - At most 20, then one C(more_problems) entry that counts the ones not listed.
      type: list
      elements: str
      returned: verify is true
      sample: ["sha256_mismatch: tokens.json: manifest says 1a2b..., file has 9f8e...", "invalid_json: profiles.json: line 3 col 5: Expecting ',' delimiter"]
sealed_backups:
  description:
    - "The sealed safety backups (encrypted at rest under C(backups/.sealed/<id>/) by a restore with
      C(forensic_key_file); read from the files, whatever the transport), newest first: C(id), C(createdAt),
      C(schemaVersion), C(files), C(sizeBytes), C(sealed) (true). Listed from their clear manifests: not verified,
      never candidates for RV(latest_valid); M(mcpops.runbooks.gateway_backup) restores one with the key."
  returned: success
  type: list
  elements: dict
latest_valid:
  description:
    - The newest backup that passes verification with C(schemaVersion) <= O(max_schema_version),
      safety backups excluded (what O(mcpops.runbooks.gateway_backup#module:backup_id=latest_valid) restores);
      null when there is none or the files are not on this host.
  returned: always
  type: str
transport:
  description: V(api) or V(files), how the list was read.
  returned: always
  type: str
interrupted_restore:
  description: Whether C(<data_dir>/.restore-journal.json) exists (run gateway_backup to recover).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.gateway_backup_info_run import run
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.api_args import gateway_api_argument_spec


def main():
    module = AnsibleModule(
        argument_spec=dict(
            data_dir=dict(type="path", default="/var/lib/onec-mcp-gateway"),
            transport=dict(type="str", default="auto", choices=["auto", "api", "files"]),
            verify=dict(type="bool", default=False),
            max_schema_version=dict(type="int", default=3),
            **gateway_api_argument_spec(api_url_default=None, token_required=False)
        ),
        supports_check_mode=True,
    )
    run_module(module, run, warn=module.warn)


if __name__ == "__main__":
    main()
