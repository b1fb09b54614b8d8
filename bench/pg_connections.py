#!/usr/bin/env python3
"""Figure: terminate 1,000 idle sessions, pg_connections against an equivalent-work psql baseline (issue 20).

A private PostgreSQL cluster (mcpops.lab.fixtures.pg_cluster: initdb/pg_ctl, as `postgres` when root, 127.0.0.1 on a
free port, max_connections = --sessions + 100). Each round opens --sessions client sessions as role `app`
(application_name `bench`), runs one query on each and lets them sit idle for --age seconds (untimed). Then,
timed end to end:

  baseline  psql -X -q -h 127.0.0.1 -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE state = 'idle' AND query_start < now() - interval '<age-1> seconds'"
            (the runbook's step 3 with its interval shortened; password in PGPASSWORD)
  psql+poll the equivalent-work baseline (issue 20): the same one-liner, then a psql poll (one psql a poll,
            10 ms apart) until no idle session older than the interval is left, as the module waits
  in-process the module's work in this process: run() of module_utils/_pg/pg_connections_run.py (the entry
            point the module calls), no Ansible, no Python start-up
  module    ansible-playbook <one task: mcpops.runbooks.pg_connections state=terminated states=[idle]
            idle_for=<age-1>s> (the password in a 0600 extra-vars file), which also waits until every
            session is gone from pg_stat_activity

  peer      the same psql+poll script as one `ansible.builtin.shell` task of an ansible-playbook (what an Ansible
            user would write without the collection; the password in a 0600 extra-vars file, passed to psql
            through the task's environment)

For information a sixth side, `python`, runs the same entry point in a fresh Python process with no Ansible.
Targets: in process <= 1.0x of psql+poll, through Ansible <= 1.5x of psql+poll; Ansible's fixed cost
(`ansible localhost -m ping`) is printed beside, and the machine's load and CPUs with the figures.

After each side the script polls pg_stat_activity until the sessions are gone and prints that time too
(psql's one-liner returns as soon as the signals are sent). An untimed warm-up of each side comes first.
It prints the ratios of the medians and Ansible's fixed cost (`ansible -m ping`, and a playbook with one debug
task). A figure, not a test: it exits 0 whatever the numbers are.

    .venv/bin/python bench/pg_connections.py [--sessions 1000] [--rounds 3] [--age 3] [--json out.json]
"""

import argparse
import shutil
import tempfile
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "collections"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
BIN = os.path.dirname(sys.executable)
TARGET = 1.5          # through Ansible, against psql+poll
TARGET_IN_PROCESS = 1.0
SIDES = ("psql", "psql+poll", "in-process", "module", "peer", "python")
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

