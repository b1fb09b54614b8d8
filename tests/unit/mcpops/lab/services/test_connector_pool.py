"""connector_pool.ConnectionPool without a database: connections are plain objects with ping() and close()."""

import threading
import time

import pytest

from mcpops.lab.services.connector_pool import ConnectionPool, PoolExhausted


class Conn:
    made = 0

    def __init__(self):
        Conn.made += 1
        self.id = Conn.made
        self.alive = True
        self.closed = False

    def ping(self, reconnect):
        assert reconnect is False
        if not self.alive:
            raise OSError("gone away")

    def close(self):
        self.closed = True


def wait_until(check, what):
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.01)


def test_connections_are_made_lazily_and_reused():
    pool = ConnectionPool(Conn, size=2, timeout=1)
    assert pool.stats() == {"size": 2, "checked_out": 0, "available": 2, "waiting": 0}
    with pool.connection() as first:
        assert pool.stats()["checked_out"] == 1
    with pool.connection() as again:
        assert again is first
    assert pool.stats() == {"size": 2, "checked_out": 0, "available": 2, "waiting": 0}


def test_a_full_pool_fails_after_its_timeout():
    pool = ConnectionPool(Conn, size=1, timeout=0.05)
    held = pool.acquire()
    with pytest.raises(PoolExhausted, match="connection pool exhausted"):
        pool.acquire()
    assert pool.exhausted() and pool.stats()["waiting"] == 0
    pool.release(held)
    assert not pool.exhausted()


def test_a_waiter_is_counted_and_served_when_a_connection_comes_back():
    pool = ConnectionPool(Conn, size=1, timeout=30)
    held = pool.acquire()
    got = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire()))
    waiter.start()
    wait_until(lambda: pool.stats()["waiting"] == 1, "the waiter to be counted")
    pool.release(held)
    waiter.join(30)
    assert got == [held] and pool.stats() == {"size": 1, "checked_out": 1, "available": 0, "waiting": 0}


def test_a_dead_idle_connection_is_replaced_and_a_failed_one_discarded():
    pool = ConnectionPool(Conn, size=2, timeout=1)
    with pool.connection() as conn:
        pass
    conn.alive = False
    with pool.connection() as fresh:
        assert fresh is not conn and conn.closed
    with pytest.raises(RuntimeError):
        with pool.connection() as broken:
            raise RuntimeError("query failed")
    assert broken.closed and pool.stats()["checked_out"] == 0
    with pool.connection() as next_one:
        assert next_one is not broken


def test_a_failed_connect_frees_its_slot():
    def refuse():
        raise ConnectionRefusedError("database down")

    pool = ConnectionPool(refuse, size=1, timeout=0.05)
    for _ in range(3):
        with pytest.raises(ConnectionRefusedError):
            pool.acquire()
    assert pool.stats()["checked_out"] == 0


def test_leaked_connections_stay_checked_out_until_closed():
    pool = ConnectionPool(Conn, size=2, timeout=0.05)
    leaked = [pool.leak(), pool.leak()]
    assert pool.stats() == {"size": 2, "checked_out": 2, "available": 0, "waiting": 0}
    with pytest.raises(PoolExhausted):
        pool.leak()
    assert not any(c.closed for c in leaked)
    pool.close()
    assert all(c.closed for c in leaked)


def test_a_pool_needs_a_size():
    with pytest.raises(ValueError):
        ConnectionPool(Conn, size=0)
