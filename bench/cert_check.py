#!/usr/bin/env python3
"""Figure: cert_check on 200 TLS endpoints against the runbook's way of checking a certificate.

Setup (untimed): a test CA (mcpops.lab.fixtures.ca) issues one leaf a endpoint, and one real TLS server process
(`python -m mcpops.lab.fixtures.tls_server`) listens on --endpoints (default 200) free 127.0.0.1 ports, each with its
own certificate. Then, timed, each side reads every endpoint's validity dates:

  serial    the runbook's step 1 in a bash loop, one endpoint after the other:
            echo | openssl s_client -servername 127.0.0.1 -connect 127.0.0.1:$port 2>/dev/null | openssl x509 -noout -dates
  xargs     the same pipeline under `xargs -P 32`
  module    cert_check's work in process: run() of module_utils/_tls/cert_check_run.py on all endpoints, concurrency 32
  ansible   `ansible localhost -m mcpops.runbooks.cert_check` on all endpoints, Ansible's start-up included

Each side is checked: 200 notAfter lines (shell) or 200 rows with status ok (module). --rounds (default 3) runs
of each side; the best of each is compared. Beside each best time the script prints that round's CPU seconds
(user+sys) of the side (its processes, or this process for the in-process side) and of the TLS server, which say
more than the time on a loaded machine. A figure, not a test: it exits 0 whatever the ratios are.

    .venv/bin/python bench/cert_check.py [--endpoints 200 | --sizes 50,200,1000] [--rounds 3] [--json out.json]

With --sizes each endpoint count gets its own TLS server and rounds, then a growth table (the four sides side by
side, seconds per 100 more endpoints, least squares); --json writes it with the machine's load.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "collections"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import growth  # noqa: E402

ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
PIPELINE = ("echo | openssl s_client -servername 127.0.0.1 -connect 127.0.0.1:$0 2>/dev/null "
            "| openssl x509 -noout -dates")


def start_endpoints(directory, count):
    from mcpops.lab.fixtures.ca import TestCA
    from mcpops.lab.fixtures.tls_server import TlsServerProcess

    ca = TestCA()
    ca_file = ca.write_root(os.path.join(directory, "ca.crt"))
    endpoints = []
    for index in range(count):
        cert, key = ca.issue(["127.0.0.1"], days=60 + index % 30).write(
            os.path.join(directory, "c%d.crt" % index), os.path.join(directory, "c%d.key" % index))
        endpoints.append({"name": "e%d" % index, "host": "127.0.0.1", "port": 0, "cert": cert, "key": key})
    server = TlsServerProcess(directory, endpoints)
    ports = server.start(timeout=120)
    return server, ca_file, [ports["e%d" % i] for i in range(count)]


def cpu_seconds():
    """(this process, its waited-for children): CPU seconds, user+sys."""
    times = os.times()
    return times.user + times.system, times.children_user + times.children_system


def process_cpu(pid):
    """CPU seconds (user+sys) a running process has used so far (Linux /proc), None elsewhere."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None


def timed(fn, server_pid=None):
    """(seconds, output, CPU of the side, CPU of the TLS server or None)."""
    own, children = cpu_seconds()
    server = process_cpu(server_pid)
    started = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - started
    own_after, children_after = cpu_seconds()
    server_after = process_cpu(server_pid)
    server_cpu = server_after - server if None not in (server, server_after) else None
    return elapsed, out, (own_after - own) + (children_after - children), server_cpu


def shell_serial(ports):
    script = "for p in %s; do %s; done" % (" ".join(map(str, ports)), PIPELINE.replace("$0", "$p"))
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True).stdout


def shell_xargs(ports):
    return subprocess.run(["xargs", "-P", "32", "-n", "1", "bash", "-c", PIPELINE],
                          input="\n".join(map(str, ports)), capture_output=True, text=True).stdout


def module_in_process(ports, ca_file):
    from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_check_run import run as run_cert_check

    return run_cert_check({"targets": ["127.0.0.1:%d" % p for p in ports], "files": [], "ca_path": ca_file,
                           "warn_days": 30, "critical_days": 7, "fail_on": "never", "timeout": 30,
                           "concurrency": 32})


