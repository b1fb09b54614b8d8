"""A connection pool as the seed backend has one (SQLAlchemy's QueuePool, in its essentials): at most `size`
connections checked out at once; a checkout waits up to `timeout` seconds for one to come back, then fails with
PoolExhausted. Connections are made lazily by `connect()` (PyMySQL in the backend; anything with ping() and close()
in a unit test). An idle connection is pinged before it is handed out and replaced when dead, so a restarted
database is noticed on the next checkout. A connection whose use failed is given back with discard=True (closed,
its slot freed). `leak()` checks one out for good: the pool_leak fault (only a restart frees it)."""

import threading
import time
from contextlib import contextmanager


class PoolExhausted(Exception):
    """No connection came back within the pool's timeout."""


class ConnectionPool:
    def __init__(self, connect, size=5, timeout=2.0, clock=time.monotonic):
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self.size = int(size)
        self.timeout = float(timeout)
        self._connect = connect
        self._clock = clock
        self._cond = threading.Condition()
        self._idle = []
        self._checked_out = 0
        self._waiting = 0
        self._leaked = []  # kept referenced: a leaked connection stays open and checked out

    # -- checking out and in --------------------------------------------------------------
    def _take_slot(self, timeout):
        deadline = self._clock() + timeout
        with self._cond:
            if self._checked_out >= self.size:
                self._waiting += 1
                try:
                    while self._checked_out >= self.size:
                        left = deadline - self._clock()
                        if left <= 0:
                            raise PoolExhausted("connection pool exhausted (size %d, %d checked out, waited %.1f s)"
                                                % (self.size, self._checked_out, timeout))
                        self._cond.wait(left)
                finally:
                    self._waiting -= 1
            self._checked_out += 1
            return self._idle.pop() if self._idle else None

    def _free_slot(self):
        with self._cond:
            self._checked_out -= 1
            self._cond.notify()

    def acquire(self, timeout=None):
        """A live connection; PoolExhausted after `timeout` (default: the pool's) seconds without a free slot, or
        what connect() raised (the slot is freed)."""
        conn = self._take_slot(self.timeout if timeout is None else timeout)
        try:
            if conn is not None and not self._alive(conn):
                self._close(conn)
                conn = None
            if conn is None:
                conn = self._connect()
        except BaseException:
            self._free_slot()
            raise
        return conn

    def release(self, conn, discard=False):
        """Give a connection back (closed instead when discard: its use failed, it may be broken)."""
        if discard:
            self._close(conn)
            self._free_slot()
            return
        with self._cond:
            self._idle.append(conn)
            self._checked_out -= 1
            self._cond.notify()

    @contextmanager
    def connection(self, timeout=None):
        conn = self.acquire(timeout)
        try:
            yield conn
        except BaseException:
            self.release(conn, discard=True)
            raise
        self.release(conn)

    def leak(self, timeout=None):
        """Check a connection out and never give it back."""
        conn = self.acquire(timeout)
        with self._cond:
            self._leaked.append(conn)
        return conn

    # -- state ----------------------------------------------------------------------------
    def stats(self):
        """{"size", "checked_out", "available", "waiting"} now."""
        with self._cond:
            return {"size": self.size, "checked_out": self._checked_out,
                    "available": max(self.size - self._checked_out, 0), "waiting": self._waiting}

    def exhausted(self):
        with self._cond:
            return self._checked_out >= self.size

    def close(self):
        """Close the idle and the leaked connections (at shutdown)."""
        with self._cond:
            conns, self._idle = self._idle + self._leaked, []
            self._leaked = []
        for conn in conns:
            self._close(conn)

    @staticmethod
    def _alive(conn):
        try:
            conn.ping(False)  # PyMySQL: ping(reconnect=False) raises when the server went away
            return True
        except Exception:
            return False

    @staticmethod
    def _close(conn):
        try:
            conn.close()
        except Exception:
            pass
