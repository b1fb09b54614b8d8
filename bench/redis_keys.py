#!/usr/bin/env python3
"""Figure: count the keys of a pattern among 1 million Redis keys, redis_keys against redis-cli --scan (issue 16, in issue 20's form).

A private Redis (mcpops.lab.fixtures.redis_server: 127.0.0.1 on a free port, no persistence) with a password set
(requirepass). Untimed, the script loads --keys keys through `redis-cli --pipe` (the RESP stream written to a file
first): half `ratelimit:10.<a>.<b>.<c>:<window>` counters with a 60 s TTL, half `session:<n>` strings. Then, timed:

  baseline  redis-cli -h 127.0.0.1 -p PORT --scan --pattern 'ratelimit:*' | wc -l
            (the password in REDISCLI_AUTH, never argv)
  module    ansible-playbook <one task: mcpops.runbooks.redis_keys_info pattern=ratelimit:* details=[] (names only),
            the password from a 0600 extra-vars file> and a debug task printing its count

  in-process the module's work in this process: run() of module_utils/_redis/redis_keys_run.py with the same
            options, no Ansible, no interpreter start-up

For information, `python` runs the same entry point in a fresh Python process, and `python_details` does the same
with the default details (TYPE, TTL, value of every matched key, top clients by segment 1): what the full report
costs. An untimed warm-up of each side comes first; the sides take turns going first. Every side must count the same
keys. Targets: in process and through Ansible no slower than redis-cli (<= 1.0x); Ansible's fixed cost is printed
beside (`ansible localhost -m ping`, a one-debug playbook, the module file's own imports above
ansible.module_utils.basic), and the machine's load and CPUs before and after (bench/growth.py). A figure, not a
test: it exits 0 whatever the numbers are.

    .venv/bin/python bench/redis_keys.py [--keys 1000000] [--rounds 3] [--json out.json]
"""

import argparse
import json
import os
import re
import secrets
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
TARGET = 1.0             # through Ansible, against redis-cli --scan | wc -l
TARGET_IN_PROCESS = 1.0
PATTERN = "ratelimit:*"

PLAY = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: Count the rate limit keys
      mcpops.runbooks.redis_keys_info:
        pattern: "ratelimit:*"
        details: []
        login_host: 127.0.0.1
        login_port: "{{ port }}"
        login_password: "{{ redis_password }}"
      register: found
    - name: Count
      ansible.builtin.debug:
        msg: "matched {{ found.matched }} in {{ found.elapsed_seconds }} s inside the module"
"""

NOOP = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: Nothing
      ansible.builtin.debug:
        msg: ansible start-up only
"""

DIRECT = """
import json, sys, time
sys.path.insert(0, %r)
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.redis_keys_run import run
params = json.load(open(sys.argv[1]))
if sys.argv[2] == "names":
    params["details"] = []
else:
    params["group_by_segment"] = 1
result = run(params, False)
print("matched %%d in %%s s inside" %% (result["matched"], result["elapsed_seconds"]))
""" % os.path.join(ROOT, "collections")


def write_load(path, keys):
    """The RESP stream of --keys SETs: even n a ratelimit counter with a TTL, odd n a session."""
    with open(path, "wb") as out:
        chunk = []
        for n in range(keys):
            if n % 2 == 0:
                key = b"ratelimit:10.%d.%d.%d:%d" % (n % 7, (n // 7) % 250, (n // 1750) % 250, 28000000 + n % 3)
                chunk.append(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%d\r\n$2\r\nEX\r\n$2\r\n60\r\n"
                             % (len(key), key, len(b"%d" % (n % 97 + 1)), n % 97 + 1))
            else:
                key = b"session:%d" % n
                chunk.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$4\r\nuser\r\n" % (len(key), key))
            if len(chunk) >= 10000:
                out.write(b"".join(chunk))
                chunk = []
        out.write(b"".join(chunk))


def load(server, password, path, keys, env):
    """Load the keys (untimed). The 60 s TTLs would expire in a long run: they are refreshed before each round."""
    with open(path, "rb") as stream:
        proc = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "--pipe"], stdin=stream,
                              env=env, capture_output=True, text=True)
    if proc.returncode != 0 or "errors: 0" not in proc.stdout:
        raise RuntimeError("redis-cli --pipe failed: %s %s" % (proc.stdout[-1000:], proc.stderr[-1000:]))
    return dbsize(server, env)


