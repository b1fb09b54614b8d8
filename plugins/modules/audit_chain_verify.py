#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit_chain_verify module: its documentation, argument spec and main(); the work is
_auditchain/audit_chain_verify_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: audit_chain_verify
short_description: Verify a signed, hash-linked audit chain in PostgreSQL end to end
version_added: "0.2.0"
description:
  - The last step of the HSM unavailable runbook (seed 001, "verify audit chain integrity after recovery"). Read-only.
  - Reads every record of the audit table in id order and checks each link - the hash recomputed over the
    record's content and its C(prev_hash), C(prev_hash) equal to the previous record's hash (64 zeros for the
    first), and the signature verified with the public key of the signer the record names (C(hsm) or
    C(software-fallback)).
  - Returns whether the whole chain verifies, the first broken record and why, and the records signed by the
    software fallback (their ids and time range), which an incident report lists.
  - The hash rule is sha256 over the JSON of C(id), C(ts), C(actor), C(action), C(payload), C(prev_hash) with
    sorted keys and no spaces (docs/dev/hsm-lab.md).
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  login_user:
    description: Role to log in as; it needs C(SELECT) on O(table).
    type: str
    default: postgres
  login_db:
    description: Database that holds the audit table (lego-mcp's C(lego_mcp)).
    type: str
    default: postgres
  table:
    description: The audit table, optionally schema-qualified (lowercase identifiers only).
    type: str
    default: audit_log
  hsm_public_key:
    description: Path of the HSM signing key's public half (PEM). One of this or O(hsm_public_key_url) is required.
    type: path
  hsm_public_key_url:
    description: URL the HSM service serves its public key at (the lab HSM's C(/public-key)), fetched with GET.
    type: str
  hsm_ca_cert:
    description: CA file that verifies the HSM service's certificate when fetching O(hsm_public_key_url).
    type: path
  hsm_validate_certs:
    description: Verify the HSM service's certificate. Turn off only in a lab.
    type: bool
    default: true
  fallback_public_key:
    description:
      - Path of the software fallback key's public half (PEM). Without it a record signed in fallback cannot be
        verified and counts as a problem.
    type: path
  fail_on_broken:
    description: Fail the task when any record does not verify (the result still says which).
    type: bool
    default: true
extends_documentation_fragment:
  - mcpops.runbooks.postgres
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.postgres_group
requirements:
  - psycopg (3) or psycopg2, and cryptography, on the host the module runs on
notes:
  - Removing the newest records leaves a chain that still verifies; compare RV(head) with the last head an earlier
    run recorded to catch that.
seealso:
  - module: mcpops.runbooks.pg_connections_info
"""

EXAMPLES = r"""
- name: Step 5 - verify the audit chain after the HSM is back
  mcpops.runbooks.audit_chain_verify:
    login_host: db.internal
    login_user: lego_audit_reader
    login_password: "{{ audit_reader_password }}"
    login_db: lego_mcp
    hsm_public_key_url: https://hsm.internal:12345/public-key
    hsm_ca_cert: /etc/pki/hsm-ca.pem
    fallback_public_key: /etc/lego-mcp/audit-fallback-key.pub.pem
    fail_on_broken: false
  register: chain

- name: Say which records were signed in fallback
  ansible.builtin.debug:
    msg: "{{ chain.fallback.count }} records signed in fallback, ids {{ chain.fallback.ids }}"
  when: chain.fallback.count > 0
"""

RETURN = r"""
ok:
  description: Every record verifies (hash, link, signature).
  returned: success
  type: bool
records:
  description: Records read.
  returned: success
  type: int
head:
  description: The last record's C(id) and C(hash) (null for an empty chain).
  returned: success
  type: dict
first_broken:
  description:
    - The first record that does not verify, C({id, ts, problem, detail}), or null. C(problem) is one of
      C(hash_mismatch), C(broken_link), C(bad_signature), C(unknown_signer).
  returned: success
  type: dict
  sample: {"id": 7, "ts": "2026-12-05T14:30:00.123Z", "problem": "hash_mismatch", "detail": "..."}
problems:
  description: The problems found, in id order, the first 20.
  returned: success
  type: list
  elements: dict
problem_count:
  description: All problems found.
  returned: success
  type: int
fallback:
  description: Records signed by the software fallback, C({count, ids, first_ts, last_ts}).
  returned: success
  type: dict
  sample: {"count": 2, "ids": [5, 6], "first_ts": "2026-12-05T14:31:00.000Z", "last_ts": "2026-12-05T14:32:10.500Z"}
table:
  description: The table read.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._auditchain.audit_chain_verify_run import run
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.connect import CONNECTION_ARGSPEC


def main():
    module = AnsibleModule(
        argument_spec=dict(
            CONNECTION_ARGSPEC,
            table=dict(type="str", default="audit_log"),
            hsm_public_key=dict(type="path"),
            hsm_public_key_url=dict(type="str"),
            hsm_ca_cert=dict(type="path"),
            hsm_validate_certs=dict(type="bool", default=True),
            fallback_public_key=dict(type="path"),
            fail_on_broken=dict(type="bool", default=True),
        ),
        mutually_exclusive=[("hsm_public_key", "hsm_public_key_url")],
        required_one_of=[("hsm_public_key", "hsm_public_key_url")],
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
