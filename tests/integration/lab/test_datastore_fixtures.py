"""The lab's private datastores (mcpops.lab.fixtures): Redis and MariaDB start on a free loopback port in a private
dir, answer, survive a halt and a start (a drill's outage), and stop by their PID leaving nothing running and no
dir behind; a missing binary is a clear error naming it and its Debian package."""

import os
import socket

import pymysql
import pytest

from loopback import free_port
from mcpops.lab.fixtures import mariadb_server, redis_server
from mcpops.lab.fixtures.mariadb_server import MariaDbServer, MariaDbServerError
from mcpops.lab.fixtures.redis_server import RedisServer, RedisServerError
from mcpops.lab.pids import pid_alive
from mcpops.lab.services.resp import RedisUnavailable, RespClient


def test_redis_starts_answers_halts_restarts_and_stops_by_pid(tmp_path):
    server = RedisServer(free_port(), base=str(tmp_path))
    assert server.dir.startswith(str(tmp_path)) and server.pid is None
    try:
        server.start()
        first = server.pid
        assert pid_alive(first) and server.url == "redis://127.0.0.1:%d/0" % server.port
        client = RespClient.from_url(server.url, timeout=2.0)
        assert client.ping() and client.set("k", "v") and client.get("k") == b"v"
        assert server.start() is server and server.pid == first  # already running: a no-op
        server.halt()
        assert not pid_alive(first) and server.pid is None and os.path.isdir(server.dir)
        with pytest.raises(RedisUnavailable):
            client.ping()
        server.start()
        assert server.pid != first and client.ping()
        assert client.get("k") is None  # no persistence: --save "" --appendonly no
        assert os.listdir(server.dir) == ["redis.log"]
        client.close()
    finally:
        pid = server.pid
        server.stop()
    assert not pid_alive(pid) and not os.path.exists(server.dir)


def test_redis_reports_a_taken_port_with_its_log(tmp_path):
    with RedisServer(free_port(), base=str(tmp_path)) as first:
        second = RedisServer(first.port, base=str(tmp_path))
        with pytest.raises(RedisServerError, match="exited .* at start-up") as info:
            second.start()
        assert "Address already in use" in str(info.value) or "bind" in str(info.value).lower()
        assert second.pid is None
        second.stop()
        assert first.pid and pid_alive(first.pid)


def test_mariadb_starts_with_binlog_creates_a_database_and_stops_by_pid(tmp_path):
    server = MariaDbServer(free_port(), base=str(tmp_path))
    try:
        server.start()
        pid = server.pid
        assert pid_alive(pid)
        with open(server.pid_file) as handle:
            assert int(handle.read()) == pid  # the server we started, not a wrapper
        url = server.create_database("connectorMCP", "connectormcp", "pw-with-@-and-:")
        assert url == "mysql://connectormcp:pw-with-%%40-and-%%3A@127.0.0.1:%d/connectorMCP" % server.port
        conn = pymysql.connect(host="127.0.0.1", port=server.port, user="connectormcp", password="pw-with-@-and-:",
                               database="connectorMCP", autocommit=True)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (id INT PRIMARY KEY)")
            cur.execute("INSERT INTO t VALUES (1)")
        conn.close()
        with server.admin() as admin, admin.cursor() as cur:
            cur.execute("SHOW VARIABLES LIKE 'log_bin'")
            assert cur.fetchone()[1] == "ON"
            cur.execute("SHOW BINARY LOGS")
            assert cur.fetchall()
            cur.execute("SELECT user, host FROM mysql.user WHERE user IN ('root', '')")
            assert cur.fetchall() == (("root", "localhost"),)  # no password-less root over TCP
        with pytest.raises(pymysql.err.OperationalError):
            pymysql.connect(host="127.0.0.1", port=server.port, user="root", password="", connect_timeout=5)

        server.halt()
        assert not pid_alive(pid) and server.pid is None
        with pytest.raises(pymysql.err.OperationalError):
            pymysql.connect(host="127.0.0.1", port=server.port, user="connectormcp", password="pw-with-@-and-:",
                            connect_timeout=5)
        server.start()  # the data survives a halt
        with server.admin(database="connectorMCP") as admin, admin.cursor() as cur:
            cur.execute("SELECT id FROM t")
            assert cur.fetchall() == ((1,),)
    finally:
        pid = server.pid
        server.stop()
    assert not pid_alive(pid) and not os.path.exists(server.dir)


def test_mariadb_reports_a_taken_port_with_its_log(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        server = MariaDbServer(taken.getsockname()[1], base=str(tmp_path))
        try:
            with pytest.raises(MariaDbServerError, match="exited .* at start-up") as info:
                server.start()
            assert "bind" in str(info.value).lower() or "in use" in str(info.value)
            assert server.pid is None
        finally:
            server.stop()
    assert not os.path.exists(server.dir)


def test_mariadb_names_rejected_before_sql():
    for bad in ("", "a-b", "a;drop", "x" * 65):
        with pytest.raises(MariaDbServerError, match="bad name"):
            mariadb_server.ident(bad)


def test_a_missing_binary_is_named_with_its_package(monkeypatch, tmp_path):
    monkeypatch.setattr(redis_server.shutil, "which", lambda *a, **k: None)
    with pytest.raises(RedisServerError, match="redis-server not found .* Debian package redis-server"):
        RedisServer(free_port(), base=str(tmp_path))
    monkeypatch.setattr(mariadb_server.shutil, "which", lambda *a, **k: None)
    with pytest.raises(MariaDbServerError, match="mariadb-install-db not found .* mariadb-server-core"):
        MariaDbServer(free_port(), base=str(tmp_path))
    assert os.listdir(str(tmp_path)) == []  # nothing made before the check
