"""The lab's private postgres_exporter (mcpops.lab.fixtures.postgres_exporter) against a private PostgreSQL cluster:
it exports what LegoPostgresConnectionsExhausted divides (pg_stat_activity_count over pg_settings_max_connections),
sessions the test opens are counted, the role's password is in no command line, environment or log of the exporter,
and it is stopped by its PID (the rule itself: extensions/prometheus/tests/lego-mcp.test.yml)."""

import os
import re
import secrets
import urllib.request

import psycopg
import pytest

from mcpops.lab import pids
from mcpops.lab.fixtures.loopback_daemon import DaemonError
from mcpops.lab.fixtures.pg_cluster import PgCluster
from mcpops.lab.fixtures.postgres_exporter import PostgresExporter
from mcpops.lab.loopback import free_port

MAX_CONNECTIONS = 20


def metrics(exporter):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(exporter.url + "/metrics", timeout=30) as answer:
        return answer.read().decode()


def value(text, name, **labels):
    """The sum of the samples of name whose labels include labels."""
    total, found = 0.0, False
    for line in text.splitlines():
        match = re.match(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), line)
        if match and all('%s="%s"' % item in (match.group(1) or "") for item in labels.items()):
            total, found = total + float(match.group(2)), True
    assert found, f"no {name} {labels} in the exporter's metrics"
    return total


@pytest.fixture
def cluster():
    cluster = PgCluster(free_port(), max_connections=MAX_CONNECTIONS).start()
    yield cluster
    cluster.stop()


def test_the_exporter_counts_the_sessions_of_the_database_and_keeps_the_password_in_its_file(cluster):
    password = "canary-" + secrets.token_hex(8)
    with cluster.admin() as admin:
        admin.execute("CREATE ROLE lego_mcp LOGIN PASSWORD '%s'" % password)
        admin.execute("CREATE DATABASE lego_mcp OWNER lego_mcp")
        # The held sessions' own database: the exporter's two connections to lego_mcp are idle or active depending
        # on the moment of the scrape, so only a database it does not use counts exactly.
        admin.execute("CREATE DATABASE lego_mcp_pool OWNER lego_mcp")
    try:
        exporter = PostgresExporter(free_port(), "127.0.0.1", cluster.port, "lego_mcp", "lego_mcp", password).start()
    except DaemonError as exc:
        pytest.skip(str(exc))  # names the Debian package prometheus-postgres-exporter (scripts/test installs it)
    held = []
    try:
        before = metrics(exporter)
        assert value(before, "pg_up") == 1
        assert value(before, "pg_settings_max_connections") == MAX_CONNECTIONS
        assert value(before, "pg_stat_activity_count", datname="lego_mcp_pool") == 0  # every state, none yet
        # the exporter's own sessions, counted in every state (the sum the alert divides)
        own = value(before, "pg_stat_activity_count", datname="lego_mcp")
        assert own >= 1
        for _ in range(5):  # idle sessions, as a leaking pool leaves them
            held.append(psycopg.connect(autocommit=True, **cluster.dsn(user="lego_mcp", dbname="lego_mcp_pool",
                                                                       tcp=True, password=password)))
        after = metrics(exporter)
        assert value(after, "pg_stat_activity_count", datname="lego_mcp_pool", state="idle") == 5
        assert value(after, "pg_stat_activity_count", datname="lego_mcp_pool") == 5
        # the password: in its 0600 file only
        assert (os.stat(exporter.password_file).st_mode & 0o777) == 0o600
        for path in ("/proc/%d/cmdline" % exporter.pid, "/proc/%d/environ" % exporter.pid, exporter.log_path):
            with open(path, "rb") as handle:
                found = password.encode() in handle.read()
            assert not found, f"the password is in {path}"
        assert password not in before and password not in after
        pid = exporter.pid
    finally:
        for conn in held:
            conn.close()
        exporter.stop()
    assert pid and not pids.pid_alive(pid)
