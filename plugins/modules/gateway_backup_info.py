#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mcpops-runbooks engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gateway_backup_info
short_description: List the backups of an MCP gateway and verify them
version_added: "0.1.0"
description:
  - Lists the backups of an MCP gateway data dir, newest first, over the gateway API or from the files.
  - With O(verify=true) each backup gets C(valid) and C(problems), the named problems verification
    found (C(missing_manifest), C(bad_manifest), C(missing_file), C(size_mismatch),
    C(sha256_mismatch), C(invalid_json) with line and column, C(bad_jsonl_line) with the line number).
  - Read-only; runs in check mode.
author:
  - mcpops-runbooks engineers
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
  validate_certs:
    description: Verify the TLS certificate of O(api_url).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each HTTP call.
    type: int
    default: 10
attributes:
  check_mode:
    support: full
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
      description: Named problems verification found, each C(<name>) then the file and the detail, colon separated.
      type: list
      elements: str
      returned: verify is true
      sample: ["sha256_mismatch: tokens.json: manifest says 1a2b..., file has 9f8e...", "invalid_json: profiles.json: line 3 col 5: Expecting ',' delimiter"]
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

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils.backup_id import (
    BackupIdError,
    is_safety_backup_id,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils.backup_store import BackupStore
from ansible_collections.mcpops.runbooks.plugins.module_utils.data_swap import SwapError
from ansible_collections.mcpops.runbooks.plugins.module_utils.gateway_client import (
    GatewayClient,
    GatewayError,
)

FIELDS = ("id", "createdAt", "schemaVersion", "sizeBytes", "files")


def backup_entry(raw, store, verify):
    entry = {key: raw.get(key) for key in FIELDS}
    if isinstance(entry["files"], list):
        entry["files"] = len(entry["files"])
    backup_id = entry["id"] if isinstance(entry["id"], str) else ""
    entry["safety"] = is_safety_backup_id(backup_id)
    if verify:
        try:
            local = os.path.isdir(store.backup_dir(backup_id))
        except BackupIdError:
            local = False
        if local:
            entry["problems"] = store.verify(backup_id)
            entry["valid"] = not entry["problems"]
        else:
            entry["valid"] = None
            entry["problems"] = ["not verified: %s is not on this host" % os.path.join(store.backups_dir, backup_id)]
    return entry


def main():
    module = AnsibleModule(
        argument_spec=dict(
            data_dir=dict(type="path", default="/var/lib/onec-mcp-gateway"),
            transport=dict(type="str", default="auto", choices=["auto", "api", "files"]),
            verify=dict(type="bool", default=False),
            max_schema_version=dict(type="int", default=3),
            api_url=dict(type="str"),
            api_token=dict(type="str", no_log=True),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    params = module.params
    store = BackupStore(params["data_dir"])
    transport = params["transport"]
    client = None
    if params["api_url"]:
        client = GatewayClient(params["api_url"], params["api_token"], params["validate_certs"], params["timeout"])
    if transport == "api" and client is None:
        module.fail_json(msg="transport: api needs api_url (and api_token)")
    if transport == "auto":
        transport = "api" if client is not None and client.answers() else "files"
    try:
        if transport == "api":
            raw = [item for item in client.list_backups() if isinstance(item, dict)]
        else:
            if not os.path.isdir(params["data_dir"]):
                module.fail_json(msg="data dir %s does not exist; set data_dir to the gateway's ONEC_MCP_DATA_DIR" % params["data_dir"])
            raw = store.list()
        backups = [backup_entry(item, store, params["verify"]) for item in raw]
        latest_valid = store.latest_valid(params["max_schema_version"])
    except (GatewayError, SwapError, OSError) as exc:
        module.fail_json(msg=str(exc))
    interrupted = store.interrupted_restore()
    if interrupted:
        module.warn(
            "an interrupted restore is waiting in %s (.restore-journal.json): the gateway will not start until "
            "mcpops.runbooks.gateway_backup runs (any state) and recovers it" % params["data_dir"]
        )
    module.exit_json(
        changed=False,
        backups=backups,
        latest_valid=latest_valid,
        transport=transport,
        interrupted_restore=interrupted,
    )


if __name__ == "__main__":
    main()
