"""The RESP2 client: encoding, the reply parser over a real socket fed in pieces, and a real private Redis (password,
SELECT, TLS) with messages that say where, what the server said and what to check - never the password."""

import socket
import threading

import pytest

from redis_testbed import CANARY, admin, free_port, params

from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.connection import (
    ErrorReply,
    RedisConnection,
    RedisError,
    RespReader,
    encode_command,
)


def test_encode_is_binary_safe():
    assert encode_command([b"SET", "k ü", b"\r\n\x00", 42]) == (
        b"*4\r\n$3\r\nSET\r\n$4\r\nk \xc3\xbc\r\n$3\r\n\r\n\x00\r\n$2\r\n42\r\n")
    assert encode_command(["k\udcff"]) == b"*1\r\n$2\r\nk\xff\r\n"  # surrogateescape text -> its bytes


def test_reader_parses_every_reply_kind_fed_byte_by_byte():
    stream = (b"+OK\r\n:-2\r\n$-1\r\n$5\r\na\r\nb\x00\r\n*-1\r\n-WRONGTYPE Operation against a key\r\n"
              b"*3\r\n$1\r\nx\r\n$-1\r\n*2\r\n:1\r\n+QUEUED\r\n*2\r\n$1\r\n0\r\n*2\r\n$3\r\nk:1\r\n$0\r\n\r\n")
    left, right = socket.socketpair()
    writer = threading.Thread(target=lambda: [left.sendall(stream[i:i + 1]) for i in range(len(stream))])
    writer.start()
    try:
        right.settimeout(30)
        reader = RespReader(right)
        got = [reader.read() for _ in range(8)]
    finally:
        writer.join()
        left.close()
        right.close()
    assert got == [b"OK", -2, None, b"a\r\nb\x00", None, ErrorReply("WRONGTYPE Operation against a key"),
                   [b"x", None, [1, b"QUEUED"]], [b"0", [b"k:1", b""]]]
    assert got[5].code == "WRONGTYPE"


def test_auth_select_and_pipeline_on_a_real_server(server):
    admin(server, 5).set(b"bin\xffkey", b"v\r\n")
    with RedisConnection(params(server, login_db=5)) as conn:
        assert conn.command(b"GET", b"bin\xffkey") == b"v\r\n"
        replies = conn.pipeline([[b"PING"], [b"INCR", b"bin\xffkey"], [b"DBSIZE"]])
        assert replies[0] == b"PONG" and isinstance(replies[1], ErrorReply) and replies[2] == 1
        assert conn.version_at_least(4) is True and conn.version_at_least(99) is False
        with pytest.raises(RedisError) as err:
            conn.command(b"INCR", b"bin\xffkey")
        assert "INCR on Redis at 127.0.0.1:%d db 5 failed: the server said: ERR" % server.port in err.value.msg


@pytest.mark.parametrize("extra,said,hint", [
    (dict(login_password=CANARY + "x"), "WRONGPASS", "check login_password"),
    (dict(login_password=None), "NOAUTH", "set login_password"),
    (dict(login_user="nobody"), "WRONGPASS", "for ACL user nobody"),
    (dict(login_db=999), "DB index is out of range", "check login_db"),
])
def test_server_refusals_name_where_what_and_next(server, extra, said, hint):
    with pytest.raises(RedisError) as err:
        conn = RedisConnection(params(server, **extra)).open()
        conn.command(b"DBSIZE")
    msg = err.value.msg
    assert said in msg and hint in msg and "127.0.0.1:%d" % server.port in msg and CANARY not in msg


def test_nothing_listening_and_bad_timeout():
    with pytest.raises(RedisError) as err:
        RedisConnection(dict(login_host="127.0.0.1", login_port=free_port(), login_password=CANARY)).open()
    assert "nothing listens there" in err.value.msg and CANARY not in err.value.msg
    with pytest.raises(RedisError) as err:
        RedisConnection(dict(login_port=free_port(), connect_timeout=0)).open()
    assert "connect_timeout" in err.value.msg


def test_tls_verified_against_the_ca(server):
    with RedisConnection(params(server, login_port=server.tls_port, tls=True, ca_certs=server.ca)) as conn:
        assert conn.command(b"PING") == b"PONG"
    with RedisConnection(params(server, login_port=server.tls_port, tls=True, validate_certs=False)) as conn:
        assert conn.command(b"PING") == b"PONG"


def test_tls_failures_say_what_to_check(server):
    with pytest.raises(RedisError) as err:
        RedisConnection(params(server, login_port=server.tls_port, tls=True)).open()  # system trust store: unknown CA
    assert "did not verify" in err.value.msg and "ca_certs" in err.value.msg
    with pytest.raises(RedisError) as err:
        RedisConnection(params(server, login_port=server.tls_port, connect_timeout=5)).open()  # plain text to TLS
    assert "tls=true" in err.value.msg and CANARY not in err.value.msg
    with pytest.raises(RedisError) as err:
        RedisConnection(params(server, tls=True, ca_certs="/nonexistent/ca.pem")).open()
    assert "readable PEM" in err.value.msg
