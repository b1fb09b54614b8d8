#!/usr/bin/env python3
"""Figure: terminate 1,000 idle sessions, pg_connections through Ansible against the runbook's psql one-liner.

A private PostgreSQL cluster (mcpops.lab.fixtures.pg_cluster: initdb/pg_ctl, as `postgres` when root, 127.0.0.1 on a
free port, max_connections = --sessions + 100). Each round opens --sessions client sessions as role `app`
(application_name `bench`), runs one query on each and lets them sit idle for --age seconds (untimed). Then,
timed end to end:

  baseline  psql -X -q -h 127.0.0.1 -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE state = 'idle' AND query_start < now() - interval '<age-1> seconds'"
            (the runbook's step 3 with its interval shortened; password in PGPASSWORD)
  module    ansible-playbook <one task: mcpops.runbooks.pg_connections state=terminated states=[idle]
            idle_for=<age-1>s> (the password in a 0600 extra-vars file), which also waits until every
            session is gone from pg_stat_activity

For information a third side, `python`, runs the module's logic (module_utils._pg.pg_connections_run) in a
fresh Python process with no Ansible: what the module costs without its carrier.

After each side the script polls pg_stat_activity until the sessions are gone and prints that time too
(psql's one-liner returns as soon as the signals are sent). An untimed warm-up of each side comes first.
It prints the ratio of the medians (target: module within 2x of the one-liner) and Ansible's fixed cost (a
playbook with one debug task). A figure, not a test: it exits 0 whatever the numbers are.

    .venv/bin/python bench/pg_connections.py [--sessions 1000] [--rounds 3] [--age 3] [--json out.json]
"""

import argparse
import shutil
import tempfile
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
BIN = os.path.dirname(sys.executable)
TARGET = 2.0
APP_PASSWORD = "bench-app-password"

PLAY = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: Terminate idle sessions
      mcpops.runbooks.pg_connections:
        state: terminated
        states: [idle]
        idle_for: "{{ idle_for }}"
        login_host: 127.0.0.1
        login_port: "{{ port }}"
        login_user: postgres
        login_password: "{{ pg_password }}"
        wait_timeout: 120
      register: killed
    - name: Count
      ansible.builtin.debug:
        msg: "terminated {{ killed.count }} in {{ killed.elapsed_seconds }} s inside the module"
"""

NOOP = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: Nothing
      ansible.builtin.debug:
        msg: ansible start-up only
"""


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))


def open_sessions(cluster, count):
    import psycopg

    conns = []
    for _ in range(count):
        conn = psycopg.connect(autocommit=True, application_name="bench", **cluster.dsn(user="app", dbname="postgres"))
        conn.execute("SELECT 1")
        conns.append(conn)
    return conns


def bench_pids(cluster):
    with cluster.admin() as admin:
        return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bench'").fetchone()[0]


def wait_gone(cluster, started):
    while bench_pids(cluster):
        time.sleep(0.01)
    return time.perf_counter() - started


def close_all(conns):
    for conn in conns:
        try:
            conn.close()
        except Exception:
            pass


def psql_side(cluster, age):
    sql = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle' "
           "AND query_start < now() - interval '%d seconds'" % (age - 1))
    env = dict(os.environ, PGPASSWORD=cluster.superuser_password)
    cmd = [os.path.join(cluster.bindir, "psql"), "-X", "-q", "-o", "/dev/null", "-h", "127.0.0.1", "-p", str(cluster.port),
           "-U", "postgres", "-d", "postgres", "-c", sql]
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True)
    return time.perf_counter() - start, start


def module_side(cluster, age, work):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_NOCOLOR="1")
    cmd = [os.path.join(BIN, "ansible-playbook"), os.path.join(work, "play.yml"), "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "@" + os.path.join(work, "vars.json"),
           "-e", "idle_for=%ds" % (age - 1), "-e", "port=%d" % cluster.port]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError("the playbook failed: %s" % proc.stdout[-2000:])
    match = re.search(r"terminated (\d+) in ([0-9.]+) s inside the module", proc.stdout)
    inside = "%s terminated in %s s inside the module" % match.groups() if match else "module time not found"
    return elapsed, start, inside


DIRECT = """
import json, sys
sys.path.insert(0, %r)
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.pg_connections_run import run as run_pg_connections
params = json.load(open(sys.argv[1]))
result = run_pg_connections(dict(params, idle_for=sys.argv[2], login_port=int(sys.argv[3])), False)
print("%%d terminated in %%s s inside" %% (result["count"], result["elapsed_seconds"]))
""" % os.path.join(ROOT, "collections")


