"""The lab's private mysqld_exporter (mcpops.lab.fixtures.mysqld_exporter) against a private MariaDB: it exports what
ConnectorMysqlConnectionsHigh divides (threads_connected over max_connections), sessions the test opens are counted,
and with every connection of the server taken it still logs in through the slot MariaDB keeps for CONNECTION ADMIN
(its account's only privilege), where an ordinary login is refused; a wrong password is said, never shown; the
password is in its 0600 my.cnf only, and it is stopped by its PID (the rule itself:
extensions/prometheus/tests/connector-mcp.test.yml). As test_postgres_exporter.py does for postgres_exporter."""

import os
import secrets

import pymysql
import pytest

from mcpops.lab import pids
from mcpops.lab.fixtures.loopback_daemon import DaemonError
from mcpops.lab.fixtures.mariadb_server import MariaDbServer, MariaDbServerError
from mcpops.lab.fixtures.mysqld_exporter import MysqldExporter, create_login, samples
from mcpops.lab.loopback import free_port

USER = "mcpops_exporter"
FULL_AT = 10  # max_connections while the test fills the server: MariaDB's smallest (a lower SET is raised to it)


@pytest.fixture
def mariadb():
    try:
        server = MariaDbServer(free_port()).start()
    except MariaDbServerError as exc:
        pytest.skip(str(exc))  # names the Debian packages (scripts/bootstrap installs them)
    yield server
    server.stop()


def value(text, name):
    [found] = samples(text, name)
    return found


def login(server, user, password):
    return pymysql.connect(host="127.0.0.1", port=server.port, user=user, password=password, connect_timeout=5)


def test_the_exporter_sees_a_full_server_through_the_reserved_slot_and_keeps_the_password_in_its_file(mariadb):
    password = "canary" + secrets.token_hex(8)
    with mariadb.admin() as admin:
        create_login(admin, USER, password)
    try:
        exporter = MysqldExporter(free_port(), "127.0.0.1", mariadb.port, USER, password).start()
    except DaemonError as exc:
        pytest.skip(str(exc))  # names the Debian package prometheus-mysqld-exporter (scripts/bootstrap installs it)
    held, admin = [], mariadb.admin()
    try:
        before = exporter.wait_logged_in()
        assert value(before, "mysql_global_variables_max_connections") == 200  # the fixture's
        connected = value(before, "mysql_global_status_threads_connected")
        filler = "filler" + secrets.token_hex(4)
        mariadb.create_database("lab", "filler", filler)
        for _ in range(3):
            held.append(login(mariadb, "filler", filler))
        assert value(exporter.metrics(), "mysql_global_status_threads_connected") == connected + 3

        # every connection taken (the admin's and the filler's): an ordinary login is refused, the exporter's is not
        with admin.cursor() as cur:
            cur.execute("SET GLOBAL max_connections = %s", (FULL_AT,))
        while True:
            try:
                held.append(login(mariadb, "filler", filler))
            except pymysql.MySQLError as exc:
                assert exc.args[0] == 1040, exc  # Too many connections
                break
            assert len(held) < FULL_AT, "MariaDB took more sessions than max_connections"
        full = exporter.metrics()
        assert value(full, "mysql_up") == 1
        assert value(full, "mysql_global_variables_max_connections") == FULL_AT
        assert value(full, "mysql_global_status_threads_connected") == FULL_AT + 1  # its own, beyond max_connections

        # the password: in its 0600 my.cnf only, never on its command line, in its environment or its log
        assert (os.stat(exporter.my_cnf).st_mode & 0o777) == 0o600
        for path in ("/proc/%d/cmdline" % exporter.pid, "/proc/%d/environ" % exporter.pid, exporter.log_path):
            with open(path, "rb") as handle:
                found = password.encode() in handle.read()
            assert not found, f"the password is in {path}"
        assert password not in before and password not in full
        pid, where = exporter.pid, exporter.dir
    finally:
        for conn in held:
            conn.close()
        admin.close()
        exporter.stop()
    assert pid and not pids.pid_alive(pid) and not os.path.exists(where)  # my.cnf gone with its dir


def test_a_wrong_password_is_said_and_not_shown(mariadb):
    with mariadb.admin() as admin:
        create_login(admin, USER, "right" + secrets.token_hex(8))
    wrong = "wrong" + secrets.token_hex(8)
    try:
        exporter = MysqldExporter(free_port(), "127.0.0.1", mariadb.port, USER, wrong).start()
    except DaemonError as exc:
        pytest.skip(str(exc))
    try:
        with pytest.raises(DaemonError, match=r"could not log in to 127\.0\.0\.1:\d+ as mcpops_exporter within 2s "
                                              r"\(mysql_up \[0\.0\]\)") as said:
            exporter.wait_logged_in(timeout=2)
        assert wrong not in str(said.value)
    finally:
        exporter.stop()
    with pytest.raises(ValueError, match="no blank, quote"):
        MysqldExporter(free_port(), "127.0.0.1", mariadb.port, USER, "two words")
