"""resp.py: RESP encoding and decoding on bytes, redis:// URLs, and the client against a fake Redis on loopback
(a stale kept connection is retried once; a stopped Redis is RedisUnavailable at once; -ERR is RedisError)."""

import io
import socket
import threading

import pytest

from mcpops.lab.services.resp import (ProtocolError, RedisError, RedisUnavailable, RespClient, encode_command, parse_url,
                                      read_reply)


def test_encode_command():
    assert encode_command("PING") == b"*1\r\n$4\r\nPING\r\n"
    assert encode_command("SET", "k", "vé", "EX", 60) == b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\xc3\xa9\r\n$2\r\nEX\r\n$2\r\n60\r\n"
    assert encode_command("SET", b"k", b"") == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
    with pytest.raises(ValueError):
        encode_command()
    with pytest.raises(TypeError):
        encode_command("SET", "k", True)
    with pytest.raises(TypeError):
        encode_command("SET", "k", None)


@pytest.mark.parametrize("raw, expected", [
    (b"+PONG\r\n", "PONG"),
    (b":42\r\n", 42),
    (b":-1\r\n", -1),
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$0\r\n\r\n", b""),
    (b"$7\r\na\r\nb\r\nc\r\n", b"a\r\nb\r\nc"),
    (b"$-1\r\n", None),
    (b"*-1\r\n", None),
    (b"*0\r\n", []),
    (b"*3\r\n$1\r\na\r\n:1\r\n*1\r\n+x\r\n", [b"a", 1, ["x"]]),
])
def test_read_reply(raw, expected):
    assert read_reply(io.BytesIO(raw)) == expected


def test_error_reply_is_redis_error():
    with pytest.raises(RedisError, match="WRONGTYPE"):
        read_reply(io.BytesIO(b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"))


@pytest.mark.parametrize("raw, exc", [
    (b"", RedisUnavailable),
    (b"+PONG", ProtocolError),  # no CRLF
    (b"?what\r\n", ProtocolError),
    (b":x\r\n", ProtocolError),
    (b"$x\r\n", ProtocolError),
    (b"$5\r\nhel", RedisUnavailable),  # closed mid-reply
    (b"$3\r\nabcXY", ProtocolError),
    (b"$-5\r\n", ProtocolError),
    (b"*2\r\n+a\r\n", RedisUnavailable),
])
def test_bad_replies(raw, exc):
    with pytest.raises(exc):
        read_reply(io.BytesIO(raw))


def test_parse_url():
    assert parse_url("redis://127.0.0.1:6380/2") == {"host": "127.0.0.1", "port": 6380, "db": 2, "username": None,
                                                      "password": None}
    assert parse_url("redis://:s%40cret@h")["password"] == "s@cret"
    assert parse_url("redis://u:p@h:1/0")["username"] == "u"
    assert parse_url("redis://h")["port"] == 6379
    for bad in ("http://h", "redis://h:99999/0", "redis://h/x"):
        with pytest.raises(ValueError):
            parse_url(bad)


class FakeRedis:
    """A loopback server speaking enough RESP: PING, GET/SET/INCR/EXPIRE/KEYS on a dict, AUTH, SELECT; `drop()`
    closes every open connection (as a restarted Redis would)."""

    def __init__(self, password=None):
        self.password = password
        self.data = {}
        self.conns = []
        self.commands = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        stream = conn.makefile("rb")
        authed = self.password is None
        try:
            while True:
                args = read_reply(stream)
                cmd = args[0].decode().upper()
                self.commands.append(cmd)
                if cmd == "AUTH":
                    authed = args[-1].decode() == self.password
                    out = b"+OK\r\n" if authed else b"-WRONGPASS invalid username-password pair\r\n"
                elif not authed:
                    out = b"-NOAUTH Authentication required.\r\n"
                elif cmd == "PING":
                    out = b"+PONG\r\n"
                elif cmd == "SELECT":
                    out = b"+OK\r\n"
                elif cmd == "SET":
                    self.data[args[1]] = args[2]
                    out = b"+OK\r\n"
                elif cmd == "GET":
                    value = self.data.get(args[1])
                    out = b"$-1\r\n" if value is None else b"$%d\r\n%s\r\n" % (len(value), value)
                elif cmd == "INCR":
                    value = int(self.data.get(args[1], b"0")) + 1
                    self.data[args[1]] = str(value).encode()
                    out = b":%d\r\n" % value
                elif cmd == "EXPIRE":
                    out = b":1\r\n" if args[1] in self.data else b":0\r\n"
                elif cmd == "KEYS":
                    keys = sorted(self.data)
                    out = b"*%d\r\n" % len(keys) + b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys)
                else:
                    out = b"-ERR unknown command\r\n"
                conn.sendall(out)
        except (RedisUnavailable, OSError, IndexError):
            pass
        finally:
            conn.close()

    def drop(self):
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self.conns = []

    def close(self):
        self.drop()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone leaves it listening
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def fake():
    server = FakeRedis()
    yield server
    server.close()


def test_commands(fake):
    client = RespClient("127.0.0.1", fake.port, db=3)
    try:
        assert client.ping() is True
        assert client.get("k") is None
        assert client.set("k", "v", ex=60) is True
        assert client.get("k") == b"v"
        assert client.incr("n") == 1 and client.incr("n") == 2
        assert client.expire("n", 30) is True and client.expire("missing", 30) is False
        assert client.keys("*") == ["k", "n"]
        with pytest.raises(RedisError, match="unknown"):
            client.execute("FLUSHALL")
        assert client.ping()  # an error reply leaves the connection usable
        assert fake.commands[0] == "SELECT"
    finally:
        client.close()


def test_a_stale_connection_is_retried_once_on_a_new_one(fake):
    client = RespClient("127.0.0.1", fake.port)
    try:
        assert client.ping()
        fake.drop()
        assert client.ping()  # the kept connection was closed under us: reconnected
    finally:
        client.close()


def test_a_stopped_redis_is_unavailable_at_once(fake):
    client = RespClient("127.0.0.1", fake.port, timeout=1.0)
    assert client.ping()
    fake.close()
    with pytest.raises(RedisUnavailable, match="127.0.0.1:%d" % fake.port):
        client.ping()
    with pytest.raises(RedisUnavailable, match="refused"):
        client.ping()


def test_a_silent_server_times_out():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        client = RespClient("127.0.0.1", silent.getsockname()[1], timeout=0.3)
        with pytest.raises(RedisUnavailable, match="within"):
            client.ping()
        client.close()


def test_auth_and_a_refused_password_never_echoed():
    server = FakeRedis(password="s3cret-canary")
    try:
        good = RespClient.from_url("redis://:s3cret-canary@127.0.0.1:%d/0" % server.port)
        assert good.ping()
        good.close()
        bad = RespClient.from_url("redis://:wrong-canary@127.0.0.1:%d/0" % server.port)
        with pytest.raises(RedisUnavailable) as info:
            bad.ping()
        assert "canary" not in str(info.value)
    finally:
        server.close()