def dbsize(server, env):
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "DBSIZE"], env=env,
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip().split()[-1])


def refresh_ttls(server, env, path):
    """Reload the same keys (same names, values and 60 s TTL) so that no key expires while a round runs."""
    with open(path, "rb") as stream:
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "--pipe"], stdin=stream, env=env,
                       capture_output=True, check=True)


def baseline_side(server, env):
    cmd = "redis-cli -h 127.0.0.1 -p %d --scan --pattern '%s' | wc -l" % (server.port, PATTERN)
    start = time.perf_counter()
    proc = subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, int(proc.stdout.strip()), None


def ansible_env():
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
                ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_LOCALHOST_WARNING="0",
                ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_NOCOLOR="1")


def module_side(server, work):
    cmd = [os.path.join(BIN, "ansible-playbook"), os.path.join(work, "play.yml"), "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "@" + os.path.join(work, "vars.json"),
           "-e", "port=%d" % server.port]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError("the playbook failed: %s" % proc.stdout[-2000:])
    match = re.search(r"matched (\d+) in ([0-9.]+) s inside the module", proc.stdout)
    if not match:
        raise RuntimeError("no count in the playbook's output: %s" % proc.stdout[-2000:])
    return elapsed, int(match.group(1)), "%s s inside the module" % match.group(2)


def direct_side(work, mode):
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", DIRECT, os.path.join(work, "direct.json"), mode],
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError("the direct run failed: %s" % proc.stderr[-2000:])
    match = re.search(r"matched (\d+) in ([0-9.]+) s inside", proc.stdout)
    return elapsed, int(match.group(1)), "%s s inside" % match.group(2)


