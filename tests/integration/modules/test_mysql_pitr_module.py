"""mysql_backup and mysql_point_in_time_restore run for real through ansible-playbook (-vvv) against a private
MariaDB (mcpops.lab.fixtures.mariadb_server: binlog on, binlog_format MIXED, root over its unix socket only).

The runbook's story: rows A, a backup, rows B, the recovery point T (the server's clock has passed the second of
B: polled, not slept), rows C, then a restore to T: A and B are back, C is not, and the old tables (A, B, C)
are kept in <db>_before_pitr_<stamp>. Check mode leaves every table's CHECKSUM and the list of databases as they
were. A corrupted dump and a purged binary log are refused before anything changes. The root password is a
canary that never appears in ansible-playbook's -vvv output nor in any result."""

import gzip
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loopback import free_port

pymysql = pytest.importorskip("pymysql", reason="PyMySQL is needed to write the test rows (pip install PyMySQL)")
from mcpops.lab.fixtures.mariadb_server import MariaDbServer, MariaDbServerError, find_binaries  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
CANARY = "pitr-canary-" + secrets.token_hex(8)
SYSTEM_DBS = {"information_schema", "mysql", "performance_schema", "sys"}

try:
    find_binaries()
    MISSING = None
except MariaDbServerError as exc:
    MISSING = str(exc)
pytestmark = [
    pytest.mark.skipif(MISSING is not None, reason="no MariaDB server binaries: %s" % MISSING),
    pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook not in the venv"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = MariaDbServer(free_port())
    srv.root_password = CANARY  # the fixture sets root's password at start(): our canary
    srv.start()
    yield srv
    srv.stop()


def sql(server, statement, database=None, args=None):
    conn = server.admin(database)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, args)
            return cur.fetchall()
    finally:
        conn.close()


def make_db(server, name):
    sql(server, "CREATE DATABASE `%s`" % name)
    sql(server, "CREATE TABLE oauth_states (id INT PRIMARY KEY AUTO_INCREMENT, state VARCHAR(64) NOT NULL, "
                "expires_at DATETIME NULL)", name)
    sql(server, "CREATE TABLE datasources (name VARCHAR(32) PRIMARY KEY, enabled TINYINT NOT NULL)", name)
    sql(server, "INSERT INTO datasources VALUES ('slack', 1), ('github', 1)", name)


def add_rows(server, database, prefix, count=3):
    """Rows written as the backends write them: a session whose default database is the app's."""
    conn = server.admin(database)
    try:
        with conn.cursor() as cur:
            for i in range(count):
                cur.execute("INSERT INTO oauth_states (state, expires_at) VALUES (%s, NOW() + INTERVAL 10 MINUTE)",
                            ("%s%d" % (prefix, i),))
            cur.execute("UPDATE datasources SET enabled = %s WHERE name = 'github'", (0 if prefix == "C" else 1,))
    finally:
        conn.close()


def states(server, database):
    return sorted(r[0] for r in sql(server, "SELECT state FROM oauth_states", database))


def next_server_second(server):
    """The server's NOW() once its clock has passed the second it shows now (polled with a deadline)."""
    first = sql(server, "SELECT NOW()")[0][0]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = sql(server, "SELECT NOW()")[0][0]
        if now > first:
            return now.strftime("%Y-%m-%d %H:%M:%S")
        time.sleep(0.05)
    raise AssertionError("the server's clock did not move past %s within 30 s" % first)


def snapshot(server):
    """The databases and the CHECKSUM TABLE of every table of every non-system database."""
    dbs = sorted(r[0] for r in sql(server, "SHOW DATABASES"))
    sums = {}
    for db in dbs:
        if db in SYSTEM_DBS:
            continue
        for (table,) in sql(server, "SHOW TABLES FROM `%s`" % db):
            sums["%s.%s" % (db, table)] = sql(server, "CHECKSUM TABLE `%s`.`%s`" % (db, table))[0][1]
    return dbs, sums


