#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The redis_keys module: its documentation, argument spec and main(); the work is _redis/redis_keys_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_keys
short_description: Delete or expire the Redis keys matching a pattern, with SCAN
version_added: "0.1.0"
description:
  - The rate limit runbook's C(redis-cli keys "ratelimit:*" | head -20) as a module that is safe on a production
    server. It walks the keys with C(SCAN MATCH pattern COUNT scan_count), never C(KEYS), which blocks the server
    for the whole keyspace.
  - It reports what it matched as M(mcpops.runbooks.redis_keys_info) does (how many keys, their types and TTLs, the
    top clients by O(group_by_segment), a sample), which is the read-only way to look first.
  - O(state=absent) deletes the matched keys (C(UNLINK), C(DEL) before Redis 4.0), O(state=expired) gives them a TTL
    of O(ttl) seconds (C(EXPIRE key ttl LT) on Redis 7, only keys without a TTL or with a longer one). Both work batch
    by batch as SCAN finds the keys, at most O(limit) keys. A second run finds nothing to change (C(changed=false)).
  - Refused before connecting - a pattern that could match every key (no literal character outside the wildcards
    C(*), C(?) and C([...]) classes, for example C(*), C(**), C(?*), C([a-z]*)) unless O(force=true); a malformed
    pattern (an unclosed C([)); O(state=expired) without O(ttl); numbers out of range.
  - Why not C(community.general) - its C(redis_data), C(redis_data_info) and C(redis_data_incr) work on one named key
    and C(redis_info) reads C(INFO); none finds keys by pattern nor changes them in bulk, and all need the C(redis)
    Python package (and C(certifi)) on the host the module runs on. This module speaks RESP2 itself with
    the standard library.
  - Memory stays bounded whatever the keyspace - counts, the top clients (exact up to 100,000 distinct clients, then
    approximate, said by RV(top_approximate)) and the first O(sample) keys, never every key.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  pattern:
    description:
      - SCAN C(MATCH) glob, for example V(ratelimit:*) or V(ratelimit:10.0.0.*). C(*) any run of bytes, C(?) one
        byte, C([abc]) C([^a]) C([a-z]) classes, C(\\) escapes the next character. Sent as UTF-8; it is Redis' own
        glob, not the escaped form of RV(sample) keys.
    type: str
    required: true
  state:
    description:
      - V(absent) deletes the matched keys; V(expired) gives them a TTL of O(ttl) seconds.
      - V(info), and leaving O(state) out, are deprecated and will be removed in 2.0.0 (O(state) will be required) - they
        still report as M(mcpops.runbooks.redis_keys_info) does, with a deprecation warning.
    type: str
  ttl:
    description:
      - Seconds the matched keys may still live, with O(state=expired) (required then). A key that already expires
        sooner is left as it is.
    type: int
  force:
    description: Allow a pattern that could match every key of the database.
    type: bool
    default: false
  only_without_ttl:
    description:
      - Only keys with no TTL (the leak case - counters that never expire), in the report and in the change. With
        O(state=expired) on Redis 7 the change is C(EXPIRE key ttl NX).
    type: bool
    default: false
  limit:
    description: At most this many keys are deleted or expired (the rest are still counted).
    type: int
  scan_count:
    description:
      - SCAN's C(COUNT) hint, the keys the server looks at a call. Larger means fewer round trips and a longer
        (still short) pause of the server a call.
    type: int
    default: 1000
  details:
    description:
      - What is read of each matched key, pipelined a batch at a time - V(type) (C(TYPE)), V(ttl) (C(TTL)), V(value)
        (one C(MGET) a batch; only integer values are kept, as counters). V([]) counts and groups the key names only,
        one round trip a SCAN call and nothing a key - the fastest.
      - V(ttl) is always read with O(only_without_ttl) or O(state=expired), which choose keys by their TTL.
    type: list
    elements: str
    choices: [type, ttl, value]
    default: [type, ttl, value]
  group_by_segment:
    description:
      - Count keys per client, the client being this colon-separated segment of the key name (0 is the first), for
        example V(1) for C(ratelimit:<client>) or C(ratelimit:<client>:<window>). Keys with fewer segments count
        under client C(null).
    type: int
  top:
    description: How many clients RV(top) and RV(top_by_total) list.
    type: int
    default: 20
  sample:
    description: How many matched keys RV(sample) lists (and changed ones RV(changed_sample)).
    type: int
    default: 20
extends_documentation_fragment:
  - mcpops.runbooks.redis
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.changes_with_diff
  - mcpops.runbooks.attributes.redis_group
attributes:
  check_mode:
    description: Walks and reads the keys exactly as a real run and says in RV(changed_keys) how many would change; changes none.
  diff_mode:
    description: The number of matching keys before and after (or, in check mode, as it would be).
requirements:
  - none beyond Python's standard library on the host the module runs on (no redis-py)
notes:
  - Key names in results are text - UTF-8 with every backslash doubled and every byte that is not valid UTF-8
    written C(\\xNN), so any key (spaces, quotes, newlines, binary) reads unambiguously; RV(key_encoding) says so.
  - Only integer values are ever returned (RV(sample)'s C(value)); other values, which may be secrets, never are.
  - SCAN returns a key more than once while the server resizes its hash table, so on a keyspace that grows or
    shrinks during the walk the counts can be off by a few; RV(changed_keys) counts each key's own reply and is exact.
  - Redis Cluster is not supported as such; run the module against each master node.
seealso:
  - module: mcpops.runbooks.redis_keys_info
  - module: community.general.redis_data_info
  - module: community.general.redis_info
"""

EXAMPLES = r"""
- name: Counters that never expire (a leak) - give them the 60 s window they should have had
  mcpops.runbooks.redis_keys:
    pattern: "ratelimit:*"
    state: expired
    ttl: 60
    only_without_ttl: true
    login_password: "{{ redis_login_password }}"

- name: Reset one abusive client's counters, at most 1000 keys
  mcpops.runbooks.redis_keys:
    pattern: "ratelimit:127.0.0.77*"
    state: absent
    limit: 1000
    login_password: "{{ redis_login_password }}"
"""

RETURN = r"""
matched:
  description: Keys matching O(pattern) (with O(only_without_ttl), those without a TTL), as found before any change.
  returned: always
  type: int
  sample: 412
types:
  description: Matched keys per type.
  returned: when O(details) has V(type)
  type: dict
  sample: {"string": 410, "hash": 2}
with_ttl:
  description: Matched keys that have a TTL.
  returned: when TTLs are read
  type: int
without_ttl:
  description: Matched keys with no TTL.
  returned: when TTLs are read
  type: int
ttl_min:
  description: Smallest TTL in seconds among keys that have one, or null.
  returned: when TTLs are read
  type: int
ttl_max:
  description: Largest TTL in seconds among keys that have one, or null.
  returned: when TTLs are read
  type: int
top:
  description:
    - The O(top) clients with the most keys, each C(client) (the segment, as text; null for keys without it), C(keys)
      and C(total) (the sum of their integer values - the requests counted - or null when values are not read).
  returned: when O(group_by_segment) is set
  type: list
  elements: dict
  sample: [{"client": "127.0.0.77", "keys": 3, "total": 400}]
top_by_total:
  description: The O(top) clients with the largest C(total); empty when values are not read.
  returned: when O(group_by_segment) is set
  type: list
  elements: dict
clients_counted:
  description: Distinct clients counted.
  returned: when O(group_by_segment) is set
  type: int
top_approximate:
  description: True when more than 100,000 distinct clients were seen and the smaller ones were dropped to bound memory.
  returned: when O(group_by_segment) is set
  type: bool
sample:
  description:
    - The first O(sample) matched keys, each C(key) and, as read, C(type), C(ttl) (-1 none) and C(value) (an integer,
      else null).
  returned: always
  type: list
  elements: dict
  sample: [{"key": "ratelimit:127.0.0.77", "type": "string", "ttl": 41, "value": 400}]
changed_keys:
  description: Keys deleted or given a TTL (in check mode, that would be).
  returned: state is absent or expired
  type: int
changed_sample:
  description: The first O(sample) of those keys.
  returned: state is absent or expired
  type: list
  elements: str
limit_reached:
  description: True when O(limit) stopped the change before every matched key was changed.
  returned: state is absent or expired
  type: bool
state:
  description: O(state).
  returned: always
  type: str
pattern:
  description: The pattern scanned.
  returned: always
  type: str
db:
  description: The database scanned.
  returned: always
  type: int
details:
  description: What was read of each key.
  returned: always
  type: list
  elements: str
server_version:
  description: The server's C(redis_version), or null when C(INFO) is not allowed.
  returned: always
  type: str
key_encoding:
  description: How key names are written as text in the results.
  returned: always
  type: str
elapsed_seconds:
  description: Seconds the module's work took.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.info_state import check_state
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.connection import CONNECTION_ARGSPEC
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.key_scan import DETAILS
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.redis_keys_run import STATES, run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pattern=dict(type="str", required=True),
            state=dict(type="str"),
            ttl=dict(type="int"),
            force=dict(type="bool", default=False),
            only_without_ttl=dict(type="bool", default=False),
            limit=dict(type="int"),
            scan_count=dict(type="int", default=1000),
            details=dict(type="list", elements="str", choices=list(DETAILS), default=list(DETAILS)),
            group_by_segment=dict(type="int"),
            top=dict(type="int", default=20),
            sample=dict(type="int", default=20),
            **CONNECTION_ARGSPEC
        ),
        required_if=[("state", "expired", ["ttl"])],
        supports_check_mode=True,
    )
    check_state(module, [state for state in STATES if state != "info"], "redis_keys_info")
    run_module(module, run, diff=module._diff)


if __name__ == "__main__":
    main()
