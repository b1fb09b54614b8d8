"""mysql_connections through ansible-playbook against a private MariaDB (mcpops.lab.fixtures.mariadb_server, one
for this file, 127.0.0.1 on a free port) with real client sessions opened by the test: idle ones of two ages, a
session bound to 127.0.0.2, a long query, users app, report, a user whose name holds a quote, a login without the
right to kill others' sessions. Every test reads the processlist before and after and asserts that exactly the
intended sessions are gone; every password holds a canary that must never appear in output or files."""

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymysql
import pytest
import yaml

from loopback import free_port
from mcpops.lab.fixtures.mariadb_server import MariaDbServer

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
MODULE = "mcpops.runbooks.mysql_connections"
INFO = "mcpops.runbooks.mysql_connections_info"
CANARY = "canary-my-" + secrets.token_hex(6)
QUOTED_USER = "o'brien"
PASSWORDS = {"dba": CANARY + "-dba", "app": CANARY + "-app", "report": CANARY + "-report",
             "weak": CANARY + "-weak", QUOTED_USER: CANARY + "-quoted"}
AGE = 6  # seconds the "old" sessions sit idle before a test runs; idle_for below is smaller
IDLE_FOR = "4s"

pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook not in the venv")


def wait_for(check, what, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


@pytest.fixture(scope="module")
def server():
    srv = MariaDbServer(free_port()).start()
    try:
        conn = srv.admin()
        with conn.cursor() as cur:
            for db in ("appdb", "otherdb"):
                cur.execute("CREATE DATABASE %s" % db)
            for user, password in PASSWORDS.items():
                cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO dba@'%' WITH GRANT OPTION")
            cur.execute("GRANT PROCESS ON *.* TO weak@'%'")
            for user in ("app", "report", QUOTED_USER):
                cur.execute("GRANT ALL PRIVILEGES ON appdb.* TO %s@'%%'", (user,))
                cur.execute("GRANT ALL PRIVILEGES ON otherdb.* TO %s@'%%'", (user,))
        conn.close()
    except Exception:
        srv.stop()
        raise
    yield srv
    srv.stop()


def processlist(server):
    """{id: row} of every session but the admin connection asking."""
    conn = server.admin()
    try:
        with conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute("SELECT ID, USER, HOST, DB, COMMAND, TIME FROM information_schema.PROCESSLIST "
                        "WHERE ID <> CONNECTION_ID()")
            return dict((r["ID"], r) for r in cur.fetchall())
    finally:
        conn.close()


def live_ids(server):
    return set(processlist(server))


class Sessions:
    """Client sessions the test opens and names, closed at the end; `fresh` ones are kept young by a heartbeat."""

    def __init__(self, server):
        self.server = server
        self.conns = {}
        self.ids = {}
        self.fresh = []
        self.threads = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self._beat = None

    def open(self, name, user="app", db="appdb", bind="127.0.0.1"):
        conn = pymysql.connect(host="127.0.0.1", port=self.server.port, user=user, password=PASSWORDS[user],
                               database=db, bind_address=bind, autocommit=True, connect_timeout=30)
        self.conns[name] = conn
        self.ids[name] = conn.thread_id()
        return conn

    def id(self, name):
        return self.ids[name]

    def id_list(self, *names):
        return sorted(self.id(n) for n in names)

    def active(self, name, sql="SELECT SLEEP(600)", **kw):
        """A session busy with a long query, run in a thread (it ends when the query or session is killed)."""
        conn = self.open(name, **kw)

        def run():
            try:
                with conn.cursor() as cur:
                    cur.execute(sql)
            except Exception:
                pass

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)
        wait_for(lambda: (processlist(self.server).get(self.id(name)) or {}).get("COMMAND") == "Query",
                 "session %s running its query" % name)
        return conn

    def keep_fresh(self, *names):
        """Every 0.2 s a `SELECT 1` on these sessions, so their TIME stays 0."""
        self.fresh.extend(names)
        if self._beat is not None:
            return

        def beat():
            while not self.stop.wait(0.2):
                for name in list(self.fresh):
                    try:
                        with self.conns[name].cursor() as cur:
                            cur.execute("SELECT 1")
                    except Exception:
                        pass

        self._beat = threading.Thread(target=beat, daemon=True)
        self._beat.start()

    def age(self, *names, seconds=AGE):
        """Wait until these sessions have been idle at least `seconds` by the server's own count."""
        ids = set(self.id_list(*names))
        wait_for(lambda: all(r["TIME"] >= seconds for i, r in processlist(self.server).items() if i in ids),
                 "sessions %s idle %d s" % (", ".join(names), seconds))

    def close(self):
        self.stop.set()
        if self._beat is not None:
            self._beat.join(timeout=30)
        conn = self.server.admin()
        try:
            with conn.cursor() as cur:
                for ident in set(self.ids.values()) & live_ids(self.server):
                    try:
                        cur.execute("KILL %s", (ident,))  # ends the long queries of the active sessions now
                    except pymysql.MySQLError:
                        pass
        finally:
            conn.close()
        for thread in self.threads:
            thread.join(timeout=30)
        for conn in self.conns.values():
            try:
                conn.close()
            except Exception:
                pass
        mine = set(self.ids.values())
        wait_for(lambda: not (live_ids(self.server) & mine), "the test's sessions to end")


