#!/usr/bin/env python3
"""Figure: kill 1,000 idle MySQL sessions, mysql_connections through Ansible against a `mariadb -e "KILL ..."` one-liner.

A private MariaDB (mcpops.lab.fixtures.mariadb_server: mariadb-install-db + mariadbd on 127.0.0.1, a free port),
its max_connections raised to --sessions + 100 with SET GLOBAL as root (the fixture starts it at 200), an account
root@127.0.0.1 for the TCP logins of both sides and an account `app` for the sessions. Each round opens --sessions
sessions as `app` and lets them sit idle until the server counts --age seconds on each (untimed). Then, timed end
to end, until every session is gone from information_schema.PROCESSLIST:

  baseline  mariadb --defaults-extra-file=<0600 file with the password> -h 127.0.0.1 -P <port> -u root
            -e "KILL 12; KILL 13; ..." (the KILL list generated beforehand from the processlist, untimed and
            printed), then a poll until the sessions are gone
  module    ansible-playbook <one task: mcpops.runbooks.mysql_connections state=killed users=[app]
            commands=[Sleep] idle_for=<age-1>s> (the password in a 0600 extra-vars file), which selects, kills
            and waits until every session is gone itself; the same poll after it (it finds them gone)

For information a third side, `python`, runs the module's logic (module_utils._mysql.mysql_connections_run) in a
fresh Python process with no Ansible, and the fixed cost of ansible-playbook (one debug task) is printed. An
untimed warm-up of each side comes first. It prints the ratio of the medians (target: module within 1.5x of the
one-liner). A figure, not a test: it exits 0 whatever the numbers are.

    .venv/bin/python bench/mysql_connections.py [--sessions 1000] [--rounds 3] [--age 3] [--json out.json]
"""

import argparse
import json
import os
import platform
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
BIN = os.path.dirname(sys.executable)
TARGET = 1.5
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


