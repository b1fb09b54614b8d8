# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Walk the keys that match a pattern with SCAN (never KEYS, which blocks the server for the whole keyspace), read
what is asked of them in pipelined batches, and summarize them in bounded memory.

scan_batches() is the SCAN cursor loop (MATCH, COUNT). key_details() reads a batch's TYPE and TTL (one pipelined
command each a key) and values (one MGET a batch) in a single round trip. KeyspaceSummary keeps counts, the TTL
range, per-client counters (capped: see MAX_CLIENTS) and the first `sample` keys - never every key.

SCAN returns every key that exists for the whole walk; a key may come twice while the server resizes its hash
table, so on a keyspace that grows or shrinks during the walk the counts can be off by a few.
"""

from __future__ import annotations

import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.connection import as_bytes, encode_command
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.key_text import key_text

DETAILS = ("type", "ttl", "value")
MAX_CLIENTS = 100000  # distinct clients counted exactly; past it the smaller half is dropped and top is approximate
INTEGER = re.compile(rb"-?[0-9]{1,19}\Z")
NO_TTL = -1
GONE = -2


def scan_batches(conn, pattern, count, prefetch=False):
    """The keys matching pattern, one list of bytes a SCAN call (empty batches skipped), until the cursor is 0.

    prefetch: send the next SCAN as soon as a reply's cursor has arrived, before its keys are parsed, so that the
    server scans while this process parses. Only for a caller that sends nothing else on the connection between
    batches (the next reply is already on its way)."""
    match = as_bytes(pattern)
    count = b"%d" % int(count)

    def scan(cursor):
        conn.send(encode_command([b"SCAN", cursor, b"MATCH", match, b"COUNT", count]))
        return "SCAN cursor %s MATCH %r" % (cursor.decode("ascii", "replace"), pattern)

    what = scan(b"0")
    while True:
        if conn.read_array_head(what) != 2:
            raise conn.fail(what, "the reply is not [cursor, keys]", "check that this is a Redis server")
        cursor = conn.check(conn.read_replies(1, what)[0], what)
        done = cursor == b"0"
        if prefetch and not done:
            next_what = scan(cursor)
        keys = conn.check(conn.read_replies(1, what)[0], what)
        if keys:
            yield keys
        if done:
            return
        what = next_what if prefetch else scan(cursor)  # not prefetching: after the caller's commands


def integer_value(raw):
    """The value as an int when it is a plain integer (a counter), else None."""
    if raw is not None and INTEGER.match(raw):
        return int(raw)
    return None


class KeyRow(object):
    """One key and what was read of it: kind (bytes, b'string'...) or None, ttl (int: -1 none) or None, value
    (int for a counter, else None)."""

    __slots__ = ("key", "kind", "ttl", "value")

    def __init__(self, key, kind=None, ttl=None, value=None):
        self.key = key
        self.kind = kind
        self.ttl = ttl
        self.value = value

    @property
    def gone(self):
        """Expired or deleted between SCAN and the read."""
        return self.ttl == GONE or self.kind == b"none"


def key_details(conn, keys, details):
    """KeyRow per key, read in one round trip: TYPE and TTL pipelined a key, values by one MGET (nil for a
    non-string key, so no WRONGTYPE). details: a subset of DETAILS."""
    want_type, want_ttl, want_value = "type" in details, "ttl" in details, "value" in details
    if not (want_type or want_ttl or want_value):
        return [KeyRow(k) for k in keys]
    parts = []
    for key in keys:
        if want_type:
            parts.append(b"*2\r\n$4\r\nTYPE\r\n$%d\r\n%s\r\n" % (len(key), key))
        if want_ttl:
            parts.append(b"*2\r\n$3\r\nTTL\r\n$%d\r\n%s\r\n" % (len(key), key))
    per_key = int(want_type) + int(want_ttl)
    if want_value:
        parts.append(encode_command([b"MGET"] + list(keys)))
    conn.send(b"".join(parts))
    replies = conn.read_replies(per_key * len(keys) + int(want_value), "reading TYPE/TTL/MGET of %d keys" % len(keys))
    values = conn.check(replies[-1], "MGET of %d keys" % len(keys)) if want_value else None
    rows = []
    i = 0
    for n, key in enumerate(keys):
        row = KeyRow(key)
        if want_type:
            row.kind = conn.check(replies[i], "TYPE")
            i += 1
        if want_ttl:
            row.ttl = conn.check(replies[i], "TTL")
            i += 1
        if want_value:
            row.value = integer_value(values[n])
        rows.append(row)
    return rows


class ClientCounter(object):
    """Keys and the sum of their integer values per client (a segment of the key name), capped at max_clients."""

    def __init__(self, max_clients=MAX_CLIENTS):
        self.max_clients = max_clients
        self.counts = {}  # segment bytes (or None: the key has no such segment) -> [keys, total]
        self.approximate = False

    def add(self, client, value=None):
        entry = self.counts.get(client)
        if entry is None:
            if len(self.counts) >= self.max_clients:
                self.prune()
            entry = self.counts[client] = [0, 0]
        entry[0] += 1
        if value is not None:
            entry[1] += value

    def prune(self):
        """Keep the larger half (by keys, then total): bounded memory; top stays right unless a client first seen
        late outgrows one dropped early, which the result flags as approximate."""
        keep = sorted(self.counts.items(), key=lambda kv: (kv[1][0], kv[1][1]), reverse=True)[:self.max_clients // 2]
        self.counts = dict(keep)
        self.approximate = True

    def top(self, n, by="keys", with_totals=True):
        def order(kv):
            keys, total = kv[1]
            return (-total, -keys, kv[0] or b"") if by == "total" else (-keys, -total, kv[0] or b"")
        rows = sorted(self.counts.items(), key=order)[:n]
        return [dict(client=None if client is None else key_text(client), keys=keys,
                     total=total if with_totals else None) for client, (keys, total) in rows]


def segment_of(key, index):
    """The index-th colon-separated segment of a key (0 is the first), or None when the key has fewer."""
    parts = key.split(b":", index + 1)
    return parts[index] if len(parts) > index else None


class KeyspaceSummary(object):
    """Counts of the keys seen, in bounded memory: matched, types, with/without TTL, the TTL range, per-client
    counters when group_by_segment is set, the first `sample` keys."""

    def __init__(self, details=(), group_by_segment=None, top=20, sample=20, max_clients=MAX_CLIENTS):
        self.details = tuple(details)
        self.group_by_segment = group_by_segment
        self.top_n = top
        self.sample_n = sample
        self.matched = 0
        self.types = {}
        self.with_ttl = 0
        self.without_ttl = 0
        self.ttl_min = None
        self.ttl_max = None
        self.clients = ClientCounter(max_clients) if group_by_segment is not None else None
        self.sample = []

    def add_names(self, keys):
        """Keys whose names only were read (no details): count, group and sample them."""
        self.matched += len(keys)
        if self.clients is not None:
            index, add = self.group_by_segment, self.clients.add
            for key in keys:
                parts = key.split(b":", index + 1)
                add(parts[index] if len(parts) > index else None)
        room = self.sample_n - len(self.sample)
        if room > 0:
            self.sample.extend(dict(key=key_text(k)) for k in keys[:room])

    def add_rows(self, rows):
        """KeyRows (not gone) with what was read of them."""
        for row in rows:
            self.matched += 1
            if row.kind is not None:
                kind = row.kind.decode("ascii", "replace")
                self.types[kind] = self.types.get(kind, 0) + 1
            ttl = row.ttl
            if ttl is not None:
                if ttl == NO_TTL:
                    self.without_ttl += 1
                else:
                    self.with_ttl += 1
                    if self.ttl_min is None or ttl < self.ttl_min:
                        self.ttl_min = ttl
                    if self.ttl_max is None or ttl > self.ttl_max:
                        self.ttl_max = ttl
            if self.clients is not None:
                self.clients.add(segment_of(row.key, self.group_by_segment), row.value)
            if len(self.sample) < self.sample_n:
                self.sample.append(sample_entry(row, self.details))

    def result(self):
        res = dict(matched=self.matched, sample=self.sample)
        if "type" in self.details:
            res["types"] = dict(sorted(self.types.items(), key=lambda kv: (-kv[1], kv[0])))
        if "ttl" in self.details:
            res.update(with_ttl=self.with_ttl, without_ttl=self.without_ttl, ttl_min=self.ttl_min, ttl_max=self.ttl_max)
        if self.clients is not None:
            totals = "value" in self.details
            res["top"] = self.clients.top(self.top_n, "keys", totals)
            res["top_by_total"] = self.clients.top(self.top_n, "total", totals) if totals else []
            res["clients_counted"] = len(self.clients.counts)
            res["top_approximate"] = self.clients.approximate
        return res


def sample_entry(row, details):
    entry = dict(key=key_text(row.key))
    if "type" in details:
        entry["type"] = None if row.kind is None else row.kind.decode("ascii", "replace")
    if "ttl" in details:
        entry["ttl"] = row.ttl
    if "value" in details:
        entry["value"] = row.value  # only integer values (counters) are ever returned
    return entry
