"""What the PostgreSQL tests share: a private cluster with test roles and databases, real client sessions
opened by the test, and the modules run through Ansible.

Roles: `app` and `report` (ordinary, password logins), `dba` (a superuser login), each password holding the
canary CANARY so that a test can check no password ever appears in output or files. Databases: appdb, otherdb.
"""

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from loopback import free_port
from mcpops.lab.fixtures.pg_cluster import PgCluster

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CANARY = "canary-pw-" + secrets.token_hex(6)
PASSWORDS = {"app": CANARY + "-app", "report": CANARY + "-report", "dba": CANARY + "-dba"}


def start_cluster():
    cluster = PgCluster(free_port(), max_connections=200).start()
    try:
        with cluster.admin() as admin:
            admin.execute("CREATE ROLE app LOGIN PASSWORD '%s'" % PASSWORDS["app"])
            admin.execute("CREATE ROLE report LOGIN PASSWORD '%s'" % PASSWORDS["report"])
            admin.execute("CREATE ROLE dba LOGIN SUPERUSER PASSWORD '%s'" % PASSWORDS["dba"])
            admin.execute("CREATE DATABASE appdb OWNER app")
            admin.execute("CREATE DATABASE otherdb OWNER report")
    except Exception:
        cluster.stop()
        raise
    return cluster


def login(cluster, user="dba"):
    """The module's connection options (TCP, password) as `user`; the password comes from an extra var."""
    return dict(login_host="127.0.0.1", login_port=cluster.port, login_user=user, login_db="postgres",
                login_password="{{ pg_password }}")


class Sessions:
    """Client sessions the test opens and names, closed at the end; `fresh` ones are kept young by a heartbeat."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.conns = {}
        self.opened = {}  # name -> backend pid, recorded at connect
        self.fresh = []
        self.threads = []
        self.stop = threading.Event()
        self._beat = None

    def open(self, name, user="app", db="appdb", app="dashboard", tcp=True):
        params = self.cluster.dsn(user=user, dbname=db, password=PASSWORDS.get(user), tcp=tcp)
        if not tcp:
            params["user"] = user  # socket logins are trusted
        conn = psycopg.connect(autocommit=True, application_name=app, **params)
        self.conns[name] = conn
        self.opened[name] = conn.info.backend_pid
        return conn

    def pid(self, name):
        return self.opened[name]

    def pids(self, *names):
        return sorted(self.pid(n) for n in names)

    def idle_in_transaction(self, name, **kw):
        conn = self.open(name, **kw)
        conn.autocommit = False
        conn.execute("SELECT 1")  # a transaction is open and idle now
        return conn

    def active(self, name, sql="SELECT pg_sleep(600)", **kw):
        """A session busy with a long query, run in a thread (it ends when the query is cancelled or killed)."""
        conn = self.open(name, **kw)

        def run():
            try:
                conn.execute(sql)
            except psycopg.Error:
                pass

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)
        wait_for(lambda: self.state(self.pid(name)) == "active", "session %s active" % name)
        return conn

    def keep_fresh(self, *names):
        """Every 0.2 s a `SELECT 1` on these sessions, so their state_change stays recent."""
        self.fresh.extend(names)
        if self._beat is not None:
            return

        def beat():
            while not self.stop.wait(0.2):
                for name in list(self.fresh):
                    try:
                        self.conns[name].execute("SELECT 1")
                    except psycopg.Error:
                        pass

        self._beat = threading.Thread(target=beat, daemon=True)
        self._beat.start()

    def state(self, pid):
        with self.cluster.admin() as admin:
            row = admin.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        return row[0] if row else None

    def close(self):
        """Close every session and wait until their backends are gone (the next test counts sessions)."""
        # A psycopg connection must not be closed while another thread is inside libpq on it (closing frees
        # the PGconn under that thread: a segfault seen once in ten runs). So: stop the heartbeat and wait for
        # it, cancel the long queries (cancel is the one call made for another thread) and wait for their
        # threads, and only then close.
        self.stop.set()
        if self._beat is not None:
            self._beat.join(timeout=30)
        for conn in self.conns.values():
            try:
                conn.cancel()  # a long query ends now, not when pg_sleep does
            except Exception:
                pass
        for thread in self.threads:
            thread.join(timeout=30)
        stuck = [t for t in self.threads + [self._beat] if t is not None and t.is_alive()]
        assert not stuck, "a session thread is still inside a query after cancel: closing under it would crash"
        for conn in self.conns.values():
            try:
                conn.close()
            except Exception:
                pass
        mine = set(self.opened.values())
        wait_for(lambda: not (live_pids(self.cluster) & mine), "the test's sessions to end")


def live_pids(cluster):
    """Client backends in pg_stat_activity now (the admin connection asking excluded)."""
    with cluster.admin() as admin:
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
                             "AND pid <> pg_backend_pid()").fetchall()
    return set(r[0] for r in rows)


def wait_for(check, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def ansible_env(run_dir):
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOG_PATH=str(Path(run_dir) / "ansible.log"),
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        PATH="%s:%s" % (BIN, env.get("PATH", "")),
        no_proxy="127.0.0.1,localhost",
    )
    return env


def secret_vars(run_dir, password):
    """A 0600 extra-vars file holding the password (never on a command line)."""
    path = Path(run_dir) / ("vars-%s.json" % secrets.token_hex(4))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"pg_password": password}, handle)
    return path


def run_module(run_dir, module, args, password, check=False, python=None):
    """(result dict, full output) of `ansible localhost -m <module>` with the json callback."""
    env = ansible_env(run_dir)
    env.update(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    cmd = [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % (python or sys.executable),
           "-e", "@%s" % secret_vars(run_dir, password), "-m", module, "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    with open(Path(run_dir) / "output.txt", "a") as out:
        out.write(output)
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{"):])
        result = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("no result from %s (rc %d): %s" % (module, proc.returncode, output[-3000:]))
    return result, output


def assert_no_canary(run_dir, *texts):
    """No password of the test roles in any text given, nor in any file of run_dir but the vars files."""
    for text in texts:
        assert CANARY not in text
    for path in Path(run_dir).rglob("*"):
        if path.is_file() and not path.name.startswith("vars-"):
            assert CANARY not in path.read_text(errors="replace"), path


# -- fixtures the pg test files share (imported by name) -----------------------------------------


@pytest.fixture(scope="module")
def cluster():
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def sessions(cluster):
    opened = Sessions(cluster)
    yield opened
    opened.close()


@pytest.fixture
def run_dir(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    yield path
    assert_no_canary(path)