def direct_side(cluster, age, work):
    """The module's logic in a fresh Python process, no Ansible: what the module costs without its carrier."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", DIRECT, os.path.join(work, "direct.json"), "%ds" % (age - 1),
                           str(cluster.port)], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError("the direct run failed: %s" % proc.stderr[-2000:])
    return elapsed, start, proc.stdout.strip()


def noop_playbook(work):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    start = time.perf_counter()
    subprocess.run([os.path.join(BIN, "ansible-playbook"), os.path.join(work, "noop.yml"), "-i", "localhost,", "-c", "local",
                    "-e", "ansible_python_interpreter=%s" % sys.executable], cwd=ROOT, env=env, capture_output=True, check=True)
    return time.perf_counter() - start


def one_round(cluster, side, args, work):
    conns = open_sessions(cluster, args.sessions)
    try:
        time.sleep(args.age)
        if side == "psql":
            elapsed, start = psql_side(cluster, args.age)
            inside = None
        elif side == "python":
            elapsed, start, inside = direct_side(cluster, args.age, work)
        else:
            elapsed, start, inside = module_side(cluster, args.age, work)
        gone = wait_gone(cluster, start)
        return {"seconds": elapsed, "until_gone": gone, "inside": inside}
    finally:
        close_all(conns)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--age", type=int, default=3, help="seconds the sessions sit idle before a round (>= 2)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    args.age = max(2, args.age)
    raise_fd_limit(args.sessions + 200)

    from loopback import free_port
    from mcpops.lab.fixtures.pg_cluster import PgCluster

    work = tempfile.mkdtemp(prefix="bench-pg-")
    cluster = PgCluster(free_port(), max_connections=args.sessions + 100).start()
    try:
        with cluster.admin() as admin:
            admin.execute("CREATE ROLE app LOGIN PASSWORD '%s'" % APP_PASSWORD)
        with open(os.path.join(work, "play.yml"), "w") as handle:
            handle.write(PLAY)
        with open(os.path.join(work, "noop.yml"), "w") as handle:
            handle.write(NOOP)
        fd = os.open(os.path.join(work, "vars.json"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"pg_password": cluster.superuser_password}, handle)
        fd = os.open(os.path.join(work, "direct.json"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(dict(state="terminated", states=["idle"], login_host="127.0.0.1", login_user="postgres",
                           login_password=cluster.superuser_password, login_db="postgres", wait_timeout=120), handle)

        print("cluster: PostgreSQL in %s on 127.0.0.1:%d, max_connections %d" % (cluster.dir, cluster.port, args.sessions + 100))
        print("warm-up (untimed): one round of each side", flush=True)
        for side in ("psql", "module"):
            one_round(cluster, side, args, work)
        runs = {"psql": [], "module": [], "python": []}
        for i in range(args.rounds):
            for side in ("psql", "module", "python"):
                run = one_round(cluster, side, args, work)
                runs[side].append(run)
                print("round %d %-6s: %.3f s end to end, sessions gone after %.3f s%s" % (
                    i + 1, side, run["seconds"], run["until_gone"],
                    "" if run["inside"] is None else " (%s)" % run["inside"]), flush=True)
        noop = statistics.median(noop_playbook(work) for _ in range(3))
        psql_s = statistics.median(r["seconds"] for r in runs["psql"])
        module_s = statistics.median(r["seconds"] for r in runs["module"])
        psql_gone = statistics.median(r["until_gone"] for r in runs["psql"])
        module_gone = statistics.median(r["until_gone"] for r in runs["module"])
        ratio = module_s / psql_s
        python_s = statistics.median(r["seconds"] for r in runs["python"])
        print("ansible-playbook with one debug task (fixed cost): %.3f s" % noop)
        print("terminate %d idle sessions: module %.3f s, baseline psql one-liner %.3f s, ratio %.2fx (target <= %.1fx)%s" % (
            args.sessions, module_s, psql_s, ratio, TARGET, "" if ratio <= TARGET else "  ABOVE TARGET"))
        print("until every session is gone: module %.3f s, psql one-liner %.3f s, ratio %.2fx" % (
            module_gone, psql_gone, module_gone / psql_gone))
        print("module minus ansible's fixed cost: %.3f s vs psql %.3f s" % (module_s - noop, psql_s))
        print("the module's logic in a fresh python, no Ansible: %.3f s, %.2fx the psql one-liner" % (python_s, python_s / psql_s))
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"sessions": args.sessions, "runs": runs, "median_module_s": module_s, "median_psql_s": psql_s,
                           "ratio": ratio, "median_python_s": python_s, "until_gone": {"module": module_gone, "psql": psql_gone},
                           "ansible_noop_s": noop, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}},
                          handle, indent=2)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