@pytest.fixture
def sessions(server):
    opened = Sessions(server)
    yield opened
    opened.close()


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


def run_play(run_dir, args, password, check=False, diff=False, python=None, module=MODULE):
    """(task result, full output) of ansible-playbook running the module once; the password from a 0600 vars file."""
    play = [{"hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": module.rsplit(".", 1)[-1], module: args}]}]
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
           "-e", "ansible_python_interpreter=%s" % (python or sys.executable), "-e", "@%s" % vars_path]
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


def run(run_dir, server, args, user="dba", password=None, **kw):
    full = dict(dict(login_host="127.0.0.1", login_port=server.port, login_user=user,
                     login_password="{{ mysql_password }}"), **args)
    if kw.get("module", MODULE) == MODULE:
        full.setdefault("wait_timeout", 60)
    return run_play(run_dir, full, PASSWORDS[user] if password is None else password, **kw)


def ids(result):
    return sorted(r["id"] for r in result["sessions"])


def open_mix(s):
    """The sessions of a connection exhaustion: old idle ones aged AGE seconds, young ones kept fresh."""
    for i in (1, 2, 3):
        s.open("old_app_%d" % i)                                # app @ appdb from 127.0.0.1, Sleep
    s.open("old_app_far", bind="127.0.0.2")                     # the same from another client address
    s.open("old_report_1", user="report")
    s.open("old_report_2", user="report", db="otherdb")
    s.age("old_app_1", "old_app_2", "old_app_3", "old_app_far", "old_report_1", "old_report_2")
    s.open("young_app_1")
    s.open("young_app_2")
    s.keep_fresh("young_app_1", "young_app_2")


def test_check_mode_lists_then_kill_takes_exactly_the_old_idle_app_sessions(server, sessions, run_dir):
    open_mix(sessions)
    expected = sessions.id_list("old_app_1", "old_app_2", "old_app_3", "old_app_far")
    args = dict(state="killed", commands=["Sleep"], idle_for=IDLE_FOR, users=["app"])
    before = live_ids(server)

    checked, out1 = run(run_dir, server, args, check=True, diff=True)
    assert checked["changed"] is True and not checked.get("failed"), checked
    assert ids(checked) == expected and checked["gone"] == 0
    assert live_ids(server) == before, "check mode killed something"
    assert "matching: 4" in checked["diff"]["before"] and "matching: 0" in checked["diff"]["after"]

    done, out2 = run(run_dir, server, args, diff=True)
    assert done["changed"] is True and not done.get("failed"), done
    assert ids(done) == expected
    assert done["survived"] == [] and done["refused"] == [] and done["gone"] == 4
    assert live_ids(server) == before - set(expected)
    far = [r for r in done["sessions"] if r["id"] == sessions.id("old_app_far")][0]
    assert far["host"] == "127.0.0.2" and far["user"] == "app" and far["db"] == "appdb" and far["command"] == "Sleep"
    assert all(r["time"] >= 4 for r in done["sessions"])
    assert [r["time"] for r in done["sessions"]] == sorted((r["time"] for r in done["sessions"]), reverse=True)
    assert "matching: 0" in done["diff"]["after"]

    again, out3 = run(run_dir, server, args)
    assert again["changed"] is False and again["sessions"] == [] and not again.get("failed")
    assert_no_canary(run_dir, out1, out2, out3)


