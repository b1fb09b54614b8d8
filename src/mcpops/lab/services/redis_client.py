"""connector-mcp's Redis, through redis-py (as the seed backend reaches it): one client from REDIS_URL with short
connect and socket timeouts, so a stopped Redis is noticed at once; every Redis failure comes out as
RedisUnavailable with one short line (redis-py never puts the password in its messages; the caller still scrubs).
redis-py is imported when the client is made, so the module imports where redis-py is missing."""

TIMEOUT = 2.0  # seconds


class RedisUnavailable(Exception):
    pass


class RedisClient:
    def __init__(self, url, timeout=TIMEOUT):
        import redis

        self._errors = (redis.exceptions.RedisError, OSError)
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                           decode_responses=True)

    def _run(self, what, *args):
        try:
            return what(*args)
        except self._errors as exc:
            raise RedisUnavailable(str(exc).strip() or exc.__class__.__name__) from None

    def ping(self):
        return self._run(self._redis.ping)

    def incr_window(self, key, window_seconds):
        """INCR key; when the key is new (or was left without a TTL) EXPIRE it: a fixed window of window_seconds
        starting at its first request. The count after this request."""
        def run():
            pipe = self._redis.pipeline(transaction=True)
            pipe.incr(key)
            pipe.ttl(key)
            count, ttl = pipe.execute()
            if count == 1 or ttl == -1:
                self._redis.expire(key, int(window_seconds))
            return int(count)
        return self._run(run)

    def close(self):
        try:
            self._redis.close()
        except Exception:
            pass


def check_redis_url(url):
    """ValueError naming what is wrong with a redis:// URL (never echoing it: it may carry a password)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port
    except ValueError:
        raise ValueError("bad port in the redis:// URL")
    if parts.scheme != "redis":
        raise ValueError("not a redis:// URL")
    if not parts.hostname:
        raise ValueError("the redis:// URL has no host")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ValueError("the redis:// URL's path must be a database number")