class Playbook:
    """One-task playbooks through ansible-playbook -vvv; the password only in a 0600 extra-vars file."""

    def __init__(self, server, workdir):
        self.server = server
        self.workdir = Path(workdir)
        self.count = 0
        self.vars_file = self.workdir / "secret-vars.json"
        fd = os.open(self.vars_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"mysql_login_password": server.root_password}, handle)
        self.outputs = []

    def run(self, module, args, check=False):
        self.count += 1
        args = dict(args, login_user="root", login_password="{{ mysql_login_password }}",
                    login_unix_socket=self.server.socket)
        play = [{"hosts": "localhost", "gather_facts": False,
                 "vars": {"ansible_python_interpreter": sys.executable},
                 "tasks": [{"name": "t", "mcpops.runbooks.%s" % module: args, "ignore_errors": True}]}]
        playbook = self.workdir / ("play-%02d.yml" % self.count)
        playbook.write_text(json.dumps(play))
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
                   ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_NOCOLOR="1",
                   ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
                   PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
        cmd = [str(BIN / "ansible-playbook"), "-vvv", "-i", "localhost,", "-c", "local", str(playbook),
               "-e", "@%s" % self.vars_file] + (["--check"] if check else [])
        proc = subprocess.run(cmd, cwd=self.workdir, env=env, capture_output=True, text=True, timeout=600)
        output = proc.stdout + proc.stderr
        self.outputs.append(output)
        assert CANARY not in output, "the root password appeared in ansible-playbook's output"
        try:
            doc = json.loads(proc.stdout[proc.stdout.index("{"):])
            result = doc["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError):
            raise AssertionError("no result (rc %d): %s" % (proc.returncode, output[-4000:]))
        assert CANARY not in json.dumps(result)
        return result


def ok(result):
    assert not result.get("failed"), json.dumps(result, indent=1)[:4000]
    return result


@pytest.fixture
def play(server, tmp_path):
    runner = Playbook(server, tmp_path)
    yield runner
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "secret-vars.json" and not path.name.endswith(".gz"):
            assert CANARY not in path.read_text(errors="replace"), path


def test_backup_then_point_in_time_restore_brings_back_a_and_b_not_c(server, play, tmp_path):
    db = "connectorMCP"
    backups = tmp_path / "backups"
    backups.mkdir()
    make_db(server, db)
    add_rows(server, db, "A")

    checked = ok(play.run("mysql_backup", dict(database=db, dest_dir=str(backups)), check=True))
    assert checked["changed"] is True and checked["manifest"] is None and os.listdir(backups) == []

    backup = ok(play.run("mysql_backup", dict(database=db, dest_dir=str(backups))))
    manifest = backup["manifest"]
    assert sorted(os.listdir(backups)) == sorted([manifest["file"], os.path.basename(backup["manifest_path"])])
    assert json.loads(Path(backup["manifest_path"]).read_text()) == manifest
    assert manifest["database"] == db and manifest["binlog_file"].startswith("binlog.") and manifest["binlog_position"] > 0
    with gzip.open(backups / manifest["file"], "rt") as handle:
        text = handle.read()
    assert "CREATE DATABASE" not in text and "USE `" not in text and "A0" in text
    assert oct(os.stat(backups / manifest["file"]).st_mode & 0o777) == "0o600"

    add_rows(server, db, "B")
    point = next_server_second(server)
    add_rows(server, db, "C")
    assert states(server, db) == ["A0", "A1", "A2", "B0", "B1", "B2", "C0", "C1", "C2"]

    args = dict(database=db, backup_dir=str(backups), stop_datetime=point)
    before = snapshot(server)
    dry = ok(play.run("mysql_point_in_time_restore", args, check=True))
    assert dry["changed"] is True and dry["stage"] == "checked" and dry["backup"] == backup["manifest_path"]
    assert dry["binlog_files"] and dry["rows_before"]["oauth_states"] == 9
    assert snapshot(server) == before, "check mode changed a table or a database"

    done = ok(play.run("mysql_point_in_time_restore", args))
    assert done["changed"] is True and done["stage"] == "done", done
    assert states(server, db) == ["A0", "A1", "A2", "B0", "B1", "B2"]
    assert sql(server, "SELECT enabled FROM datasources WHERE name = 'github'", db)[0][0] == 1  # C's update undone
    assert done["rows_before"] == {"datasources": 2, "oauth_states": 9}
    assert done["rows_after"] == {"datasources": 2, "oauth_states": 6}
    previous = done["previous_database"]
    assert previous.startswith(db + "_before_pitr_") and states(server, previous) == [
        "A0", "A1", "A2", "B0", "B1", "B2", "C0", "C1", "C2"]
    dbs = set(r[0] for r in sql(server, "SHOW DATABASES"))
    assert done["staging_database"] not in dbs and previous in dbs
    # the restored table works on: auto increment continues, no duplicate key
    add_rows(server, db, "D", 1)
    assert "D0" in states(server, db)


def test_corrupted_dump_is_refused_before_any_change(server, play, tmp_path):
    db = "cmcp_corrupt"
    backups = tmp_path / "backups"
    backups.mkdir()
    make_db(server, db)
    add_rows(server, db, "A")
    backup = ok(play.run("mysql_backup", dict(database=db, dest_dir=str(backups))))
    add_rows(server, db, "B")
    point = next_server_second(server)
    dump = backups / backup["manifest"]["file"]
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))
    before = snapshot(server)
    for check in (True, False):
        failed = play.run("mysql_point_in_time_restore", dict(database=db, backup=backup["manifest_path"],
                                                              stop_datetime=point), check=check)
        assert failed.get("failed") is True and failed["changed"] is False
        assert "does not match its manifest's sha256" in failed["msg"], failed["msg"]
        assert "was not changed" in failed["msg"] and failed["stage"] == "check", failed["msg"]
    assert snapshot(server) == before