def test_host_database_exclude_and_limit_filters(server, sessions, run_dir):
    open_mix(sessions)
    before = live_ids(server)

    far, _ = run(run_dir, server, dict(state="killed", hosts=["127.0.0.2"]))
    assert ids(far) == sessions.id_list("old_app_far")
    assert live_ids(server) == before - {sessions.id("old_app_far")}

    other, _ = run(run_dir, server, dict(state="killed", users=["report"], databases=["otherdb"]))
    assert ids(other) == sessions.id_list("old_report_2")

    nothing, _ = run(run_dir, server, dict(state="killed", hosts=["10.0.0.7", "::1"], databases=["nodb"]))
    assert nothing["changed"] is False and nothing["sessions"] == []

    excluded, _ = run(run_dir, server, dict(state="killed", commands=["Sleep"], idle_for=IDLE_FOR,
                                            exclude_users=["app", "dba"]), check=True)
    assert ids(excluded) == sessions.id_list("old_report_1")

    limited, _ = run(run_dir, server, dict(state="killed", commands=["Sleep"], idle_for=IDLE_FOR, users=["app"], limit=1))
    old_app = set(sessions.id_list("old_app_1", "old_app_2", "old_app_3"))
    assert len(limited["sessions"]) == 1 and set(ids(limited)) <= old_app
    gone = {sessions.id("old_app_far"), sessions.id("old_report_2")} | set(ids(limited))
    assert live_ids(server) == before - gone


def test_query_killed_stops_the_query_and_keeps_the_session(server, sessions, run_dir):
    open_mix(sessions)
    sessions.active("busy_report", user="report", db="otherdb")
    busy = sessions.id("busy_report")
    before = live_ids(server)

    done, _ = run(run_dir, server, dict(state="query_killed", users=["report"]))
    assert ids(done) == [busy] and done["survived"] == [] and done["sessions"][0]["command"] == "Query"
    assert live_ids(server) == before  # the query was stopped, no session was closed
    wait_for(lambda: processlist(server)[busy]["COMMAND"] == "Sleep", "the killed query's session to be idle")

    again, _ = run(run_dir, server, dict(state="query_killed", users=["report"]))
    assert again["changed"] is False and again["sessions"] == []


def test_hostile_filter_values_only_filter(server, sessions, run_dir):
    admin = server.admin("appdb")
    with admin.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS t (x int)")
        cur.execute("INSERT INTO t VALUES (1)")
    admin.close()
    open_mix(sessions)
    sessions.open("quoted", user=QUOTED_USER)
    before = live_ids(server)

    hostile = ["' OR 1=1 --", "x'; DROP TABLE t; --", "app' /* */ OR '1'='1", "/* */", "app\\' OR 1=1 #", "%s",
               '"; DROP DATABASE appdb; --', "ünïcødé 🚀", "app; KILL 1"]
    for option in ("users", "hosts", "databases"):
        result, out = run(run_dir, server, {"state": "killed", option: hostile})
        assert not result.get("failed"), result
        assert result["changed"] is False and result["sessions"] == [], (option, result)
        assert live_ids(server) == before
        assert_no_canary(run_dir, out)
    mixed, _ = run(run_dir, server, dict(state="killed", users=hostile, exclude_users=hostile, databases=hostile))
    assert mixed["sessions"] == []

    quoted, _ = run(run_dir, server, dict(state="killed", users=[QUOTED_USER]))
    assert ids(quoted) == sessions.id_list("quoted") and quoted["sessions"][0]["user"] == QUOTED_USER
    assert live_ids(server) == before - {sessions.id("quoted")}

    admin = server.admin("appdb")
    with admin.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM t")
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('appdb', 'otherdb')")
        assert cur.fetchone()[0] == 2
    admin.close()


def test_guards_never_own_connection_nor_the_event_scheduler(server, sessions, run_dir):
    admin = server.admin()
    with admin.cursor() as cur:
        cur.execute("SET GLOBAL event_scheduler = ON")
    admin.close()
    try:
        wait_for(lambda: any(r["USER"] == "event_scheduler" for r in processlist(server).values()), "the event scheduler")
        scheduler = [i for i, r in processlist(server).items() if r["USER"] == "event_scheduler"]
        sessions.open("victim")
        refused, _ = run(run_dir, server, dict(state="killed", exclude_users=["dba"], limit=5))
        assert refused["failed"] and "refused: no filter" in refused["msg"] and "all_matching" in refused["msg"]
        assert sessions.id("victim") in live_ids(server)

        every, _ = run(run_dir, server, dict(state="killed", all_matching=True, exclude_users=["root"]))
        assert not every.get("failed"), every
        assert sessions.id("victim") in ids(every)
        assert all(r["user"] not in ("event_scheduler", "system user", "root") for r in every["sessions"])
        assert all(r["user"] != "dba" for r in every["sessions"])  # the module's own connection is dba's only one
        assert set(scheduler) <= live_ids(server)
    finally:
        admin = server.admin()
        with admin.cursor() as cur:
            cur.execute("SET GLOBAL event_scheduler = OFF")
        admin.close()


