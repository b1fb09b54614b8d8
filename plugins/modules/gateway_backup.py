#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gateway_backup
short_description: Take, restore and prune backups of an MCP gateway data dir
version_added: "0.1.0"
description:
  - Manages the C(backups/) of an MCP gateway data dir (C(ONEC_MCP_DATA_DIR)) as the INC-003 runbook
    needs; it takes a backup (over the gateway API or on the files), restores one safely, prunes old ones.
  - Backups made through the API and by this module are the same format (C(backups/<id>/manifest.json)
    and C(backups/<id>/data/...)) and restorable either way.
  - A restore refuses while the gateway answers at O(api_url) or holds C(<data_dir>/.gateway.lock),
    unless O(force=true). In check mode these two only warn and the plan is still reported (the
    runbook stops the gateway in a step that check mode skips); a real run refuses. It never restores
    a backup that fails verification or whose C(schemaVersion) is newer than O(max_schema_version),
    force or not.
  - A restore takes a safety backup of the current data first (C(YYYYMMDDTHHMMSSZ-pre-restore-<6hex>),
    a byte copy even when the current data is corrupt), holds the gateway lock throughout, stages a
    verified copy under C(<data_dir>/.restore-<id>.staging) and swaps it in with renames under an
    fsync'd journal C(<data_dir>/.restore-journal.json). A restore killed at any point leaves the old
    or the new data once the next run of this module (any O(state)) has recovered from the journal;
    the gateway refuses to start while the journal exists. C(backups/) is never touched by a restore
    except to add the safety backup.
  - Every run (any O(state), outside check mode) first finishes or rolls back an interrupted restore
    it finds in the data dir, and reports it in RV(recovered).
  - "Hostile data dirs: the module runs as root, and whoever may write the data dir may put anything there.
    The O(data_dir) path itself is trusted as given; below it nothing is ever read or written through a
    link, and nothing but regular files and directories is opened (each name is opened relative to its
    parent directory with C(O_NOFOLLOW), a file also C(O_NONBLOCK), then checked with C(fstat))."
  - "Refused, with a message that names the path and says C(a link) or C(not a regular file) and what it is
    (a FIFO, a socket, ...), never anything about a link's target: a link or a special file (FIFO, socket,
    device) in the data (O(state=present) and O(state=restored) fail before anything is written); C(backups/)
    that is a link; C(.gateway.lock) that is a link or not a regular file; a restore journal that is a link,
    not a regular file, not JSON, over 128 MiB, or that names anything but the dirs its own naming scheme
    gives its backup id (C(.restore-<id>.staging), C(.restore-<id>.old), C(.restore-<id>.safety),
    C(backups/.tmp-<safety id>), single-segment data entries), or where such a dir is a link (nothing is
    removed or moved then; inspect the journal by hand)."
  - "A backup whose C(backups/<id>), C(manifest.json), C(data/) or a data file is a link or a special file fails
    verification (C(unsafe_file)) and is never restored; a data file's size is compared with the manifest before
    a byte of it is read; see M(mcpops.runbooks.gateway_backup_info) for the caps on what verification reads."
  - "Bounded: the data dir lock is only ever tried with C(LOCK_NB), retried for at most 2 seconds, then the run
    refuses; no open of a FIFO ever blocks; directory trees deeper than 64 levels are refused; copies keep a
    file's permission bits but never setuid, setgid or sticky."
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
requirements:
  - "python3 C(cryptography) on the gateway host when O(forensic_key_file) is given (Debian/Ubuntu: C(python3-cryptography))"
