"""The SCAN walk, the pipelined reads and the bounded summary, against the real private Redis."""

import pytest

from redis_testbed import admin, params

from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.connection import RedisConnection
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.key_change import (
    delete_keys,
    expire_candidate,
    expire_keys,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.key_scan import (
    ClientCounter,
    KeyRow,
    KeyspaceSummary,
    integer_value,
    key_details,
    scan_batches,
    segment_of,
)

DB = 7


@pytest.fixture()
def client(server):
    c = admin(server, DB)
    c.flushdb()
    yield c
    c.flushdb()


def commandstat(client, name):
    return client.info("commandstats").get("cmdstat_%s" % name, {}).get("calls", 0)


def test_scan_finds_every_match_once_without_keys(server, client):
    pipe = client.pipeline(transaction=False)
    for i in range(3000):
        pipe.set("ratelimit:%d" % i, i)
        pipe.set("other:%d" % i, i)
    pipe.execute()
    keys_calls = commandstat(client, "keys")
    with RedisConnection(params(server, login_db=DB)) as conn:
        found = [k for batch in scan_batches(conn, "ratelimit:*", 100) for k in batch]
    assert sorted(found) == sorted(b"ratelimit:%d" % i for i in range(3000))
    assert commandstat(client, "keys") == keys_calls


def test_details_read_type_ttl_and_counter_values_in_one_trip(server, client):
    client.set("a", 12, ex=100)
    client.set("b", "not a number")
    client.hset("c", "f", "v")
    client.set("d", "-7")
    with RedisConnection(params(server, login_db=DB)) as conn:
        rows = key_details(conn, [b"a", b"b", b"c", b"d", b"gone"], ("type", "ttl", "value"))
        only_ttl = key_details(conn, [b"a"], ("ttl",))
    assert [(r.key, r.kind, r.value) for r in rows] == [(b"a", b"string", 12), (b"b", b"string", None),
                                                        (b"c", b"hash", None), (b"d", b"string", -7), (b"gone", b"none", None)]
    assert 0 < rows[0].ttl <= 100 and rows[1].ttl == -1 and rows[4].gone and not rows[0].gone
    assert only_ttl[0].kind is None and only_ttl[0].value is None and only_ttl[0].ttl > 0


def test_integer_values_and_segments():
    assert integer_value(b"400") == 400 and integer_value(b"-3") == -3
    for raw in (b" 5", b"1_000", b"5\n", b"1e3", b"", None, b"9" * 25, b"+1"):
        assert integer_value(raw) is None
    assert segment_of(b"ratelimit:10.0.0.1:123", 1) == b"10.0.0.1"
    assert segment_of(b"ratelimit:10.0.0.1", 1) == b"10.0.0.1" and segment_of(b"ratelimit", 1) is None
    assert segment_of(b"a:b:c", 0) == b"a" and segment_of(b"a:b:c", 2) == b"c"


def test_client_counter_stays_bounded_and_keeps_the_big_ones():
    counter = ClientCounter(max_clients=100)
    for i in range(5000):
        counter.add(b"small%d" % i, 1)
        counter.add(b"big", 10)
    assert len(counter.counts) <= 100 and counter.approximate
    assert counter.top(1) == [dict(client="big", keys=5000, total=50000)]


def test_summary_counts_and_samples_in_bounded_memory():
    summary = KeyspaceSummary(("type", "ttl", "value"), group_by_segment=1, top=2, sample=3)
    rows = [KeyRow(b"rl:a", b"string", -1, 5), KeyRow(b"rl:a", b"string", 30, 1), KeyRow(b"rl:b", b"string", 10, 100),
            KeyRow(b"rl", b"hash", -1, None), KeyRow(b"rl:\xff", b"string", 50, None)]
    summary.add_rows(rows)
    res = summary.result()
    assert res["matched"] == 5 and res["types"] == {"string": 4, "hash": 1}
    assert (res["with_ttl"], res["without_ttl"], res["ttl_min"], res["ttl_max"]) == (3, 2, 10, 50)
    assert res["top"] == [dict(client="a", keys=2, total=6), dict(client="b", keys=1, total=100)]
    assert res["top_by_total"][0] == dict(client="b", keys=1, total=100)
    assert len(res["sample"]) == 3 and res["sample"][0] == dict(key="rl:a", type="string", ttl=-1, value=5)
    names = KeyspaceSummary((), group_by_segment=0, sample=2)
    names.add_names([b"x:1", b"x:2", b"y"])
    assert names.result()["top"][0] == dict(client="x", keys=2, total=None) and "types" not in names.result()


def test_expire_candidates():
    assert expire_candidate(-1, 60) and expire_candidate(100, 60) and not expire_candidate(30, 60)
    assert not expire_candidate(-2, 60) and not expire_candidate(None, 60)
    assert expire_candidate(-1, 60, True) and not expire_candidate(100, 60, True)


def test_changes_count_each_keys_own_reply_on_new_and_old_servers(server, client):
    client.set("k1", 1)
    client.set("k2", 1, ex=1000)
    client.set("k3", 1, ex=10)
    with RedisConnection(params(server, login_db=DB)) as conn:
        assert expire_keys(conn, [b"k1", b"k2", b"k3", b"nope"], 60) == [b"k1", b"k2"]  # LT: never longer
        assert 0 < client.ttl("k3") <= 10
        client.persist("k1")
        assert expire_keys(conn, [b"k1", b"k2"], 30, only_without_ttl=True) == [b"k1"]  # NX
        conn.server_version = "6.2.0"  # the plain EXPIRE path of an older server, on the real one
        assert expire_keys(conn, [b"k3"], 500) == [b"k3"] and client.ttl("k3") > 10
        state = {}
        assert delete_keys(conn, [b"k1", b"nope", b"k2"], state) == [b"k1", b"k2"] and state["verb"] == b"UNLINK"
        conn.server_version = "3.2.0"
        assert delete_keys(conn, [b"k3"], {}) == [b"k3"]
    assert client.dbsize() == 0