class Bench:
    def __init__(self, server, args, work):
        self.server = server
        self.args = args
        self.work = work
        self.admin = server.admin()

    def scalar(self, sql, params=None):
        with self.admin.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()[0]

    def app_sessions(self):
        return self.scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'")

    def open_sessions(self):
        import pymysql

        conns = [pymysql.connect(host="127.0.0.1", port=self.server.port, user="app", password=APP_PASSWORD,
                                 connect_timeout=30) for _ in range(self.args.sessions)]
        deadline = time.monotonic() + 120
        while self.scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app' AND TIME < %s",
                          (self.args.age,)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return conns

    def wait_gone(self, started):
        deadline = time.monotonic() + 120
        while self.app_sessions() and time.monotonic() < deadline:
            time.sleep(0.01)
        return time.perf_counter() - started

    def baseline(self):
        t0 = time.perf_counter()
        with self.admin.cursor() as cur:
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app' AND COMMAND = 'Sleep' "
                        "AND TIME >= %s", (self.args.age - 1,))
            kills = "".join("KILL %d;" % int(r[0]) for r in cur.fetchall())
        generated = time.perf_counter() - t0
        cmd = [self.client, "--defaults-extra-file=" + os.path.join(self.work, "client.cnf"), "-h", "127.0.0.1",
               "-P", str(self.server.port), "-u", "root", "-e", kills]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
        returned = time.perf_counter() - start
        return start, returned, "KILL list of %d generated in %.3f s, untimed" % (kills.count("KILL"), generated)

    def module(self):
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_LOCALHOST_WARNING="0",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_NOCOLOR="1",
                   MCPOPS_RUNS_DIR=os.path.join(self.work, "runs"))
        cmd = [os.path.join(BIN, "ansible-playbook"), os.path.join(self.work, "play.yml"), "-i", "localhost,",
               "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
               "-e", "@" + os.path.join(self.work, "vars.json"), "-e", "idle_for=%ds" % (self.args.age - 1),
               "-e", "port=%d" % self.server.port]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        returned = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError("the playbook failed: %s" % proc.stdout[-2000:])
        match = re.search(r"killed (\d+) in ([0-9.]+) s inside the module", proc.stdout)
        return start, returned, ("%s killed in %s s inside the module" % match.groups()) if match else "module time not found"

    def python(self):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", DIRECT, os.path.join(self.work, "direct.json"),
                               "%ds" % (self.args.age - 1)], capture_output=True, text=True, check=False)
        returned = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError("the direct run failed: %s" % proc.stderr[-2000:])
        return start, returned, proc.stdout.strip()

    def one_round(self, side):
        conns = self.open_sessions()
        try:
            start, returned, note = getattr(self, side)()
            gone = self.wait_gone(start)
            return {"seconds": gone, "returned": returned, "note": note}
        finally:
            for conn in conns:
                try:
                    conn.close()
                except Exception:
                    pass

    def noop(self):
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_LOCALHOST_WARNING="0",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="0", MCPOPS_RUNS_DIR=os.path.join(self.work, "runs"))
        start = time.perf_counter()
        subprocess.run([os.path.join(BIN, "ansible-playbook"), os.path.join(self.work, "noop.yml"), "-i", "localhost,",
                        "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable], cwd=ROOT, env=env,
                       capture_output=True, check=True)
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

    from loopback import free_port
    from mcpops.lab.fixtures.mariadb_server import MariaDbServer

    client = client_binary()
    if client is None:
        print("baseline unavailable: neither mariadb nor mysql (the client) is on PATH; install mariadb-client")
        return
    work = tempfile.mkdtemp(prefix="bench-mysql-")
    server = MariaDbServer(free_port()).start()
    bench = None
    try:
        bench = Bench(server, args, work)
        bench.client = client
        with bench.admin.cursor() as cur:
            cur.execute("SET GLOBAL max_connections = %s", (args.sessions + 100,))
            cur.execute("CREATE USER root@'127.0.0.1' IDENTIFIED BY %s", (server.root_password,))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION")
            cur.execute("CREATE USER app@'127.0.0.1' IDENTIFIED BY %s", (APP_PASSWORD,))
        with open(os.path.join(work, "play.yml"), "w") as handle:
            handle.write(PLAY)
        with open(os.path.join(work, "noop.yml"), "w") as handle:
            handle.write(NOOP)
        write_secret(os.path.join(work, "client.cnf"), "[client]\npassword=%s\n" % server.root_password)
        write_secret(os.path.join(work, "vars.json"), json.dumps({"mysql_password": server.root_password}))
        write_secret(os.path.join(work, "direct.json"), json.dumps(dict(
            state="killed", users=["app"], commands=["Sleep"], login_host="127.0.0.1", login_port=server.port,
            login_user="root", login_password=server.root_password, wait_timeout=120)))

        print("server: MariaDB in %s on 127.0.0.1:%d, max_connections %d; client %s" % (
            server.dir, server.port, args.sessions + 100, client))
        print("warm-up (untimed): one round of each side", flush=True)
        for side in ("baseline", "module"):
            bench.one_round(side)
        runs = {"baseline": [], "module": [], "python": []}
        for i in range(args.rounds):
            for side in ("baseline", "module", "python"):
                run = bench.one_round(side)
                runs[side].append(run)
                print("round %d %-8s: %.3f s until every session is gone (the command returned after %.3f s; %s)" % (
                    i + 1, side, run["seconds"], run["returned"], run["note"]), flush=True)
        noop = statistics.median(bench.noop() for _ in range(3))
        med = dict((side, statistics.median(r["seconds"] for r in runs[side])) for side in runs)
        ratio = med["module"] / med["baseline"]
        print("ansible-playbook with one debug task (fixed cost): %.3f s" % noop)
        print("kill %d idle sessions until gone: module %.3f s, baseline mariadb -e \"KILL ...\" %.3f s, ratio %.2fx "
              "(target <= %.1fx)%s" % (args.sessions, med["module"], med["baseline"], ratio, TARGET,
                                       "" if ratio <= TARGET else "  ABOVE TARGET"))
        print("module minus ansible's fixed cost: %.3f s vs baseline %.3f s" % (med["module"] - noop, med["baseline"]))
        print("the module's logic in a fresh python, no Ansible: %.3f s, %.2fx the baseline" % (
            med["python"], med["python"] / med["baseline"]))
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"sessions": args.sessions, "runs": runs, "medians": med, "ratio": ratio, "target": TARGET,
                           "ansible_noop_s": noop, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                                "load": os.getloadavg()}}, handle, indent=2)
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
