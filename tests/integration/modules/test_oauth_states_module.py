"""oauth_states and oauth_states_info through ansible-playbook against a private MariaDB (mcpops.lab.fixtures.mariadb_server, one for this
file, 127.0.0.1 on a free port) holding ConnectorMCP's database connectorMCP and its oauth_states table, filled by
the test with expired and live states relative to the database's own NOW(). Counts are checked against the
runbook's two queries run directly; a cleanup is checked row by row; the password holds a canary that must never
appear in output or files."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from loopback import free_port
from mcpops.lab.fixtures.mariadb_server import MariaDbServer

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
MODULE = "mcpops.runbooks.oauth_states"
INFO = "mcpops.runbooks.oauth_states_info"
CANARY = "canary-oauth-" + secrets.token_hex(6)
PASSWORD = CANARY + "-connectormcp"
DB = "connectorMCP"
EXPIRED = 2500
LIVE = 10

pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook not in the venv")

TABLE_SQL = """CREATE TABLE oauth_states (
  state VARCHAR(64) NOT NULL PRIMARY KEY,
  datasource VARCHAR(32) NOT NULL,
  user_id INT NOT NULL,
  expires_at DATETIME NOT NULL,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  KEY ix_expires_at (expires_at)
)"""


@pytest.fixture(scope="module")
def server():
    srv = MariaDbServer(free_port()).start()
    try:
        conn = srv.admin()
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE %s" % DB)
            cur.execute("CREATE USER connectormcp@'%%' IDENTIFIED BY %s", (PASSWORD,))
            cur.execute("GRANT ALL PRIVILEGES ON %s.* TO connectormcp@'%%'" % DB)
        conn.close()
    except Exception:
        srv.stop()
        raise
    yield srv
    srv.stop()


def sql(server, statement, args=None):
    conn = server.admin(DB)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, args)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.fixture
def table(server):
    """oauth_states with EXPIRED states expired 1 to EXPIRED minutes ago and LIVE ones expiring in an hour."""
    sql(server, "DROP TABLE IF EXISTS oauth_states")
    sql(server, TABLE_SQL)
    rows = [("expired-%05d" % i, "slack", i, i + 1) for i in range(EXPIRED)]
    conn = server.admin(DB)
    try:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO oauth_states (state, datasource, user_id, expires_at) "
                            "VALUES (%s, %s, %s, NOW() - INTERVAL %s MINUTE)", rows)
            cur.executemany("INSERT INTO oauth_states (state, datasource, user_id, expires_at) "
                            "VALUES (%s, 'github', %s, NOW() + INTERVAL 1 HOUR)", [("live-%d" % i, i) for i in range(LIVE)])
    finally:
        conn.close()
    yield "oauth_states"


def seed_answers(server):
    """The runbook's two diagnosis queries, run directly."""
    states, latest = sql(server, "SELECT COUNT(*) as states, MAX(expires_at) as latest FROM oauth_states")[0]
    expired = sql(server, "SELECT COUNT(*) as expired FROM oauth_states WHERE expires_at < NOW()")[0][0]
    return states, str(latest), expired


def states(server):
    return set(r[0] for r in sql(server, "SELECT state FROM oauth_states"))


