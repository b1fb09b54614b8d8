#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: audit_scan
short_description: Scan an MCP gateway's audit log for auth failures, rate-limit actors and exfiltration signs
version_added: "0.1.0"
description:
  - Streams C(audit.jsonl) (and C(usage.jsonl)) of an MCP gateway data dir over a time window and
    reports the counts by event, the C(auth.failed) events by token prefix, client, ip and reason, the top
    actors of C(rate_limit.exceeded), and exfiltration indicators (INC-002, INC-005, INC-006).
  - "Exfiltration indicators: C(high_volume), a token's data-reading tool calls (C(tool.called) with C(rows))
    in the window far above its baseline, that is its average per window-length over the O(baseline) period
    just before the window (O(exfil_factor) times it, and at least O(exfil_min_rows) rows or
    O(exfil_min_calls) calls); C(new_ip), a token that was used in the baseline period now used from an ip it
    never used there; C(after_revocation), a token used after its C(token.revoked) event, or C(auth.failed)
    attempts with reason C(revoked)."
  - Files of many gigabytes are read in bounded memory (8 MiB reads, never a whole line over 1 MiB held
    past a read). Lines in the gateway's own form are pre-filtered by bytes and their timestamps compared
    as text, so only the events a check needs are JSON-parsed.
  - Malformed lines (not a JSON object with an ISO C(ts) and an C(event)) are counted and the first line
    numbers reported; they never fail the task.
  - With O(export_path) the window's audit lines are written, redacted, to a file (atomically, mode 0600).
    Anything that looks like a secret is masked (C(mcp_) token secrets down to their prefix, C(Bearer) values,
    C(password=) and the like, values of secret-named keys, long base64 or hex runs); with O(hash_ips) ips
    are replaced by a keyed hash.
  - Read-only except for the export.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  data_dir:
    description: The gateway data dir (C(ONEC_MCP_DATA_DIR)) on the managed host; the files are read from it
      unless O(audit_path) or O(usage_path) say otherwise.
    type: path
    default: /var/lib/onec-mcp-gateway
  audit_path:
    description: The audit file. Defaults to C(<data_dir>/audit.jsonl).
    type: path
  usage_path:
    description:
      - The usage file. Defaults to C(<data_dir>/usage.jsonl); a missing default file is skipped
        (RV(usage) null), a missing explicit one fails the task.
    type: path
  since:
    description:
      - Start of the window (included), ISO-8601, for example C(2026-11-23T10:00:00Z) or
        C(2026-11-23T13:00:00+03:00); a time without an offset is UTC.
      - Excludes O(last). Without O(since) or O(last) the window starts at the beginning of the file and the
        baseline indicators (C(high_volume), C(new_ip)) are not checked.
    type: str
  until:
    description: End of the window (excluded), ISO-8601. Defaults to now when the window has a start, to the
      end of the file otherwise.
    type: str
  last:
    description: The window as a duration back from O(until) (or now), a number and one of C(s), C(m), C(h),
      C(d), C(w), for example C(30m), C(1h), C(2d). Excludes O(since).
    type: str
  baseline:
    description: Length of the baseline period just before the window, same form as O(last).
    type: str
    default: 7d
  checks:
    description:
      - What to compute besides the counts by event. Fewer checks means fewer lines JSON-parsed, so a faster
        scan (V(auth_failed) alone parses only the C(auth.failed) lines).
    type: list
    elements: str
    choices: [auth_failed, rate_limited, exfiltration, usage]
    default: [auth_failed, rate_limited, exfiltration, usage]
  top:
    description: How many entries each ranked list keeps.
    type: int
    default: 10
  exfil_factor:
    description: C(high_volume) fires when a token's rows or calls in the window exceed this many times its
      baseline average per window-length.
    type: float
    default: 10.0
  exfil_min_rows:
    description: C(high_volume) by rows needs at least this many rows in the window.
    type: int
    default: 1000
  exfil_min_calls:
    description: C(high_volume) by calls needs at least this many data-reading calls in the window.
    type: int
    default: 100
  export_path:
    description:
      - Write the window's audit lines, redacted, to this file on the managed host, atomically (a temp file in
        the same directory, fsync, rename) with mode 0600. The directory must exist.
      - An export with the same content as the file already there leaves it alone (C(changed=false)).
      - In check mode no export file is written; RV(export) says how many lines it would hold and C(changed)
        whether it would replace the file.
    type: path
  hash_ips:
    description: In the export, replace ips (IPv4 anywhere, and the value of C(ip)-like keys) with
      C(ip_<16 hex>), an HMAC-SHA256 of the address under O(ip_salt).
    type: bool
    default: false
  ip_salt:
    description: The key for O(hash_ips). The same salt gives the same hash for an address across exports;
      without it a random one is used, so hashes are consistent within one export only.
    type: str
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes
  - mcpops.runbooks.attributes.no_group