options:
  state:
    description:
      - V(present) takes a new backup.
      - V(restored) restores O(backup_id) into the data dir.
      - V(absent) prunes old backups by O(keep_last) and/or O(max_age_days).
    type: str
    choices: [present, restored, absent]
    default: present
  data_dir:
    description: The gateway data dir (C(ONEC_MCP_DATA_DIR)) on the managed host.
    type: path
    default: /var/lib/onec-mcp-gateway
  backup_id:
    description:
      - The backup to restore with O(state=restored), or V(latest_valid) for the newest backup that
        passes verification and has C(schemaVersion) <= O(max_schema_version); safety backups
        (C(-pre-restore-)) are not candidates for V(latest_valid), so that a second run does not undo
        the first.
      - Must match C(^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$); anything else is refused before any file is
        touched.
    type: str
  transport:
    description:
      - How O(state=present) takes the backup. V(api) calls C(POST /api/system/backups) at O(api_url);
        V(files) copies the data dir on the host; V(auto) uses the API when the gateway answers at
        O(api_url) and the files otherwise.
      - The V(files) transport refuses while the gateway holds its lock (it could copy a store half
        written), unless O(force=true).
      - A restore always works on the files (the gateway must be stopped).
    type: str
    choices: [auto, api, files]
    default: auto
  api_url:
    description:
      - Base URL of the gateway API, for example C(http://127.0.0.1:3000).
      - With O(state=restored) the restore refuses while the gateway answers there.
    type: str
  api_token:
    description: The admin (bootstrap) token, C(ONEC_MCP_HTTP_TOKEN). Needed by the V(api) transport.
    type: str
  force:
    description:
      - Restore although the gateway answers or holds the lock, or take a V(files) backup while it
        holds the lock. With the lock held by another process the restore runs without it and the
        running gateway may overwrite what was restored; stop the gateway instead whenever possible.
      - Never makes an invalid or too new backup restorable.
    type: bool
    default: false
  max_schema_version:
    description: The newest C(schemaVersion) the gateway binary supports; newer backups are never restored.
    type: int
    default: 3
  forensic_key_file:
    description:
      - "O(state=restored): the operator's forensic key (a 0600 file of 32 random bytes, e.g. C(umask 077; openssl rand
        -hex 32 > key); the inventory var C(mcpops_forensic_key_file)) on the gateway host. The safety backup of the data
        the restore replaces is then sealed (AES-256-GCM, see M(mcpops.runbooks.forensic_copy)) under
        C(backups/.sealed/<safety-id>/) before the swap, and no clear copy of the old data is kept. Needs python3
        C(cryptography) on the host."
      - "A O(backup_id) that names a sealed safety backup is opened with this key into C(backups/.sealed/.open-<id>/)
        (0700), each file checked against its manifest, then swapped in as any backup; the opened copy is removed
        afterwards. Without the key, or with another key, the task fails before anything is touched."
      - "Without it the safety backup is kept in clear as C(backups/<safety-id>/) (RV(safety_backup_sealed) false); the runbook
        INC-003 refuses that unless C(mcpops_forensic_allow_unencrypted=true)."
      - "Sealed safety backups are never listed by the gateway's API (a dot name under C(backups/)), never candidates
        for V(latest_valid), never pruned by O(state=absent); M(mcpops.runbooks.gateway_backup_info) lists them in
        RV(mcpops.runbooks.gateway_backup_info#module:sealed_backups)."
    type: path
  keep_last:
    description:
      - With O(state=absent), keep the N newest backups; older ones are removed.
      - The newest valid backup is never removed, and names starting with C(.) are never touched.
    type: int
  max_age_days:
    description:
      - With O(state=absent), remove backups whose C(createdAt) is older than this many days.
      - Combined with O(keep_last), a backup is removed when either rule says so.
    type: int
extends_documentation_fragment:
  - mcpops.runbooks.gateway_api
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes_with_diff
  - mcpops.runbooks.attributes.gateway_group
attributes:
  check_mode:
    details: Reports exactly what would change; an interrupted restore is reported (V(would_recover)), not recovered.
  diff_mode:
    details: The files a restore would add, change or remove, as lists of C(path) and C(sha256).
notes:
  - Runs on the managed host with its C(python3) and the standard library only.
seealso:
  - module: mcpops.runbooks.gateway_backup_info
  - module: mcpops.runbooks.gateway_health
"""

EXAMPLES = r"""
- name: Take a backup (API when the gateway answers, the files otherwise)
  mcpops.runbooks.gateway_backup:
    state: present
    data_dir: /var/lib/onec-mcp-gateway
    api_url: http://127.0.0.1:3000
    api_token: "{{ gateway_admin_token }}"

- name: INC-003 - restore the newest valid backup (gateway stopped before)
  mcpops.runbooks.gateway_backup:
    state: restored
    backup_id: latest_valid
    data_dir: /var/lib/onec-mcp-gateway
    api_url: http://127.0.0.1:3000
  register: restore

- name: Keep a week of backups
  mcpops.runbooks.gateway_backup:
    state: absent
    keep_last: 7
    max_age_days: 30
"""

RETURN = r"""
backup_id:
  description: The backup taken (V(present)) or restored (V(restored)). With V(present) in check mode, null.
  returned: state is present or restored
  type: str
  sample: 20261123T020000Z-a1b2c3
transport:
  description: How the backup was taken, V(api) or V(files).
  returned: state is present
  type: str
  sample: files
backup:
  description: The backup's summary (C(id), C(createdAt), C(schemaVersion), C(files), C(sizeBytes)).
  returned: state is present and a backup was taken or already matched the data
  type: dict
safety_backup_sealed:
  description:
    - True when the safety backup was sealed with O(forensic_key_file) (under C(backups/.sealed/<id>/)); false when it
      was kept in clear (no key); null when nothing was restored.
  returned: state is restored
  type: bool
safety_backup_id:
  description: The safety backup of the data the restore replaced; null when nothing was restored.
  returned: state is restored
  type: str
  sample: 20261123T031500Z-pre-restore-0f9e8d
schema_version:
  description: The restored backup's C(schemaVersion).
  returned: state is restored
  type: int
  sample: 3
files_changed:
  description: The files the restore added, changed and removed (relative paths).
  returned: state is restored
  type: dict
  sample: {"added": [], "changed": ["tokens.json"], "removed": ["index/stale.json"]}
removed:
  description: The backup ids pruned (in check mode, those that would be).
  returned: state is absent
  type: list
  elements: str
recovered:
  description:
    - The interrupted restore this run recovered from its journal before doing anything else,
      C({action, backup_id, phase}) with C(action) V(rolled_forward) or V(rolled_back)
      (V(would_recover) in check mode); null when there was none.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.gateway_backup_run import run
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.api_args import gateway_api_argument_spec


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["present", "restored", "absent"]),
            data_dir=dict(type="path", default="/var/lib/onec-mcp-gateway"),
            backup_id=dict(type="str"),
            transport=dict(type="str", default="auto", choices=["auto", "api", "files"]),
            force=dict(type="bool", default=False),
            max_schema_version=dict(type="int", default=3),
            forensic_key_file=dict(type="path", no_log=False),
            keep_last=dict(type="int", no_log=False),
            max_age_days=dict(type="int"),
            **gateway_api_argument_spec(api_url_default=None, token_required=False)
        ),
        required_if=[("state", "restored", ["backup_id"])],
        supports_check_mode=True,
    )
    run_module(module, run, diff=module._diff, warn=module.warn)


if __name__ == "__main__":
    main()