@pytest.fixture
def run_dir(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    yield path
    assert_no_canary(path)


def assert_no_canary(run_dir, *texts):
    for text in texts:
        assert CANARY not in text
    for path in Path(run_dir).rglob("*"):
        if path.is_file() and not path.name.startswith("vars-"):
            assert CANARY not in path.read_text(errors="replace"), path


def run(run_dir, server, args, check=False, diff=False, password=PASSWORD, module=MODULE):
    """(task result, full output) of ansible-playbook running the module once; the password from a 0600 vars file."""
    full = dict(dict(login_host="127.0.0.1", login_port=server.port, login_user="connectormcp",
                     login_password="{{ mysql_password }}", login_db=DB), **args)
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": module.rsplit(".", 1)[-1], module: full}]}]
    play_path = Path(run_dir) / ("play-%s.yml" % secrets.token_hex(4))
    play_path.write_text(yaml.safe_dump(play))
    vars_path = Path(run_dir) / ("vars-%s.json" % secrets.token_hex(4))
    fd = os.open(vars_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"mysql_password": password}, handle)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOG_PATH=str(Path(run_dir) / "ansible.log"), ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    cmd = [str(BIN / "ansible-playbook"), str(play_path), "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "@%s" % vars_path]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    (Path(run_dir) / "output.txt").open("a").write(output)
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{"):])
        result = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("no result from %s (rc %d): %s" % (module, proc.returncode, output[-3000:]))
    return result, output


def test_info_answers_the_runbooks_two_queries_by_the_database_clock(server, table, run_dir):
    total, latest, expired = seed_answers(server)
    info, out = run(run_dir, server, {}, module=INFO)
    assert info["changed"] is False and not info.get("failed"), info
    assert (info["total"], info["latest"], info["expired"]) == (total, latest, expired) == (EXPIRED + LIVE, latest, EXPIRED)
    assert info["queries"][0]["states"] == total and info["queries"][0]["latest"] == latest
    assert info["queries"][1]["expired"] == expired and "WHERE expires_at < NOW()" in info["queries"][1]["sql"]
    oldest = str(sql(server, "SELECT MIN(expires_at) FROM oauth_states")[0][0])
    assert info["oldest_expired"] == info["oldest"] == oldest
    db_now, db_utc = sql(server, "SELECT NOW(), UTC_TIMESTAMP()")[0]
    assert info["db_now"] <= str(db_now) and info["db_utc_now"] <= str(db_utc)
    assert info["database"] == DB and info["table"] == "oauth_states" and info["expires_column"] == "expires_at"
    assert states(server) and len(states(server)) == EXPIRED + LIVE
    assert_no_canary(run_dir, out)


def test_check_mode_counts_then_batches_then_nothing_left(server, table, run_dir):
    before = states(server)
    live = set(s for s in before if s.startswith("live-"))

    checked, out1 = run(run_dir, server, dict(state="cleaned", batch_size=300), check=True, diff=True)
    assert checked["changed"] is True and not checked.get("failed"), checked
    assert checked["deleted"] == EXPIRED and checked["batches"] == 9 and checked["remaining_expired"] == 0
    assert states(server) == before, "check mode deleted rows"
    assert "expired: %d" % EXPIRED in checked["diff"]["before"] and "expired: 0" in checked["diff"]["after"]

    capped, out2 = run(run_dir, server, dict(state="cleaned", batch_size=300, max_rows=1000), diff=True)
    assert capped["changed"] is True and capped["deleted"] == 1000 and capped["batches"] == 4, capped
    assert capped["expired_before"] == EXPIRED and capped["remaining_expired"] == EXPIRED - 1000
    after = states(server)
    assert len(after) == EXPIRED + LIVE - 1000 and live <= after
    assert "total: %d" % (EXPIRED + LIVE - 1000) in capped["diff"]["after"]

    rest, out3 = run(run_dir, server, dict(state="cleaned"))
    assert rest["changed"] is True and rest["deleted"] == EXPIRED - 1000 and rest["batches"] == 2
    assert states(server) == live
    assert seed_answers(server)[2] == 0

    again, out4 = run(run_dir, server, dict(state="cleaned"))
    assert again["changed"] is False and again["deleted"] == 0 and not again.get("failed")
    assert states(server) == live
    assert_no_canary(run_dir, out1, out2, out3, out4)


def test_a_cleanup_stopped_half_way_has_deleted_whole_batches(server, table):
    """In process: the connection dies after the second batch; exactly two whole batches are gone."""
    sys.path.insert(0, str(REPO / "collections"))
    from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
    from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql import oauth_state_table
    from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.oauth_states_run import run as run_oauth

    real = oauth_state_table.OAuthStateTable.delete_batch
    calls = []

    def delete_then_die(self, session, cutoff, limit):
        if len(calls) == 2:
            session.conn.close()  # the connection is gone mid-cleanup (a kill, a network cut)
        calls.append(limit)
        return real(self, session, cutoff, limit)

    params = dict(state="cleaned", batch_size=400, login_host="127.0.0.1", login_port=server.port,
                  login_user="connectormcp", login_password=PASSWORD, login_db=DB, connect_timeout=10)
    original = oauth_state_table.OAuthStateTable.delete_batch
    oauth_state_table.OAuthStateTable.delete_batch = delete_then_die
    try:
        with pytest.raises(TaskError) as err:
            run_oauth(params, False)
    finally:
        oauth_state_table.OAuthStateTable.delete_batch = original
    assert "deleting expired rows of oauth_states" in err.value.msg and CANARY not in err.value.msg
    assert len(states(server)) == EXPIRED + LIVE - 2 * 400


def test_bad_names_missing_table_or_column_and_wrong_type_are_named(server, table, run_dir):
    before = states(server)
    hostile, out1 = run(run_dir, server, dict(state="cleaned", table="oauth_states; DROP TABLE oauth_states"))
    assert hostile["failed"] and "table 'oauth_states; DROP TABLE oauth_states': use letters, digits and _" in hostile["msg"]
    quoted, out2 = run(run_dir, server, dict(state="cleaned", expires_column="expires_at` < NOW() OR 1=1 -- "))
    assert quoted["failed"] and "expires_column" in quoted["msg"]
    missing, out3 = run(run_dir, server, dict(state="cleaned", table="oauth_state"))
    assert missing["failed"] and "table oauth_state does not exist in database connectorMCP" in missing["msg"]
    no_column, out4 = run(run_dir, server, dict(state="cleaned", expires_column="expiry"))
    assert no_column["failed"] and "has no column expiry" in no_column["msg"]
    not_time, out5 = run(run_dir, server, dict(state="cleaned", expires_column="user_id"))
    assert not_time["failed"] and "is int, not a date/time type" in not_time["msg"]
    no_db, out6 = run(run_dir, server, dict(state="cleaned", login_db=""))
    assert no_db["failed"] and "login_db is required" in no_db["msg"]
    bad_batch, out7 = run(run_dir, server, dict(state="cleaned", batch_size=0))
    assert bad_batch["failed"] and "batch_size" in bad_batch["msg"]
    info_hostile, out8 = run(run_dir, server, dict(table="oauth_states; DROP TABLE oauth_states"), module=INFO)
    assert info_hostile["failed"] and "use letters, digits and _" in info_hostile["msg"]
    assert states(server) == before
    assert_no_canary(run_dir, out1, out2, out3, out4, out5, out6, out7, out8)


def test_wrong_password_is_named_and_never_shown(server, run_dir):
    result, out = run(run_dir, server, {}, password=CANARY + "-wrong", module=INFO)
    assert result["failed"] and "(1045) Access denied for user 'connectormcp'" in result["msg"]
    assert "database connectorMCP" in result["msg"]
    assert_no_canary(run_dir, out)


def test_missing_driver_says_which_library(server, run_dir, monkeypatch):
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        pytest.skip("%s is missing: no interpreter without PyMySQL to run the module with" % python)
    if subprocess.run([python, "-c", "import pymysql"], capture_output=True).returncode == 0:
        pytest.skip("%s has PyMySQL: no interpreter without it to run the module with" % python)
    monkeypatch.setattr(sys, "executable", python)  # run() hands sys.executable to Ansible as the interpreter
    result, out = run(run_dir, server, {}, module=INFO)
    assert result["failed"] and "Failed to import the required Python library (PyMySQL)" in result["msg"]
    assert_no_canary(run_dir, out)
