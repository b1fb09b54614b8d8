#!/usr/bin/env python3
"""Figure: kill 1,000 idle MySQL sessions, mysql_connections against an equivalent-work `mariadb -e` baseline (issue 20).

A private MariaDB (mcpops.lab.fixtures.mariadb_server: mariadb-install-db + mariadbd on 127.0.0.1, a free port),
its max_connections raised to --sessions + 100 with SET GLOBAL as root (the fixture starts it at 200), an account
root@127.0.0.1 for the TCP logins of every side and an account `app` for the sessions. Each round a separate
Python process (the holder: clients are other processes, and the in-process side must not share its process
with a thousand driver connections) opens --sessions sessions as `app`, and the round waits until the server
counts --age seconds on each (untimed). The KILL list of the baselines is generated from the processlist before
the side starts (untimed, printed). Then, timed:

  mariadb       mariadb --defaults-extra-file=<0600 file with the password> -h 127.0.0.1 -P <port> -u root
                -e "KILL 12; KILL 13; ..." (the runbook's one-liner with a generated list; returns once sent)
  mariadb+poll  the equivalent-work baseline: the same one-liner, then one `mariadb -N -e "SELECT COUNT(*) FROM
                information_schema.PROCESSLIST WHERE ID IN (<the list>)"` every 10 ms until it says 0, as the
                module waits until the sessions are gone
  in-process    the module's work in this process: run() of module_utils/_mysql/mysql_connections_run.py
                (state=killed users=[app] commands=[Sleep] idle_for=<age-1>s), which selects, kills and waits
                until every killed session has left the processlist; no Ansible, no interpreter start-up
  module        ansible-playbook <that task> (the password in a 0600 extra-vars file)
  python        (to read) the same run() in a fresh Python process

After each side the script polls the processlist until the `app` sessions are gone and prints that time too.
Ansible's fixed cost is printed beside: `ansible localhost -m ping`, a playbook with one debug task, and the module
file's own imports above ansible.module_utils.basic (`python -X importtime`, bench/backup_figures.own_imports).
Targets (issue 16, restated by issue 20): in process <= 1.5x of mariadb+poll, through Ansible <= 1.5x of it.
The machine's load and CPUs are printed before and after (bench/growth.py). A figure, not a test: exits 0.

    .venv/bin/python bench/mysql_connections.py [--sessions 1000] [--rounds 3] [--age 3] [--json out.json]
    .venv/bin/python bench/mysql_connections.py --sessions 100 --rounds 1          # a check of the script
"""

import argparse
import gc
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "collections"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
BIN = os.path.dirname(sys.executable)
TARGET = 1.5             # through Ansible, against mariadb+poll
TARGET_IN_PROCESS = 1.5  # the issue's own figure, for the work alone
SIDES = ("mariadb", "mariadb+poll", "in-process", "module", "python")
APP_PASSWORD = "bench-app-password"

PLAY = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: Kill idle sessions
      mcpops.runbooks.mysql_connections:
        state: killed
        users: [app]
        commands: [Sleep]
        idle_for: "{{ idle_for }}"
        login_host: 127.0.0.1
        login_port: "{{ port }}"
        login_user: root
        login_password: "{{ mysql_password }}"
        wait_timeout: 120
      register: killed
    - name: Count
      ansible.builtin.debug:
        msg: "killed {{ killed.count }} in {{ killed.elapsed_seconds }} s inside the module"
"""

NOOP = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: Nothing
      ansible.builtin.debug:
        msg: ansible start-up only
"""

DIRECT = """
import json, sys
sys.path.insert(0, %r)
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.mysql_connections_run import run
params = json.load(open(sys.argv[1]))
result = run(dict(params, idle_for=sys.argv[2]), False)
print("%%d killed in %%s s inside" %% (result["count"], result["elapsed_seconds"]))
""" % os.path.join(ROOT, "collections")

# Opens the sessions in its own process, says so, and holds them until its stdin closes. No TLS: PyMySQL would
# otherwise build a TLS context (the system CA store) for each of them, about 30 ms of CPU a session.
HOLDER = """
import resource, sys, pymysql
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[3]), resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
conns = [pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password=%r, connect_timeout=30,
                         ssl_disabled=True)
         for _ in range(int(sys.argv[2]))]
print("open", flush=True)
sys.stdin.read()
""" % APP_PASSWORD

POLL = """set -e
m() { "$CLIENT" --defaults-extra-file="$CNF" -h 127.0.0.1 -P "$PORT" -u root -N -B "$@"; }
m -e "$KILLS"
while [ "$(m -e "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID IN ($IDS)")" != 0 ]; do sleep 0.01; done
"""


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))


def write_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def client_binary():
    for name in ("mariadb", "mysql"):
        path = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/bin", "/usr/local/bin"]))
        if path:
            return path
    return None


