# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two changes redis_keys makes to a batch of keys, one pipelined command a key so that each key's own reply
says whether it changed (the count and the sample are exact, and a limit is never overshot):

- delete_keys: UNLINK (frees memory in the background; DEL on a server older than 4.0 or with UNLINK renamed away).
- expire_keys: EXPIRE key ttl LT on Redis >= 7.0 (sets a TTL only where it makes the key expire sooner: keys
  without a TTL or with a longer one; atomic, so a key is never given a longer life), or NX with only_without_ttl
  (only keys that have none). On an older server (or one whose version INFO does not tell) the caller's TTL read
  chose the keys and plain EXPIRE sets it: a key whose TTL changed in between gets `ttl` all the same.

expire_candidate() says whether a key would change, from its TTL: what check mode counts.
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.connection import ErrorReply
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.key_scan import NO_TTL


def expire_candidate(ttl, target, only_without_ttl=False):
    """True when a key with this TTL (-1: none) would be given target seconds."""
    if ttl is None or ttl < NO_TTL:
        return False
    if ttl == NO_TTL:
        return True
    return not only_without_ttl and ttl > target


def _per_key(conn, keys, verb, extra, what):
    tail = b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in extra)
    head = b"*%d\r\n$%d\r\n%s\r\n" % (2 + len(extra), len(verb), verb)
    conn.send(b"".join(b"%s$%d\r\n%s\r\n%s" % (head, len(k), k, tail) for k in keys))
    return conn.read_replies(len(keys), what)


def delete_keys(conn, keys, state):
    """The keys actually deleted (reply 1), in order. state: a dict kept across batches ({'verb': b'UNLINK'})."""
    if not keys:
        return []
    verb = state.setdefault("verb", b"UNLINK" if conn.version_at_least(4) is not False else b"DEL")
    replies = _per_key(conn, keys, verb, (), "%s of %d keys" % (verb.decode(), len(keys)))
    if verb == b"UNLINK" and isinstance(replies[0], ErrorReply) and "unknown command" in replies[0].text.lower():
        state["verb"] = b"DEL"
        return delete_keys(conn, keys, state)
    done = []
    for key, reply in zip(keys, replies):
        if conn.check(reply, verb.decode()) == 1:
            done.append(key)
    return done


def expire_keys(conn, keys, ttl, only_without_ttl=False):
    """The keys given a TTL of ttl seconds (reply 1), in order."""
    if not keys:
        return []
    extra = [b"%d" % int(ttl)]
    if conn.version_at_least(7):
        extra.append(b"NX" if only_without_ttl else b"LT")
    what = "EXPIRE %s of %d keys" % (" ".join(e.decode() for e in extra), len(keys))
    replies = _per_key(conn, keys, b"EXPIRE", extra, what)
    return [key for key, reply in zip(keys, replies) if conn.check(reply, "EXPIRE") == 1]