attributes:
  check_mode:
    details: Reading is the same in check mode; the export is not written, its line count and whether it
      would change are still reported.
  diff_mode:
    details: Nothing to diff; the export's content is reported by line count and sha256.
notes:
  - Runs on the managed host with its C(python3) and the standard library only.
  - The result never holds a secret; audit lines do not carry any (the gateway contract), and the export is
    redacted anyway.
  - After-revocation uses are found in file order, the order the gateway appends lines.
  - Distinct keys are capped (100000 a counter, 200000 token/ip pairs); past that RV(truncated) is true.
seealso:
  - module: mcpops.runbooks.gateway_backup_info
"""

EXAMPLES = r"""
- name: Who failed to authenticate in the last hour (INC-002)?
  mcpops.runbooks.audit_scan:
    data_dir: /var/lib/onec-mcp-gateway
    last: 1h
    checks: [auth_failed]
  register: scan

- name: The token prefix with the most failures
  ansible.builtin.debug:
    msg: "{{ scan.auth_failed.by_token_prefix[0] | default('none') }}"

- name: Who hits the rate limit (INC-005)?
  mcpops.runbooks.audit_scan:
    last: 30m
    checks: [rate_limited, usage]
    top: 5
  register: storm

- name: Exfiltration signs since the leak was reported, and a redacted export for the ticket (INC-006)
  mcpops.runbooks.audit_scan:
    since: "2026-11-23T08:00:00Z"
    baseline: 7d
    export_path: /var/tmp/inc-006-audit.jsonl
    hash_ips: true
    ip_salt: "{{ incident_ip_salt }}"
  register: leak
"""

RETURN = r"""
window:
  description: The scanned window, UTC; C(since) included, C(until) excluded, null when open.
  returned: always
  type: dict
  sample: {"since": "2026-11-23T09:00:00.000Z", "until": "2026-11-23T10:00:00.000Z"}
baseline:
  description: The baseline period before the window, null without a window start or with an empty O(baseline).
  returned: always
  type: dict
  sample: {"since": "2026-11-16T09:00:00.000Z", "until": "2026-11-23T09:00:00.000Z"}
audit_path:
  description: The audit file read.
  returned: always
  type: str
scanned_lines:
  description: Non-empty lines read in the whole audit file.
  returned: always
  type: int
lines:
  description: Well-formed audit lines in the window.
  returned: always
  type: int
malformed:
  description: Malformed audit lines in the whole file (skipped).
  returned: always
  type: dict
  contains:
    count:
      description: How many.
      type: int
    first_lines:
      description: The first ten of their line numbers (1-based).
      type: list
      elements: int
  sample: {"count": 2, "first_lines": [17, 4021]}
events:
  description: Count of each event name in the window.
  returned: always
  type: dict
  sample: {"tool.called": 1650, "auth.ok": 540, "auth.failed": 361}
auth_failed:
  description:
    - The window's C(auth.failed) events counted by token prefix, client id, ip and reason, each a list of
      C(key) and C(count), highest first, at most O(top) long (C(key) null when the line has none).
  returned: when auth_failed is in O(checks)
  type: dict
  contains:
    total:
      description: All C(auth.failed) events in the window.
      type: int
    by_token_prefix:
      description: By C(tokenPrefix).
      type: list
      elements: dict
      sample: [{"key": "mcp_ab12", "count": 220}]
    by_client:
      description: By C(clientId).
      type: list
      elements: dict
    by_ip:
      description: By C(ip).
      type: list
      elements: dict
    by_reason:
      description: By C(reason) (C(revoked), C(expired), C(blocked), C(unknown_token), C(missing_token)).
      type: list
      elements: dict