def module_through_ansible(ports, ca_file):
    args = json.dumps({"targets": ["127.0.0.1:%d" % p for p in ports], "ca_path": ca_file, "fail_on": "never",
                       "timeout": 30})
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    proc = subprocess.run([ANSIBLE, "localhost", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
                           "-m", "mcpops.runbooks.cert_check", "-a", args],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


def check_shell(out, count, side):
    got = out.count("notAfter=")
    if got != count:
        raise SystemExit("%s read %d notAfter lines, expected %d" % (side, got, count))


def check_module(result, count, side):
    ok = sum(1 for r in result["targets"] if r["status"] == "ok")
    if ok != count:
        raise SystemExit("%s: %d of %d endpoints ok: %s" % (side, ok, count, result.get("summary")))


def one_size(count, rounds):
    with tempfile.TemporaryDirectory(prefix="bench-cert-check-") as directory:
        server, ca_file, ports = start_endpoints(directory, count)
        try:
            best, cpu = {}, {}
            for _ in range(rounds):
                sides = {
                    "serial": lambda: shell_serial(ports),
                    "xargs": lambda: shell_xargs(ports),
                    "module": lambda: module_in_process(ports, ca_file),
                    "ansible": lambda: module_through_ansible(ports, ca_file),
                }
                for side, fn in sides.items():
                    seconds, out, side_cpu, server_cpu = timed(fn, server.pid)
                    if side in ("serial", "xargs"):
                        check_shell(out, count, side)
                    else:
                        check_module(out, count, side)
                    if seconds <= best.get(side, seconds):
                        best[side], cpu[side] = seconds, {"cpu_s": side_cpu, "server_cpu_s": server_cpu}
        finally:
            server.stop()
    print("%d TLS endpoints on 127.0.0.1, best of %d rounds (%s, %d CPUs):" % (count, rounds, platform.python_version(),
                                                                            os.cpu_count() or 0))
    for side, label in (("serial", "serial openssl s_client | openssl x509 loop"),
                        ("xargs", "xargs -P 32 of the same pipeline"),
                        ("module", "cert_check (module_utils, concurrency 32)"),
                        ("ansible", "cert_check through ansible (start-up incl.)")):
        server_cpu = cpu[side]["server_cpu_s"]
        print("  %-45s %7.3f s   CPU %6.3f s, TLS server CPU %s" % (
            label, best[side], cpu[side]["cpu_s"], "%.3f s" % server_cpu if server_cpu is not None else "unknown"))
    print("cert_check vs serial loop: %.1fx faster (target >= 20x); through ansible %.1fx"
          % (best["serial"] / best["module"], best["serial"] / best["ansible"]))
    print("cert_check vs xargs -P 32: %.2fx (target >= 1x, no slower); through ansible %.2fx"
          % (best["xargs"] / best["module"], best["xargs"] / best["ansible"]), flush=True)
    print("  load %.2f" % os.getloadavg()[0], flush=True)
    return best, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--sizes", help="several endpoint counts, comma-separated (e.g. 50,200,1000): a growth curve")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    sizes = growth.parse_sizes(args.sizes) if args.sizes else [args.endpoints]
    machine_before = growth.machine()
    print(growth.machine_line("machine before"), flush=True)
    measured = {n: one_size(n, args.rounds) for n in sizes}
    results = {n: measured[n][0] for n in sizes}
    print(growth.machine_line("machine after"))
    names = {"serial": "serial loop", "xargs": "xargs -P 32", "module": "in process", "ansible": "through ansible"}
    sides = {names[side]: {n: results[n][side] for n in sizes} for side in names}
    if len(sizes) > 1:
        for line in growth.growth_table("endpoints", sides, per=100):
            print(line)
    if args.json:
        with open(args.json, "w") as fh:
            out = {"figure": "cert_check", "rounds": args.rounds, "sizes": sizes, "growth": growth.growth(sides),
                   "machine": growth.machine(), "statistic": "best of %d" % args.rounds,
                   "machine_before": machine_before, "machine_after": growth.machine(),
                   "curves": [growth.curve("cert_check", "cert_check: time against TLS endpoints", "endpoints", sides)]}
            out["cpu_of_best_round"] = {str(n): measured[n][1] for n in sizes}
            if len(sizes) == 1:
                out.update(endpoints=sizes[0], seconds=results[sizes[0]])
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
