"""db-connection-exhaustion.yml and pg-backup-verify.yml end to end with ansible-playbook: a private PostgreSQL
cluster with real sessions and real dumps; the pool-size step against the local lab's gateway under supervisord."""

import gzip
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from loopback import free_port
from mcpops.lab.local.lab import LocalLab
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

EXHAUSTION = "playbooks/db-connection-exhaustion.yml"
VERIFY = "playbooks/pg-backup-verify.yml"
AGE = 6


def pg_vars(run_dir, cluster, **extra):
    """A 0600 extra-vars file: the inventory's pg_login_* (the password only ever in this file)."""
    path = Path(run_dir) / "vars-pg.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(dict(pg_login_host="127.0.0.1", pg_login_port=cluster.port, pg_login_user="dba",
                       pg_login_password=PASSWORDS["dba"], pg_login_db="postgres", **extra), handle)
    return path


def playbook(run_dir, cluster, name, *args, lab_dir=None, **extra):
    env = ansible_env(run_dir)
    env["MCPOPS_LAB_DIR"] = str(lab_dir or Path(run_dir) / "no-lab")
    cmd = [str(BIN / "ansible-playbook"), name, "-i", "inventories/lab", "-e", "@%s" % pg_vars(run_dir, cluster, **extra)]
    proc = subprocess.run(cmd + list(args), cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    with open(Path(run_dir) / "output.txt", "a") as out:
        out.write(proc.stdout + proc.stderr)
    return proc


def open_incident(s):
    """Old idle sessions of two users and two applications, plus what must survive step 3."""
    for i in (1, 2, 3):
        s.open("old_dash_%d" % i)
    s.open("old_report", user="report", app="reporter")
    s.open("old_report_other", user="report", db="otherdb", app="reporter")
    s.idle_in_transaction("tx")
    s.open("old_dba", user="dba")
    s.active("busy", user="report", app="reporter")
    time.sleep(AGE)
    s.open("young")
    s.keep_fresh("young")


OLD_IDLE = ("old_dash_1", "old_dash_2", "old_dash_3", "old_report", "old_report_other")


def test_exhaustion_check_mode_terminates_nothing(cluster, sessions, run_dir):
    open_incident(sessions)
    before = live_pids(cluster)
    proc = playbook(run_dir, cluster, EXHAUSTION, "--check", "-e", "idle_for=4s")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Check mode: would terminate 5 sessions" in proc.stdout
    assert live_pids(cluster) == before
    assert_no_canary(run_dir, proc.stdout, proc.stderr)


def test_exhaustion_terminates_exactly_the_old_idle_sessions_and_reports(cluster, sessions, run_dir):
    open_incident(sessions)
    before = live_pids(cluster)
    proc = playbook(run_dir, cluster, EXHAUSTION, "-e", "idle_for=4s", "-e", '{"exclude_users": ["nobody"]}')
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert live_pids(cluster) == before - set(sessions.pids(*OLD_IDLE))
    for step in ("Step 1: Check connection count", "Step 2: Identify connection sources", "Step 3: Kill idle connections",
                 "Step 5: Check connection count again", "Step 5: Report before and after"):
        assert step in proc.stdout
    assert "Terminated 5 sessions" in proc.stdout
    assert "DB_POOL_SIZE: not changed (no pool_size given)" in proc.stdout
    again = playbook(run_dir, cluster, EXHAUSTION, "-e", "idle_for=4s")
    assert again.returncode == 0 and "Terminated 0 sessions" in again.stdout
    assert_no_canary(run_dir, proc.stdout, proc.stderr, again.stdout)


def test_exhaustion_refuses_bad_extra_vars(cluster, sessions, run_dir):
    open_incident(sessions)
    before = live_pids(cluster)
    proc = playbook(run_dir, cluster, EXHAUSTION, "-e", "idle_for=0; DROP")
    assert proc.returncode != 0 and "Bad input: idle_for" in proc.stdout
    assert live_pids(cluster) == before


@pytest.fixture
def lab(tmp_path):
    lab = LocalLab(tmp_path / "lab", listen="127.0.0.1:%d" % free_port())
    lab.up()
    yield lab
    lab.down()


def test_exhaustion_raises_db_pool_size_through_the_env_file_and_restart(cluster, lab, run_dir):
    lab.env_file.write_text("ODATA_PASSWORD_PROD=keep-me\nexport DB_POOL_SIZE=10\n")
    pid_before = lab.gateway_pid()

    check = playbook(run_dir, cluster, EXHAUSTION, "--check", "--diff", "-e", "pool_size=30", "-e", "idle_for=1h", lab_dir=lab.state_dir)
    assert check.returncode == 0, check.stdout[-3000:]
    assert "DB_POOL_SIZE: 10 -> 30 (restarted) - check mode: nothing written or restarted" in check.stdout
    assert "keep-me" not in check.stdout  # no diff of the env file: it holds secrets
    assert lab.env_file.read_text() == "ODATA_PASSWORD_PROD=keep-me\nexport DB_POOL_SIZE=10\n"
    assert lab.gateway_pid() == pid_before

    done = playbook(run_dir, cluster, EXHAUSTION, "-e", "pool_size=30", "-e", "idle_for=1h", lab_dir=lab.state_dir)
    assert done.returncode == 0, done.stdout[-3000:]
    assert lab.env_file.read_text() == "ODATA_PASSWORD_PROD=keep-me\nDB_POOL_SIZE=30\n"
    assert oct(lab.env_file.stat().st_mode & 0o777) == "0o600"
    pid_after = lab.gateway_pid()
    assert pid_after and pid_after != pid_before and lab.status()["healthy"]
    assert "DB_POOL_SIZE: 10 -> 30 (restarted)" in done.stdout

    again = playbook(run_dir, cluster, EXHAUSTION, "-e", "pool_size=30", "-e", "idle_for=1h", lab_dir=lab.state_dir)
    assert again.returncode == 0 and "DB_POOL_SIZE: 30 -> 30 (already set: no restart)" in again.stdout
    assert lab.gateway_pid() == pid_after
    assert "keep-me" not in done.stdout + again.stdout


# -- backup verification ----------------------------------------------------------------


@pytest.fixture(scope="module")
def dumps(cluster, tmp_path_factory):
    """A gateway database and its dumps: good (custom and .sql.gz), truncated (both), one without a key table."""
    with cluster.admin() as admin:
        admin.execute("CREATE DATABASE gateway")
    cluster.psql("CREATE TABLE tokens (id int PRIMARY KEY, prefix text);"
                 "INSERT INTO tokens SELECT g, 'mcp_' || g FROM generate_series(1, 5000) g;"
                 "CREATE TABLE audit_events (id bigserial PRIMARY KEY, event text);"
                 "INSERT INTO audit_events (event) SELECT md5(g::text) FROM generate_series(1, 20000) g;"
                 "CREATE TABLE empty_one (x int);", dbname="gateway")
    out = tmp_path_factory.mktemp("dumps")
    env = dict(os.environ, PGHOST=cluster.dir, PGPORT=str(cluster.port), PGUSER="postgres")
    pg_dump = os.path.join(cluster.bindir, "pg_dump")

    def dump(name, *args):
        subprocess.run([pg_dump, *args, "-f", str(out / name), "gateway"], env=env, check=True)
        return out / name

    good = dump("good.dump", "-Fc")
    dump("missing-table.dump", "-Fc", "-T", "audit_events")
    plain = dump("backup_20240101.sql")
    with open(plain, "rb") as src, gzip.open(out / "backup_20240101.sql.gz", "wb") as dst:
        dst.write(src.read())
    plain.unlink()
    data = good.read_bytes()
    (out / "truncated.dump").write_bytes(data[: len(data) * 2 // 3])
    packed = (out / "backup_20240101.sql.gz").read_bytes()
    (out / "truncated.sql.gz").write_bytes(packed[: len(packed) // 2])
    return out


def verify(run_dir, cluster, backups, *args, key_tables=("tokens", "audit_events")):
    log = Path(run_dir) / "verification.jsonl"
    proc = playbook(run_dir, cluster, VERIFY, "-e", json.dumps({"backups_dir": str(backups), "key_tables": list(key_tables),
                                                                 "verification_log": str(log)}), *args)
    lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, lines


def scratch_databases(cluster):
    with cluster.admin() as admin:
        return [r[0] for r in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'mcpops_verify_%'")]


def only(backups, tmp_path, *names):
    """A backups dir holding only these dumps (so that "the newest" is well defined)."""
    target = tmp_path / "backups"
    target.mkdir()
    for i, name in enumerate(names):
        (target / name).write_bytes((backups / name).read_bytes())
        os.utime(target / name, (1_700_000_000 + i, 1_700_000_000 + i))
    return target


def test_verify_good_custom_dump_logs_size_time_duration_and_counts(cluster, dumps, run_dir, tmp_path):
    backups = only(dumps, tmp_path, "truncated.dump", "good.dump")  # good.dump is the newest
    proc, lines = verify(run_dir, cluster, backups)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert len(lines) == 1
    line = lines[0]
    assert line["result"] == "ok" and line["dump"] == str(backups / "good.dump") and line["kind"] == "custom"
    assert line["row_counts"] == {"public.tokens": 5000, "public.audit_events": 20000}
    assert line["size_bytes"] == (backups / "good.dump").stat().st_size and line["modified"] == "2023-11-14T22:13:21Z"
    assert line["duration_seconds"] > 0 and line["checked_at"].endswith("Z") and line["error"] is None
    assert scratch_databases(cluster) == []
    assert_no_canary(run_dir, proc.stdout, proc.stderr)


def test_verify_good_sql_gz_dump(cluster, dumps, run_dir, tmp_path):
    backups = only(dumps, tmp_path, "backup_20240101.sql.gz")
    proc, lines = verify(run_dir, cluster, backups, "-e", "backup_file=backup_20240101.sql.gz")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert lines[0]["result"] == "ok" and lines[0]["kind"] == "plain.gz"
    assert lines[0]["row_counts"] == {"public.tokens": 5000, "public.audit_events": 20000}
    assert scratch_databases(cluster) == []


def test_verify_truncated_custom_dump_fails_naming_it(cluster, dumps, run_dir, tmp_path):
    backups = only(dumps, tmp_path, "good.dump", "truncated.dump")
    proc, lines = verify(run_dir, cluster, backups)
    assert proc.returncode != 0
    assert "Backup verification FAILED" in proc.stdout and "could not read from input file: end of file" in proc.stdout
    assert lines[0]["result"] == "failed" and lines[0]["stage"] == "restore" and lines[0]["dump"].endswith("truncated.dump")
    assert "end of file" in lines[0]["error"]
    assert scratch_databases(cluster) == []


def test_verify_truncated_sql_gz_fails_at_integrity(cluster, dumps, run_dir, tmp_path):
    backups = only(dumps, tmp_path, "truncated.sql.gz")
    proc, lines = verify(run_dir, cluster, backups)
    assert proc.returncode != 0 and "does not decompress to its end" in proc.stdout
    assert lines[0]["result"] == "failed" and lines[0]["stage"] == "integrity"


def test_verify_dump_missing_a_key_table_fails_naming_the_table(cluster, dumps, run_dir, tmp_path):
    backups = only(dumps, tmp_path, "missing-table.dump")
    proc, lines = verify(run_dir, cluster, backups)
    assert proc.returncode != 0 and "key table(s) public.audit_events not in the dump" in proc.stdout
    assert lines[0]["result"] == "failed" and lines[0]["stage"] == "integrity"
    assert "public.audit_events" in lines[0]["error"]


def test_verify_empty_key_table_fails_the_row_count(cluster, dumps, run_dir, tmp_path):
    backups = only(dumps, tmp_path, "good.dump")
    proc, lines = verify(run_dir, cluster, backups, key_tables=("tokens", "empty_one"))
    assert proc.returncode != 0 and "public.empty_one (0)" in proc.stdout
    assert lines[0]["stage"] == "sanity" and scratch_databases(cluster) == []


def test_verify_check_mode_restores_and_logs_nothing(cluster, dumps, run_dir, tmp_path):
    backups = only(dumps, tmp_path, "good.dump")
    proc, lines = verify(run_dir, cluster, backups, "--check")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Check mode: integrity ok" in proc.stdout and lines == []
    assert scratch_databases(cluster) == []


def test_verify_no_dump_is_a_clear_failure(cluster, dumps, run_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc, lines = verify(run_dir, cluster, empty)
    assert proc.returncode != 0 and "No dump at all in %s" % empty in proc.stdout
    assert lines[0]["result"] == "failed" and lines[0]["dump"] is None
