"""rate_window and redis_client without a Redis: the fixed window in memory on a fake clock, the Redis window's key,
the redis-py client's errors as RedisUnavailable (a port nothing listens on), redis:// URL checks."""

import socket

import pytest

from mcpops.lab.services.rate_window import MemoryWindow, RedisWindow, window_key
from mcpops.lab.services.redis_client import RedisClient, RedisUnavailable, check_redis_url


def test_the_memory_window_is_fixed_from_the_first_request():
    now = [100.0]
    window = MemoryWindow(window_seconds=60, clock=lambda: now[0])
    assert [window.hit("10.0.0.1") for _ in range(3)] == [1, 2, 3]
    assert window.hit("10.0.0.2") == 1
    now[0] = 159.9
    assert window.hit("10.0.0.1") == 4  # later requests do not extend the window
    now[0] = 160.0
    assert window.hit("10.0.0.1") == 1


def test_the_redis_window_counts_ratelimit_client_ip():
    calls = []

    class Client:
        def incr_window(self, key, seconds):
            calls.append((key, seconds))
            return len(calls)

    window = RedisWindow(Client())
    assert window.hit("127.0.0.77") == 1
    assert calls == [("ratelimit:127.0.0.77", 60)] and window_key("::1") == "ratelimit:::1"


def test_redis_failures_are_redis_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        client = RedisClient("redis://:pw-canary-x@127.0.0.1:%d/0" % port, timeout=2)
        with pytest.raises(RedisUnavailable) as caught:
            client.ping()
        assert "pw-canary-x" not in str(caught.value)
        with pytest.raises(RedisUnavailable):
            client.incr_window("ratelimit:x", 60)
        client.close()


def test_check_redis_url():
    check_redis_url("redis://:secret@127.0.0.1:6379/2")
    check_redis_url("redis://127.0.0.1")
    for bad, word in (("redis://h/x", "database number"), ("redis://h:port/0", "bad port"), ("redis:///0", "no host"),
                      ("http://h/0", "not a redis")):
        with pytest.raises(ValueError, match=word):
            check_redis_url(bad)