PEER = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: Terminate idle sessions (the runbook's psql one-liner), then wait until none is left
      ansible.builtin.shell:
        cmd: "{{ poll_script }}"
        executable: /bin/bash
      environment:
        PGPASSWORD: "{{ pg_password }}"
        PSQL: "{{ psql }}"
        PGPORT: "{{ port }}"
        WHERE: "{{ where }}"
      changed_when: true
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


POLL = """set -e
psql_() { "$PSQL" -X -q -t -A -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "$1"; }
psql_ "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE $WHERE" >/dev/null
while [ "$(psql_ "SELECT count(*) FROM pg_stat_activity WHERE $WHERE")" != 0 ]; do sleep 0.01; done
"""


def psql_poll_side(cluster, age):
    """The equivalent-work baseline: the one-liner, then one psql a poll until the sessions are gone."""
    where = ("state = 'idle' AND pid <> pg_backend_pid() AND query_start < now() - interval '%d seconds'"
             % (age - 1))
    env = dict(os.environ, PGPASSWORD=cluster.superuser_password, PSQL=os.path.join(cluster.bindir, "psql"),
               PGPORT=str(cluster.port), WHERE=where)
    start = time.perf_counter()
    subprocess.run(["bash", "-c", POLL], env=env, check=True)
    return time.perf_counter() - start, start


def in_process_side(cluster, age, work):
    """The module's work in this process: the module_utils entry point, no Ansible, no interpreter start-up."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.pg_connections_run import run as run_pg

    with open(os.path.join(work, "direct.json")) as handle:
        params = json.load(handle)
    start = time.perf_counter()
    result = run_pg(dict(params, idle_for="%ds" % (age - 1), login_port=cluster.port), False)
    elapsed = time.perf_counter() - start
    return elapsed, start, "%d terminated in %s s inside" % (result["count"], result["elapsed_seconds"])


def ansible_ping():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    start = time.perf_counter()
    subprocess.run([os.path.join(BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", "ping",
                    "-e", "ansible_python_interpreter=%s" % sys.executable], cwd=ROOT, env=env, capture_output=True,
                   check=True)
    return time.perf_counter() - start


def peer_side(cluster, age, work):
    """The builtin-module peer: the psql+poll script in one ansible.builtin.shell task."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_NOCOLOR="1")
    where = ("state = 'idle' AND pid <> pg_backend_pid() AND query_start < now() - interval '%d seconds'"
             % (age - 1))
    with open(os.path.join(work, "peer-vars.json"), "w") as handle:
        json.dump({"poll_script": POLL, "psql": os.path.join(cluster.bindir, "psql"), "where": where,
                   "port": cluster.port}, handle)
    cmd = [os.path.join(BIN, "ansible-playbook"), os.path.join(work, "peer.yml"), "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "@" + os.path.join(work, "vars.json"),
           "-e", "@" + os.path.join(work, "peer-vars.json")]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError("the peer playbook failed: %s" % proc.stdout[-2000:])
    return elapsed, start


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
        elif side == "psql+poll":
            elapsed, start = psql_poll_side(cluster, args.age)
            inside = None
        elif side == "peer":
            elapsed, start = peer_side(cluster, args.age, work)
            inside = None
        elif side == "in-process":
            elapsed, start, inside = in_process_side(cluster, args.age, work)
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

    import growth
    from loopback import free_port
    from mcpops.lab.fixtures.pg_cluster import PgCluster

    work = tempfile.mkdtemp(prefix="bench-pg-")
    cluster = PgCluster(free_port(), max_connections=args.sessions + 100).start()
    try:
        with cluster.admin() as admin:
            admin.execute("CREATE ROLE app LOGIN PASSWORD '%s'" % APP_PASSWORD)
        with open(os.path.join(work, "play.yml"), "w") as handle:
            handle.write(PLAY)
        with open(os.path.join(work, "peer.yml"), "w") as handle:
            handle.write(PEER)
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
        print(growth.machine_line("machine before"))
        print("warm-up (untimed): one round of each side", flush=True)
        for side in ("psql", "psql+poll", "in-process", "module", "peer"):
            one_round(cluster, side, args, work)
        runs = {side: [] for side in SIDES}
        for i in range(args.rounds):
            order = SIDES[i % len(SIDES):] + SIDES[:i % len(SIDES)]  # the sides take turns going first
            for side in order:
                run = one_round(cluster, side, args, work)
                runs[side].append(run)
                print("round %d %-10s: %.3f s end to end, sessions gone after %.3f s%s" % (
                    i + 1, side, run["seconds"], run["until_gone"],
                    "" if run["inside"] is None else " (%s)" % run["inside"]), flush=True)
        noop = statistics.median(noop_playbook(work) for _ in range(3))
        ping = statistics.median(ansible_ping() for _ in range(3))
        med = {side: statistics.median(r["seconds"] for r in runs[side]) for side in SIDES}
        gone = {side: statistics.median(r["until_gone"] for r in runs[side]) for side in SIDES}
        base = med["psql+poll"]
        ratios = {side: med[side] / base for side in SIDES}
        n = args.sessions
        print(growth.machine_line("machine after"))
        print("Ansible's fixed cost: ansible localhost -m ping %.3f s; ansible-playbook with one debug task %.3f s"
              % (ping, noop))
        print("terminate %d idle sessions, medians of %d, against psql+poll (the one-liner, then psql polls until "
              "none is left) %.3f s:" % (n, args.rounds, base))
        print("  in process (module_utils entry point)  %.3f s  %.2fx (target <= %.1fx)%s" % (
            med["in-process"], ratios["in-process"], TARGET_IN_PROCESS,
            "" if ratios["in-process"] <= TARGET_IN_PROCESS else "  ABOVE TARGET"))
        print("  through Ansible (ansible-playbook)     %.3f s  %.2fx (target <= %.1fx)%s" % (
            med["module"], ratios["module"], TARGET, "" if ratios["module"] <= TARGET else "  ABOVE TARGET"))
        print("  the peer: ansible.builtin.shell task    %.3f s  %.2fx of psql+poll; the module %.2fx of the peer "
              "(to read)" % (med["peer"], ratios["peer"], med["module"] / med["peer"]))
        print("  through Ansible minus ansible -m ping  %.3f s  %.2fx (to read)" % (
            med["module"] - ping, (med["module"] - ping) / base))
        print("  fresh python, no Ansible (to read)     %.3f s  %.2fx" % (med["python"], ratios["python"]))
        print("  psql one-liner alone (returns once the signals are sent; sessions gone after %.3f s)  %.3f s  %.2fx"
              % (gone["psql"], med["psql"], ratios["psql"]))
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"figure": "pg_connections", "sessions": n, "rounds": args.rounds, "runs": runs,
                           "median_s": med, "until_gone_s": gone, "ratio_to_psql_poll": ratios,
                           "targets": {"in-process": TARGET_IN_PROCESS, "module": TARGET},
                           "ansible_ping_s": ping, "ansible_noop_playbook_s": noop,
                           "machine": growth.machine()}, handle, indent=2)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