def test_info_counts_and_longest_idle(server, sessions, run_dir):
    open_mix(sessions)
    sessions.active("busy_report", user="report", db="otherdb")
    live = processlist(server)

    info, out = run(run_dir, server, {}, check=True, diff=True, module=INFO)  # check mode reads as a real run does
    assert info["changed"] is False and not info.get("failed"), info
    assert info["max_connections"] == 200
    assert info["threads_connected"] >= len(live) + 1
    assert info["percent_used"] == round(100.0 * info["threads_connected"] / 200, 1)
    assert info["available"] == 200 - info["threads_connected"]
    assert info["max_used_connections"] >= info["threads_connected"]
    counts = {k: dict((g["name"], g["count"]) for g in info[k]) for k in ("by_user", "by_host", "by_command", "by_database")}
    assert counts["by_user"]["app"] == 6 and counts["by_user"]["report"] == 3 and counts["by_user"]["dba"] == 1
    assert counts["by_host"]["127.0.0.2"] == 1 and counts["by_host"]["127.0.0.1"] >= 9  # no port in a host
    assert counts["by_command"]["Query"] >= 2 and counts["by_command"]["Sleep"] >= 6  # busy + ours; the old idle ones
    assert counts["by_database"]["otherdb"] == 2
    oldest = set(sessions.id_list("old_app_1", "old_app_2", "old_app_3", "old_app_far", "old_report_1", "old_report_2"))
    assert len(info["longest_idle"]) == 5 and set(r["id"] for r in info["longest_idle"]) <= oldest
    assert sessions.id("busy_report") in [r["id"] for r in info["longest_running"]]
    assert all(set(r) == {"id", "user", "host", "db", "command", "time", "state"} for r in info["longest_running"])
    assert "SLEEP(600)" not in out  # no query text, ever
    assert live_ids(server) >= set(live) - {None}
    assert_no_canary(run_dir, out)


def test_refusals_before_anything_is_touched(server, sessions, run_dir):
    open_mix(sessions)
    before = live_ids(server)
    bad_age, out1 = run(run_dir, server, dict(state="killed", idle_for="ten minutes"))
    assert bad_age["failed"] and "idle_for" in bad_age["msg"]
    with_port, out2 = run(run_dir, server, dict(state="killed", hosts=["127.0.0.1:3306"]))
    assert with_port["failed"] and "without its port" in with_port["msg"]
    bad_limit, out3 = run(run_dir, server, dict(state="killed", users=["app"], limit=0))
    assert bad_limit["failed"] and "limit" in bad_limit["msg"]
    bad_command, out4 = run(run_dir, server, dict(state="killed", commands=["Daemon"]))
    assert bad_command["failed"] and "Daemon" in bad_command["msg"]
    assert live_ids(server) == before
    assert_no_canary(run_dir, out1, out2, out3, out4)


def test_kill_refused_by_the_server_is_named(server, sessions, run_dir):
    open_mix(sessions)
    before = live_ids(server)
    result, out = run(run_dir, server, dict(state="killed", users=["report"]), user="weak")
    assert result["failed"]
    assert "refused to kill 2 of 2" in result["msg"] and "CONNECTION ADMIN" in result["msg"]
    assert sorted(r["id"] for r in result["refused"]) == sessions.id_list("old_report_1", "old_report_2")
    assert live_ids(server) == before
    assert_no_canary(run_dir, out)


def test_unreachable_server_is_named(server, run_dir):
    port = free_port()
    result, out = run(run_dir, server, dict(login_port=port), module=INFO)
    assert result["failed"]
    assert "could not connect as user dba at 127.0.0.1:%d" % port in result["msg"]
    assert "mariadb-admin" in result["msg"]
    assert_no_canary(run_dir, out)


def test_wrong_password_is_named_and_never_shown(server, run_dir):
    result, out = run(run_dir, server, {}, user="app", password=CANARY + "-wrong", module=INFO)
    assert result["failed"]
    assert "(1045) Access denied for user 'app'@'127.0.0.1'" in result["msg"]
    assert "check login_password for user app" in result["msg"]
    assert_no_canary(run_dir, out)


def test_missing_driver_says_which_library(server, run_dir):
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        pytest.skip("%s is missing: no interpreter without PyMySQL to run the module with" % python)
    if subprocess.run([python, "-c", "import pymysql"], capture_output=True).returncode == 0:
        pytest.skip("%s has PyMySQL: no interpreter without it to run the module with" % python)
    result, out = run(run_dir, server, {}, python=python, module=INFO)
    assert result["failed"]
    assert "Failed to import the required Python library (PyMySQL)" in result["msg"]
    assert "delegate_to" in result["msg"]
    assert_no_canary(run_dir, out)