def in_process_side(work):
    """The module's work in this process: the module_utils entry point, names only, as the module task asks."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.redis_keys_run import run

    with open(os.path.join(work, "direct.json")) as handle:
        params = dict(json.load(handle), details=[])
    start = time.perf_counter()
    result = run(params, False)
    elapsed = time.perf_counter() - start
    return elapsed, result["matched"], "%s s inside" % result["elapsed_seconds"]


def noop_playbook(work):
    start = time.perf_counter()
    subprocess.run([os.path.join(BIN, "ansible-playbook"), os.path.join(work, "noop.yml"), "-i", "localhost,", "-c",
                    "local", "-e", "ansible_python_interpreter=%s" % sys.executable], cwd=ROOT, env=ansible_env(),
                   capture_output=True, check=True)
    return time.perf_counter() - start


def private_file(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=1000000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    if not shutil.which("redis-cli"):
        print("redis-cli not found (Debian package redis-tools): the baseline is unavailable")
        return

    import growth
    from backup_figures import own_imports
    from loopback import free_port
    from mcpops.lab.fixtures.redis_server import RedisServer
    from pg_connections import ansible_ping

    work = tempfile.mkdtemp(prefix="bench-redis-")
    password = "bench-" + secrets.token_hex(12)
    server = RedisServer(free_port(), base=work).start()
    try:
        import redis  # the venv's redis-py sets the password: never on a command line

        redis.Redis(host="127.0.0.1", port=server.port).config_set("requirepass", password)
        env = dict(os.environ, REDISCLI_AUTH=password)
        for name, text in (("play.yml", PLAY), ("noop.yml", NOOP)):
            with open(os.path.join(work, name), "w") as handle:
                handle.write(text)
        private_file(os.path.join(work, "vars.json"), {"redis_password": password})
        private_file(os.path.join(work, "direct.json"), dict(pattern=PATTERN, login_host="127.0.0.1",
                                                             login_port=server.port, login_password=password))
        stream = os.path.join(work, "load.resp")
        started = time.perf_counter()
        write_load(stream, args.keys)
        size = load(server, password, stream, args.keys, env)
        expected = (args.keys + 1) // 2
        print("redis: %s on 127.0.0.1:%d, %d keys loaded in %.1f s (untimed), %d match %r" % (
            server.binary, server.port, size, time.perf_counter() - started, expected, PATTERN), flush=True)
        print(growth.machine_line("machine before"), flush=True)

        sides = {
            "redis-cli": lambda: baseline_side(server, env),
            "in-process": lambda: in_process_side(work),
            "module": lambda: module_side(server, work),
            "python": lambda: direct_side(work, "names"),
            "python_details": lambda: direct_side(work, "details"),
        }
        print("warm-up (untimed): one run of each side", flush=True)
        for side in ("redis-cli", "in-process", "module"):
            sides[side]()
        runs = {side: [] for side in sides}
        counts_agree = True
        names = list(sides)
        for i in range(args.rounds):
            refresh_ttls(server, env, stream)
            for side in names[i % len(names):] + names[:i % len(names)]:  # the sides take turns going first
                seconds, count, inside = sides[side]()
                runs[side].append({"seconds": seconds, "count": count, "inside": inside})
                if count != expected:
                    counts_agree = False
                print("round %d %-15s %.3f s, counted %d%s" % (i + 1, side, seconds, count,
                                                               "" if inside is None else " (%s)" % inside), flush=True)
        noop = statistics.median(noop_playbook(work) for _ in range(3))
        ping = statistics.median(ansible_ping() for _ in range(3))
        imports_ms, heaviest = own_imports("redis_keys_info")
        med = {side: statistics.median(r["seconds"] for r in rs) for side, rs in runs.items()}
        base = med["redis-cli"]
        ratio = med["module"] / base
        in_ratio = med["in-process"] / base
        print(growth.machine_line("machine after"))
        print("Ansible's fixed cost: ansible localhost -m ping %.3f s; ansible-playbook with one debug task %.3f s; "
              "the module's own imports above ansible.module_utils.basic %.1f ms (target <= 30 ms; heaviest: %s)" % (
                  ping, noop, imports_ms, ", ".join("%s %.1f ms" % (name, ms) for ms, name in heaviest[:3])))
        print("count %s among %d keys, medians of %d, against redis-cli --scan | wc -l %.3f s:" % (
            PATTERN, size, args.rounds, base))
        print("  in process (module_utils entry point)  %.3f s  %.2fx (target <= %.1fx)%s" % (
            med["in-process"], in_ratio, TARGET_IN_PROCESS, "" if in_ratio <= TARGET_IN_PROCESS else "  ABOVE TARGET"))
        print("  through Ansible (ansible-playbook)     %.3f s  %.2fx (target <= %.1fx)%s" % (
            med["module"], ratio, TARGET, "" if ratio <= TARGET else "  ABOVE TARGET"))
        print("  through Ansible minus ansible -m ping  %.3f s  %.2fx (to read)" % (med["module"] - ping,
                                                                               (med["module"] - ping) / base))
        print("  fresh python, no Ansible (to read)     %.3f s  %.2fx" % (med["python"], med["python"] / base))
        print("  the full report in a fresh python: every key's TYPE, TTL, value, top clients (to read)  %.3f s  %.2fx" % (
            med["python_details"], med["python_details"] / base))
        print("counts: every side counted %d on every round: %s" % (expected, "yes" if counts_agree else "NO, see above"))
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"figure": "redis_keys", "keys": size, "matching": expected, "rounds": args.rounds,
                           "runs": runs, "median_s": med, "ratio": ratio, "ratio_in_process": in_ratio,
                           "targets": {"in-process": TARGET_IN_PROCESS, "module": TARGET},
                           "counts_agree": counts_agree, "ansible_ping_s": ping, "ansible_noop_playbook_s": noop,
                           "own_imports_ms": imports_ms, "machine": growth.machine()}, handle, indent=2)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