rate_limited:
  description: The window's C(rate_limit.exceeded) events.
  returned: when rate_limited is in O(checks)
  type: dict
  contains:
    total:
      description: All of them in the window.
      type: int
    top_actors:
      description: By token, highest first, each C(token_prefix), C(client_id), C(org_id), C(count).
      type: list
      elements: dict
      sample: [{"token_prefix": "mcp_9f3e", "client_id": "ci-bot", "org_id": "org_acme", "count": 812}]
    by_client:
      description: By C(clientId), C(key) and C(count).
      type: list
      elements: dict
    by_ip:
      description: By C(ip), C(key) and C(count).
      type: list
      elements: dict
exfiltration:
  description: The exfiltration indicators, each list at most O(top) long.
  returned: when exfiltration is in O(checks)
  type: dict
  contains:
    baseline_checked:
      description: Whether C(high_volume) and C(new_ip) were checked (they need a window start).
      type: bool
    high_volume:
      description:
        - Tokens whose data-reading calls are far above their baseline; each C(token_prefix), C(client_id),
          C(org_id), C(rows), C(calls), C(baseline_rows_per_window), C(baseline_calls_per_window),
          C(rows_ratio), C(calls_ratio) (null for a zero baseline) and C(reasons) (C(rows), C(calls)).
      type: list
      elements: dict
    new_ip:
      description: Tokens used from an ip not seen for them in the baseline period; each C(token_prefix),
        C(client_id), C(org_id), C(ip), C(first_seen), C(events), C(baseline_ips).
      type: list
      elements: dict
    after_revocation:
      description: Tokens used after revocation; each C(token_prefix), C(client_id), C(org_id), C(revoked_at)
        (null when only C(reason=revoked) failures show it), C(uses), C(attempts), C(first_seen), C(last_seen),
        C(ips) (up to five).
      type: list
      elements: dict
usage:
  description: The window's C(usage.jsonl) lines counted by token prefix, client, org and tool, and the error
    results by token prefix (C(key)/C(count) lists); null when the file is not there or usage is not in O(checks).
  returned: always
  type: dict
  sample: {"path": "/var/lib/onec-mcp-gateway/usage.jsonl", "lines": 1650, "malformed": {"count": 0, "first_lines": []},
           "by_token_prefix": [{"key": "mcp_ab12", "count": 300}], "by_client": [], "by_org": [], "by_tool": [],
           "errors_by_token_prefix": [], "truncated": false}
export:
  description: The redacted export; null without O(export_path).
  returned: always
  type: dict
  contains:
    path:
      description: The export file.
      type: str
    lines:
      description: Lines in it.
      type: int
    sha256:
      description: sha256 of its content.
      type: str
    changed:
      description: Whether the file was (in check mode, would be) replaced.
      type: bool
    written:
      description: Whether this run wrote it (false in check mode and when the content was already there).
      type: bool
truncated:
  description: Whether a counter reached its distinct-key cap (the rest counted under C((other))).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.audit_scan_run import run
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.findings import CHECKS
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            data_dir=dict(type="path", default="/var/lib/onec-mcp-gateway"),
            audit_path=dict(type="path"),
            usage_path=dict(type="path"),
            since=dict(type="str"),
            until=dict(type="str"),
            last=dict(type="str"),
            baseline=dict(type="str", default="7d"),
            checks=dict(type="list", elements="str", choices=list(CHECKS), default=list(CHECKS)),
            top=dict(type="int", default=10),
            exfil_factor=dict(type="float", default=10.0),
            exfil_min_rows=dict(type="int", default=1000),
            exfil_min_calls=dict(type="int", default=100),
            export_path=dict(type="path"),
            hash_ips=dict(type="bool", default=False),
            ip_salt=dict(type="str", no_log=True),
        ),
        mutually_exclusive=[("since", "last")],
        supports_check_mode=True,
    )
    run_module(module, run, warn=module.warn)


if __name__ == "__main__":
    main()