def purge_through(server, name):
    """Rotate and purge until binlog `name` is gone. MariaDB keeps a file while its binlog checkpoint (InnoDB's
    commit of the file's last transactions) has not moved on, so PURGE is retried with a deadline."""
    deadline = time.monotonic() + 60
    while True:
        sql(server, "FLUSH BINARY LOGS")
        newest = sql(server, "SHOW BINARY LOGS")[-1][0]
        sql(server, "PURGE BINARY LOGS TO %s", args=(newest,))
        if name not in [r[0] for r in sql(server, "SHOW BINARY LOGS")]:
            return
        assert time.monotonic() < deadline, "binlog %s could not be purged within 60 s" % name
        time.sleep(0.2)


def test_purged_binlog_is_refused_before_any_change(server, play, tmp_path):
    db = "cmcp_purged"
    backups = tmp_path / "backups"
    backups.mkdir()
    make_db(server, db)
    add_rows(server, db, "A")
    backup = ok(play.run("mysql_backup", dict(database=db, dest_dir=str(backups))))
    add_rows(server, db, "B")
    purge_through(server, backup["manifest"]["binlog_file"])
    point = next_server_second(server)
    before = snapshot(server)
    failed = play.run("mysql_point_in_time_restore", dict(database=db, backup_dir=str(backups), stop_datetime=point))
    assert failed.get("failed") is True and failed["changed"] is False
    assert "no longer on the server" in failed["msg"] and "purged" in failed["msg"], failed["msg"]
    assert "was not changed" in failed["msg"]
    assert snapshot(server) == before


def test_bad_input_is_refused_with_nothing_touched(server, play, tmp_path):
    before = snapshot(server)
    for args, words in [
        (dict(database="connectorMCP`; DROP DATABASE mysql; --", backup_dir=str(tmp_path), stop_datetime="2024-01-01 00:00:00"), "letters, digits"),
        (dict(database="connectorMCP", backup_dir=str(tmp_path), stop_datetime="yesterday"), "YYYY-MM-DD HH:MM:SS"),
    ]:
        failed = play.run("mysql_point_in_time_restore", args)
        assert failed.get("failed") is True and words in failed["msg"], failed["msg"]
    assert snapshot(server) == before