def ansible_env(work):
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
                ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_LOCALHOST_WARNING="0",
                ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_NOCOLOR="1", MCPOPS_RUNS_DIR=os.path.join(work, "runs"))


class Bench:
    def __init__(self, server, args, work, client):
        self.server = server
        self.args = args
        self.work = work
        self.client = client
        self.admin = server.admin()
        with open(os.path.join(work, "direct.json")) as handle:
            self.params = json.load(handle)

    def scalar(self, sql, params=None):
        with self.admin.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()[0]

    def app_sessions(self):
        return self.scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'")

    def open_sessions(self):
        """The holder process, once its sessions are open and the server counts --age seconds idle on each."""
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(self.server.port), str(self.args.sessions),
                                   str(self.args.sessions + 100)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        if holder.stdout.readline().strip() != "open":
            holder.kill()
            raise RuntimeError("the session holder did not open its sessions")
        deadline = time.monotonic() + 120
        while self.scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app' AND TIME < %s",
                          (self.args.age,)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return holder

    def kill_list(self):
        """(ids, 'KILL 12;KILL 13;...') of the idle app sessions, generated before a baseline starts (untimed)."""
        with self.admin.cursor() as cur:
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app' AND COMMAND = 'Sleep' "
                        "AND TIME >= %s", (self.args.age - 1,))
            ids = [int(r[0]) for r in cur.fetchall()]
        return ids, "".join("KILL %d;" % i for i in ids)

    def wait_gone(self, started):
        deadline = time.monotonic() + 120
        while self.app_sessions() and time.monotonic() < deadline:
            time.sleep(0.01)
        return time.perf_counter() - started

    def mariadb(self):
        ids, kills = self.kill_list()
        cmd = [self.client, "--defaults-extra-file=" + os.path.join(self.work, "client.cnf"), "-h", "127.0.0.1",
               "-P", str(self.server.port), "-u", "root", "-e", kills]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
        return start, time.perf_counter() - start, "KILL list of %d, generated before (untimed)" % len(ids)

    def mariadb_poll(self):
        ids, kills = self.kill_list()
        env = dict(os.environ, CLIENT=self.client, CNF=os.path.join(self.work, "client.cnf"), PORT=str(self.server.port),
                   KILLS=kills, IDS=",".join(str(i) for i in ids))
        start = time.perf_counter()
        subprocess.run(["bash", "-c", POLL], env=env, check=True, stdin=subprocess.DEVNULL)
        return start, time.perf_counter() - start, "KILL list of %d, then polls until none is left" % len(ids)

    def in_process(self):
        from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.mysql_connections_run import run

        params = dict(self.params, idle_for="%ds" % (self.args.age - 1))
        gc.collect()  # the harness's own garbage is not the module's work
        start = time.perf_counter()
        result = run(params, False)
        elapsed = time.perf_counter() - start
        return start, elapsed, "%d killed in %s s inside" % (result["count"], result["elapsed_seconds"])

    def module(self):
        cmd = [os.path.join(BIN, "ansible-playbook"), os.path.join(self.work, "play.yml"), "-i", "localhost,",
               "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
               "-e", "@" + os.path.join(self.work, "vars.json"), "-e", "idle_for=%ds" % (self.args.age - 1),
               "-e", "port=%d" % self.server.port]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(self.work), capture_output=True, text=True, check=False)
        returned = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError("the playbook failed: %s" % proc.stdout[-2000:])
        match = re.search(r"killed (\d+) in ([0-9.]+) s inside the module", proc.stdout)
        return start, returned, ("%s killed in %s s inside the module" % match.groups()) if match else "?"

    def python(self):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", DIRECT, os.path.join(self.work, "direct.json"),
                               "%ds" % (self.args.age - 1)], capture_output=True, text=True, check=False)
        returned = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError("the direct run failed: %s" % proc.stderr[-2000:])
        return start, returned, proc.stdout.strip()

    def one_round(self, side):
        holder = self.open_sessions()
        try:
            call = {"mariadb": self.mariadb, "mariadb+poll": self.mariadb_poll, "in-process": self.in_process,
                    "module": self.module, "python": self.python}[side]
            start, elapsed, note = call()
            gone = self.wait_gone(start)
            return {"seconds": elapsed, "until_gone": gone, "note": note}
        finally:
            holder.stdin.close()
            holder.wait(timeout=60)

    def noop(self):
        start = time.perf_counter()
        subprocess.run([os.path.join(BIN, "ansible-playbook"), os.path.join(self.work, "noop.yml"), "-i", "localhost,",
                        "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable], cwd=ROOT,
                       env=ansible_env(self.work), capture_output=True, check=True)
        return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--age", type=int, default=3, help="seconds the sessions sit idle before a round (>= 2)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    args.age = max(2, args.age)
    raise_fd_limit(args.sessions + 300)

    import growth
    from backup_figures import own_imports
    from loopback import free_port
    from mcpops.lab.fixtures.mariadb_server import MariaDbServer
    from pg_connections import ansible_ping

    client = client_binary()
    if client is None:
        print("baseline unavailable: neither mariadb nor mysql (the client) is on PATH; install mariadb-client")
        return
    work = tempfile.mkdtemp(prefix="bench-mysql-")
    server = MariaDbServer(free_port()).start()
    bench = None
    try:
        admin = server.admin()
        with admin.cursor() as cur:
            cur.execute("SET GLOBAL max_connections = %s", (args.sessions + 100,))
            cur.execute("CREATE USER root@'127.0.0.1' IDENTIFIED BY %s", (server.root_password,))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION")
            cur.execute("CREATE USER app@'127.0.0.1' IDENTIFIED BY %s", (APP_PASSWORD,))
        admin.close()
        with open(os.path.join(work, "play.yml"), "w") as handle:
            handle.write(PLAY)
        with open(os.path.join(work, "noop.yml"), "w") as handle:
            handle.write(NOOP)
        write_secret(os.path.join(work, "client.cnf"), "[client]\npassword=%s\n" % server.root_password)
        write_secret(os.path.join(work, "vars.json"), json.dumps({"mysql_password": server.root_password}))
        write_secret(os.path.join(work, "direct.json"), json.dumps(dict(
            state="killed", users=["app"], commands=["Sleep"], login_host="127.0.0.1", login_port=server.port,
            login_user="root", login_password=server.root_password, wait_timeout=120)))
        bench = Bench(server, args, work, client)

        print("server: MariaDB in %s on 127.0.0.1:%d, max_connections %d; client %s" % (
            server.dir, server.port, args.sessions + 100, client))
        print(growth.machine_line("machine before"))
        print("warm-up (untimed): one round of each side", flush=True)
        for side in SIDES[:-1]:
            bench.one_round(side)
        runs = {side: [] for side in SIDES}
        for i in range(args.rounds):
            order = SIDES[i % len(SIDES):] + SIDES[:i % len(SIDES)]  # the sides take turns going first
            for side in order:
                run = bench.one_round(side)
                runs[side].append(run)
                print("round %d %-12s: %.3f s, sessions gone after %.3f s (%s)" % (
                    i + 1, side, run["seconds"], run["until_gone"], run["note"]), flush=True)
        noop = statistics.median(bench.noop() for _ in range(3))
        ping = statistics.median(ansible_ping() for _ in range(3))
        imports_ms, heaviest = own_imports("mysql_connections")
        med = {side: statistics.median(r["seconds"] for r in runs[side]) for side in SIDES}
        gone = {side: statistics.median(r["until_gone"] for r in runs[side]) for side in SIDES}
        base = med["mariadb+poll"]
        ratios = {side: med[side] / base for side in SIDES}
        print(growth.machine_line("machine after"))
        print("Ansible's fixed cost: ansible localhost -m ping %.3f s; ansible-playbook with one debug task %.3f s; "
              "the module's own imports above ansible.module_utils.basic %.1f ms (target <= 30 ms; heaviest: %s)" % (
                  ping, noop, imports_ms, ", ".join("%s %.1f ms" % (name, ms) for ms, name in heaviest[:3])))
        print("kill %d idle sessions until gone, medians of %d, against mariadb+poll (the KILL list, then mariadb "
              "polls until none is left) %.3f s:" % (args.sessions, args.rounds, base))
        print("  in process (module_utils entry point)  %.3f s  %.2fx (target <= %.1fx)%s" % (
            med["in-process"], ratios["in-process"], TARGET_IN_PROCESS,
            "" if ratios["in-process"] <= TARGET_IN_PROCESS else "  ABOVE TARGET"))
        print("  through Ansible (ansible-playbook)     %.3f s  %.2fx (target <= %.1fx)%s" % (
            med["module"], ratios["module"], TARGET, "" if ratios["module"] <= TARGET else "  ABOVE TARGET"))
        print("  through Ansible minus ansible -m ping  %.3f s  %.2fx (to read)" % (
            med["module"] - ping, (med["module"] - ping) / base))
        print("  fresh python, no Ansible (to read)     %.3f s  %.2fx" % (med["python"], ratios["python"]))
        print("  mariadb one-liner alone (returns once the KILLs are sent; sessions gone after %.3f s)  %.3f s  %.2fx"
              % (gone["mariadb"], med["mariadb"], ratios["mariadb"]))
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"figure": "mysql_connections", "sessions": args.sessions, "rounds": args.rounds,
                           "runs": runs, "median_s": med, "until_gone_s": gone, "ratio_to_mariadb_poll": ratios,
                           "targets": {"in-process": TARGET_IN_PROCESS, "module": TARGET},
                           "ansible_ping_s": ping, "ansible_noop_playbook_s": noop, "own_imports_ms": imports_ms,
                           "machine": growth.machine()}, handle, indent=2)
    finally:
        if bench is not None:
            try:
                bench.admin.close()
            except Exception:
                pass
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
