"""A minimal Redis client over RESP (standard library): PING, GET, SET, INCR, EXPIRE, KEYS, with timeouts.

One connection, kept and shared under a lock; a broken connection is dropped and the command tried once more on a
new one, so a Redis that was restarted is found again and a stopped one is an error at once (RedisUnavailable),
never a hang. `encode_command` and `read_reply` are plain functions (unit-tested on bytes).
"""

import socket
import threading
from urllib.parse import unquote, urlsplit

DEFAULT_TIMEOUT = 2.0
MAX_BULK = 64 * 1024 * 1024


class RedisError(Exception):
    """Redis answered with an error (-ERR ...)."""


class RedisUnavailable(Exception):
    """Nothing (usable) answered: refused, timed out, closed, or not speaking RESP."""


class ProtocolError(RedisUnavailable):
    pass


class RedisTimeout(RedisUnavailable):
    """No answer in time: never retried (the command may have run)."""


def _bytes(arg):
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, bool):
        raise TypeError("a Redis argument cannot be a bool")
    if isinstance(arg, (int, float)):
        return repr(arg).encode("ascii")
    if isinstance(arg, str):
        return arg.encode("utf-8")
    raise TypeError("a Redis argument must be bytes, str, int or float, not %s" % type(arg).__name__)


def encode_command(*args):
    """A command as a RESP array of bulk strings."""
    if not args:
        raise ValueError("no command")
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = _bytes(arg)
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _line(stream):
    line = stream.readline(MAX_BULK)
    if not line:
        raise RedisUnavailable("connection closed by Redis")
    if not line.endswith(b"\r\n"):
        raise ProtocolError("a RESP line without CRLF")
    return line[:-2]


def read_reply(stream):
    """One reply from a binary file-like stream: str for +simple, int for :integer, bytes or None for $bulk,
    list (or None) for *array; a -error reply is raised as RedisError."""
    line = _line(stream)
    if not line:
        raise ProtocolError("an empty RESP line")
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode("utf-8", "replace")
    if kind == b"-":
        raise RedisError(rest.decode("utf-8", "replace"))
    if kind == b":":
        try:
            return int(rest)
        except ValueError:
            raise ProtocolError("a bad RESP integer")
    if kind == b"$":
        try:
            size = int(rest)
        except ValueError:
            raise ProtocolError("a bad RESP bulk length")
        if size == -1:
            return None
        if not 0 <= size <= MAX_BULK:
            raise ProtocolError("a RESP bulk length out of range")
        data = stream.read(size + 2)
        if len(data) != size + 2:
            raise RedisUnavailable("connection closed by Redis")
        if data[-2:] != b"\r\n":
            raise ProtocolError("a RESP bulk string without CRLF")
        return data[:-2]
    if kind == b"*":
        try:
            count = int(rest)
        except ValueError:
            raise ProtocolError("a bad RESP array length")
        if count == -1:
            return None
        if not 0 <= count <= 1_000_000:
            raise ProtocolError("a RESP array length out of range")
        return [read_reply(stream) for _ in range(count)]
    raise ProtocolError("not a RESP reply (starts with %r)" % kind)


def parse_url(url):
    """redis://[[user]:password@]host[:port][/db] -> dict(host, port, db, username, password)."""
    parts = urlsplit(url)
    if parts.scheme != "redis":
        raise ValueError("not a redis:// URL")
    try:
        port = parts.port or 6379
    except ValueError:
        raise ValueError("bad port in the redis:// URL")
    db_text = parts.path.strip("/") or "0"
    if not db_text.isdigit():
        raise ValueError("the redis:// URL's path must be a database number")
    return {"host": parts.hostname or "127.0.0.1", "port": port, "db": int(db_text),
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None}


class RespClient:
    def __init__(self, host="127.0.0.1", port=6379, db=0, password=None, username=None, timeout=DEFAULT_TIMEOUT):
        self.host = host
        self.port = int(port)
        self.db = int(db)
        self.password = password
        self.username = username
        self.timeout = timeout
        self._lock = threading.Lock()
        self._sock = None
        self._stream = None

    @classmethod
    def from_url(cls, url, timeout=DEFAULT_TIMEOUT):
        return cls(timeout=timeout, **parse_url(url))

    def _connect(self):
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except socket.timeout:
            raise RedisUnavailable("connect to %s:%d timed out after %gs" % (self.host, self.port, self.timeout))
        except OSError as exc:
            raise RedisUnavailable("connect to %s:%d failed: %s" % (self.host, self.port, exc.strerror or exc))
        sock.settimeout(self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._stream = sock, sock.makefile("rb")
        try:
            if self.password is not None:
                auth = ("AUTH", self.username, self.password) if self.username else ("AUTH", self.password)
                self._roundtrip(auth)
            if self.db:
                self._roundtrip(("SELECT", self.db))
        except RedisError as exc:
            self.close_locked()
            raise RedisUnavailable("Redis refused the login or database: %s" % str(exc).split(" ", 1)[0])
        except Exception:
            self.close_locked()
            raise

    def _roundtrip(self, args):
        try:
            self._sock.sendall(encode_command(*args))
            return read_reply(self._stream)
        except socket.timeout:
            raise RedisTimeout("no answer from %s:%d within %gs" % (self.host, self.port, self.timeout))
        except OSError as exc:
            raise RedisUnavailable("connection to %s:%d failed: %s" % (self.host, self.port, exc.strerror or exc))

    def close_locked(self):
        for item in (self._stream, self._sock):
            try:
                if item is not None:
                    item.close()
            except OSError:
                pass
        self._sock = self._stream = None

    def close(self):
        with self._lock:
            self.close_locked()

    def execute(self, *args):
        with self._lock:
            reused = self._sock is not None
            if not reused:
                self._connect()
            try:
                return self._roundtrip(args)
            except RedisError:
                raise
            except RedisUnavailable as exc:
                self.close_locked()
                if not reused or isinstance(exc, (RedisTimeout, ProtocolError)):
                    raise
            # the kept connection was stale (Redis restarted, idle timeout): one more try on a new one
            self._connect()
            try:
                return self._roundtrip(args)
            except RedisUnavailable:
                self.close_locked()
                raise

    # -- the commands the reference services use -------------------------------------------
    def ping(self):
        return self.execute("PING") == "PONG"

    def get(self, key):
        return self.execute("GET", key)

    def set(self, key, value, ex=None):
        args = ["SET", key, value] + (["EX", int(ex)] if ex else [])
        return self.execute(*args) == "OK"

    def incr(self, key):
        return self.execute("INCR", key)

    def expire(self, key, seconds):
        return self.execute("EXPIRE", key, int(seconds)) == 1

    def keys(self, pattern="*"):
        return [k.decode("utf-8", "replace") for k in self.execute("KEYS", pattern) or []]
