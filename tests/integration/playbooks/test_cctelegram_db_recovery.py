"""cctelegram-db-recovery.yml end to end with ansible-playbook against a private PostgreSQL cluster (pg_testbed):
the service's database `cctelegram` (role `cctelegram`) with a table and an index, and real client sessions.

- VACUUM ANALYZE really ran (pg_stat_user_tables.last_vacuum / last_analyze set); REINDEX runs only with
  reindex=true and its confirmation (the index's relfilenode changes), never without;
- the pool reset terminates the idle sessions of the service's role on its database, and no other session (another
  role's, the service's on another database, the service's active one);
- --check changes nothing: every session stays, no vacuum, no reindex;
- no password in any output or file.
"""

import os
import subprocess
from pathlib import Path

import pytest

from pg_testbed import (  # noqa: F401 (cluster, sessions, run_dir are fixtures)
    cluster,
    run_dir,
    sessions,
    BIN,
    PASSWORDS,
    REPO,
    ansible_env,
    assert_no_canary,
    live_pids,
)

PLAYBOOK = "playbooks/cctelegram-db-recovery.yml"


@pytest.fixture(scope="module")
def service_db(cluster):
    """Role cctelegram (socket login) owning database cctelegram: a table with rows and an index."""
    with cluster.admin() as admin:
        admin.execute("CREATE ROLE cctelegram LOGIN")
        admin.execute("CREATE DATABASE cctelegram OWNER cctelegram")
    with cluster.admin("cctelegram") as db:
        db.execute("CREATE TABLE messages (id serial PRIMARY KEY, body text)")
        db.execute("CREATE INDEX messages_body ON messages (body)")
        db.execute("INSERT INTO messages (body) SELECT 'm' || g FROM generate_series(1, 500) g")
        db.execute("DELETE FROM messages WHERE id % 2 = 0")
    return cluster


def stats(cluster):
    """(last_vacuum, last_analyze) of messages by hand, and the index's relfilenode (new after a REINDEX)."""
    with cluster.admin("cctelegram") as db:
        vac = db.execute("SELECT last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = 'messages'").fetchone()
        node = db.execute("SELECT relfilenode FROM pg_class WHERE relname = 'messages_body'").fetchone()[0]
    return vac, node


def playbook(run_dir, cluster, *args):
    env = ansible_env(run_dir)
    env["MCPOPS_LAB_DIR"] = str(Path(run_dir) / "no-lab")
    path = Path(run_dir) / "vars-pg.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write('{"pg_login_host": "127.0.0.1", "pg_login_port": %d, "pg_login_user": "dba", '
                     '"pg_login_password": "%s", "pg_login_db": "postgres"}' % (cluster.port, PASSWORDS["dba"]))
    cmd = [str(BIN / "ansible-playbook"), PLAYBOOK, "-i", "inventories/lab", "-e", "@%s" % path] + list(args)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    with open(Path(run_dir) / "output.txt", "a") as out:
        out.write(proc.stdout + proc.stderr)
    return proc


def open_incident(s):
    """Idle sessions of the service (to be reset) and what must survive: another role's, the service's on another
    database, the service's busy one."""
    s.open("svc_idle_1", user="cctelegram", db="cctelegram", app="cctelegram-mcp", tcp=False)
    s.open("svc_idle_2", user="cctelegram", db="cctelegram", app="cctelegram-mcp", tcp=False)
    s.open("svc_other_db", user="cctelegram", db="appdb", app="cctelegram-mcp", tcp=False)
    s.open("other_role", user="app", db="appdb", app="dashboard")
    s.active("svc_busy", user="cctelegram", db="cctelegram", app="cctelegram-mcp", tcp=False)
    return s.pids("svc_idle_1", "svc_idle_2"), s.pids("svc_other_db", "other_role", "svc_busy")


def test_check_mode_changes_nothing(service_db, sessions, run_dir):
    reset, kept = open_incident(sessions)
    before = stats(service_db)
    proc = playbook(run_dir, service_db, "--check", "-e", "reindex=true", "-e", "reindex_confirm=cctelegram")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert set(reset + kept) <= live_pids(service_db)
    assert stats(service_db) == before
    assert "would terminate 2 idle session(s) of cctelegram on cctelegram" in " ".join(output.split())
    assert_no_canary(run_dir, output)


def test_reindex_is_refused_without_its_confirmation(service_db, sessions, run_dir):
    reset, kept = open_incident(sessions)
    before = stats(service_db)
    proc = playbook(run_dir, service_db, "-e", "reindex=true", "-e", "reindex_confirm=otherdb")
    assert proc.returncode != 0
    assert "reindex=true needs reindex_confirm=\"cctelegram\"" in " ".join((proc.stdout + proc.stderr).split())
    assert set(reset + kept) <= live_pids(service_db) and stats(service_db) == before


def test_pool_reset_and_vacuum_analyze_without_reindex(service_db, sessions, run_dir):
    reset, kept = open_incident(sessions)
    (_vacuum, node_before) = stats(service_db)
    proc = playbook(run_dir, service_db)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    live = live_pids(service_db)
    assert not set(reset) & live, "the service's idle sessions on its database were not terminated"
    assert set(kept) <= live, "a session that is not the service's idle one on its database was terminated"
    (last_vacuum, last_analyze), node_after = stats(service_db)
    assert last_vacuum is not None and last_analyze is not None
    assert node_after == node_before  # no REINDEX without the flag
    flat = " ".join(output.split())
    assert "terminated 2 idle session(s) of cctelegram on cctelegram" in flat
    assert "VACUUM ANALYZE on cctelegram: done in" in flat and "REINDEX: not asked (reindex=false)" in flat
    assert_no_canary(run_dir, output)


def test_reindex_with_the_flag_and_its_confirmation(service_db, sessions, run_dir):
    (_vacuum, node_before) = stats(service_db)
    proc = playbook(run_dir, service_db, "-e", "reindex=true", "-e", "reindex_confirm=cctelegram",
                    "-e", "pool_reset=false", "-e", "vacuum_analyze=false")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert stats(service_db)[1] != node_before
    flat = " ".join(output.split())
    assert "REINDEX DATABASE cctelegram: done in" in flat and "Connection pool reset: skipped" in flat
