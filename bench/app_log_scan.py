#!/usr/bin/env python3
"""Figure: scan a 1 GiB ConnectorMCP app.log, app_log_scan through ansible-playbook against the runbook's greps.

Generates (untimed, cached in the temp dir across runs) --size-mib MiB of JSON lines in connector-mcp's form
(src/mcpops/lab/services/connector_mcp.py log_request/log_event: timestamp, level, logger, message, method, path,
status, duration_ms, client_ip, error_type on errors): about 90% INFO requests, 3% ERROR over four error types,
2% 429 rate_limit_exceeded from five IPs, 1% auth failures (401, event), some slow requests, a few "MCP tool call
failed" and "memory usage high" lines; one day of time, in order. Then, after one untimed warm-up of each side
(warm page cache on both), --rounds rounds of:

  baseline  the sum of the six pipelines the module's one pass replaces: the seed's "Log Analysis Queries"
            (errors by type, slow requests > 5 s, auth failures, rate-limit hits by ip) and the two greps of its
            connector-failure and high-memory steps (grep "MCP" app.log | tail -100, grep "memory" app.log);
            `bash -c` each, LC_ALL=C.UTF-8
  module    ansible-playbook with one app_log_scan task (fields of profiles/connector-mcp.yml, last 400d so that
            every line is in the window, slow_ms 5000, message_contains [MCP, memory])
  python    (information) the module's logic, app_log_scan_run.run(), in a fresh Python process: its peak RSS is
            that process's ru_maxrss (RUSAGE_CHILDREN of a child that runs only it)

and prints the ratio of the medians (module / baseline; target: below 1, faster) and the peak RSS in MiB (target:
under 200 MiB). The module's RSS is the largest ru_maxrss among ansible-playbook's children (the AnsiballZ module
process, Ansible's own worker, ...): an upper bound of the module process's. A figure, not a test: exits 0.

    .venv/bin/python bench/app_log_scan.py [--size-mib 1024] [--rounds 3] [--json out.json] [--profile]
"""

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.dirname(sys.executable)
FIELDS = {"time": "timestamp", "level": "level", "message": "message", "latency": "duration_ms",
          "client_ip": "client_ip", "error_type": "error_type", "status": "status", "path": "path"}
PIPELINES = {
    "errors_by_type": "grep \"ERROR\" {log} | grep -oP '\"error_type\":\\s*\"\\K[^\"]+' | sort | uniq -c | sort -rn",
    "slow_requests": "grep \"duration_ms\" {log} | awk -F'duration_ms' '{{print $2}}' | awk '$1 > 5000 {{print}}' | head -20",
    "auth_failures": "grep \"auth_failure\\|invalid_token\\|unauthorized\" {log} | tail -100",
    "rate_limit_by_ip": "grep \"rate_limit_exceeded\" {log} | grep -oP '\"client_ip\":\\s*\"\\K[^\"]+' | sort | uniq -c | sort -rn | head -20",
    "mcp_failures": "grep \"MCP\" {log} | tail -100",
    "memory": "grep \"memory\" {log}",
}
PLAY = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: One pass over the app log
      mcpops.runbooks.app_log_scan:
        paths: ["{{ log }}"]
        fields: %s
        last: 400d
        slow_ms: 5000
        message_contains: [MCP, memory]
        top: 20
      register: scan
    - name: What it found
      ansible.builtin.debug:
        msg: "lines {{ scan.files[0].lines }} errors {{ scan.errors.total }} slow {{ scan.slow.total }} auth {{ scan.auth_failures.total }} rate {{ scan.rate_limited.total }} mcp {{ scan.messages[0].count }} memory {{ scan.messages[1].count }}"
""" % json.dumps(FIELDS)
DIRECT = """
import json, resource, sys, time
sys.path.insert(0, %r)
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.app_log_scan_run import run
started = time.perf_counter()
result = run(dict(paths=[sys.argv[1]], fields=json.loads(sys.argv[2]), last="400d", slow_ms=5000,
                  message_contains=["MCP", "memory"], top=20))
print(json.dumps({"seconds": time.perf_counter() - started, "lines": result["files"][0]["lines"],
                  "errors": result["errors"]["total"], "slow": result["slow"]["total"],
                  "rate": result["rate_limited"]["total"], "auth": result["auth_failures"]["total"]}))
""" % os.path.join(ROOT, "collections")


def generate(path, size_mib, seed=1):
    rng = random.Random(seed)
    paths = ["/api/oauth/start", "/api/oauth/callback", "/api/tools/call", "/api/health", "/api/me"]
    storm = ["203.0.113.%d" % n for n in range(1, 6)]
    bodies = []
    for _ in range(20000):
        kind = rng.random()
        path_ = rng.choice(paths)
        method = "GET" if path_ in ("/api/health", "/api/me", "/api/oauth/callback") else "POST"
        ip = "10.%d.%d.%d" % (rng.randint(0, 3), rng.randint(0, 255), rng.randint(1, 254))
        duration = round(rng.lognormvariate(3, 1.2), 1)
        rec = {"level": "INFO", "logger": "connectormcp", "message": "%s %s 200" % (method, path_), "method": method,
               "path": path_, "status": 200, "duration_ms": duration, "client_ip": ip}
        if kind < 0.03:
            error_type = rng.choice(["OperationalError", "PoolExhausted", "ReleaseDefect", "HTTPError"])
            rec.update(level="ERROR", status=503, message="%s %s 503" % (method, path_),
                       error="database: (2003, \"Can't connect to MySQL server\")", error_type=error_type)
        elif kind < 0.05:
            rec.update(level="WARNING", status=429, message="rate_limit_exceeded", client_ip=rng.choice(storm),
                       duration_ms=0.4)
        elif kind < 0.06:
            rec = {"level": "WARNING", "logger": "connectormcp", "message": "auth failure on GET /api/me",
                   "event": rng.choice(["auth_failure", "invalid_token", "unauthorized"]), "client_ip": ip,
                   "path": "/api/me", "status": 401}
        elif kind < 0.065:
            rec = {"level": "ERROR", "logger": "connectormcp", "message": "MCP tool call failed: slack/list_channels",
                   "event": "tool_call_failed", "error_type": "ToolCallFailed", "client_ip": ip}
        elif kind < 0.067:
            rec = {"level": "WARNING", "logger": "connectormcp", "message": "memory usage high: rss %d MB"
                   % rng.randint(257, 900), "event": "memory_high"}
        elif kind < 0.08:
            rec.update(duration_ms=round(rng.uniform(5000, 30000), 1))
        bodies.append((", " + json.dumps(rec, ensure_ascii=False)[1:] + "\n").encode())
    target = size_mib * 1024 * 1024
    written = 0
    tenth = 0
    with open(path + ".part", "wb") as handle:
        while written < target:
            block = []
            for index in range(20000):
                tenth += 1
                seconds, ms = divmod(tenth, 10)
                stamp = '{"timestamp": "2026-11-%02dT%02d:%02d:%02d.%03dZ"' % (
                    1 + (seconds // 86400) % 28, seconds // 3600 % 24, seconds // 60 % 60, seconds % 60, ms * 100)
                block.append(stamp.encode() + bodies[(index * 7919 + tenth) % len(bodies)])
            data = b"".join(block)
            handle.write(data)
            written += len(data)
    os.replace(path + ".part", path)
    return written


def ansible_env():
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
                ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_LOCALHOST_WARNING="0",
                ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_NOCOLOR="1", MCPOPS_REPORT_DIR=tempfile.gettempdir())


def child_run(cmd, **kwargs):
    """(seconds, completed process, peak ru_maxrss MiB of the children this run adds, as far as it can tell)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, proc, (after / 1024.0 if after > before else None)


def baseline(log):
    total = 0.0
    each = {}
    for name, pipeline in PIPELINES.items():
        seconds, proc, _ = child_run(["bash", "-c", pipeline.format(log=log)], env=dict(os.environ, LC_ALL="C.UTF-8"))
        each[name] = seconds
        total += seconds
    return total, each


def module(play, log):
    cmd = [os.path.join(BIN, "ansible-playbook"), play, "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "log=%s" % log]
    seconds, proc, rss = child_run(cmd, cwd=ROOT, env=ansible_env())
    if proc.returncode != 0:
        raise RuntimeError("the playbook failed: %s" % proc.stdout[-3000:])
    found = [line for line in proc.stdout.splitlines() if '"msg": "lines' in line]
    return seconds, rss, found[0].strip() if found else "?"


def direct(log):
    """The logic in a fresh Python; its own peak RSS from /usr/bin/time -v when there, else RUSAGE_CHILDREN."""
    cmd = [sys.executable, "-c", DIRECT, log, json.dumps(FIELDS)]
    timer = "/usr/bin/time"
    if os.path.exists(timer):
        seconds, proc, _ = child_run([timer, "-v"] + cmd)
        peak = [line for line in proc.stderr.splitlines() if "Maximum resident set size" in line]
        rss = int(peak[0].split(":")[1]) / 1024.0 if peak else None
    else:
        seconds, proc, rss = child_run(cmd)
    if proc.returncode != 0:
        raise RuntimeError("the direct run failed: %s" % proc.stderr[-3000:])
    return seconds, rss, json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--profile", action="store_true", help="then run the logic once under cProfile")
    args = parser.parse_args()
    cache = os.path.join(tempfile.gettempdir(), "mcpops-bench-app-log-scan")
    os.makedirs(cache, exist_ok=True)
    log = os.path.join(cache, "app-%dMiB.log" % args.size_mib)
    if not os.path.exists(log):
        start = time.perf_counter()
        size = generate(log, args.size_mib)
        print("generated %s: %.0f MiB in %.1f s (cached for the next run)" % (log, size / 1048576.0,
                                                                            time.perf_counter() - start))
    else:
        print("cached %s: %.0f MiB" % (log, os.path.getsize(log) / 1048576.0))
    work = tempfile.mkdtemp(prefix="bench-applog-")
    play = os.path.join(work, "play.yml")
    with open(play, "w") as handle:
        handle.write(PLAY)
    try:
        print("warm-up (untimed): one run of each side", flush=True)
        baseline(log)
        module(play, log)
        runs = {"baseline": [], "module": [], "python": []}
        for index in range(args.rounds):
            total, each = baseline(log)
            runs["baseline"].append({"seconds": total, "pipelines": each})
            seconds, rss, found = module(play, log)
            runs["module"].append({"seconds": seconds, "rss_mib": rss, "found": found})
            py_seconds, py_rss, py_found = direct(log)
            runs["python"].append({"seconds": py_seconds, "rss_mib": py_rss, "found": py_found})
            print("round %d: baseline %.2f s (%s); module %.2f s (%s); python %.2f s, peak RSS %s MiB" % (
                index + 1, total, ", ".join("%s %.2f" % item for item in each.items()), seconds, found, py_seconds,
                "%.0f" % py_rss if py_rss else "?"), flush=True)
        base_s = statistics.median(r["seconds"] for r in runs["baseline"])
        module_s = statistics.median(r["seconds"] for r in runs["module"])
        python_s = statistics.median(r["seconds"] for r in runs["python"])
        module_rss = max((r["rss_mib"] for r in runs["module"] if r["rss_mib"]), default=None)
        python_rss = max((r["rss_mib"] for r in runs["python"] if r["rss_mib"]), default=None)
        ratio = module_s / base_s
        print("baseline: the sum of the six pipelines (%s), median %.2f s" % (", ".join(PIPELINES), base_s))
        print("app_log_scan through ansible-playbook: median %.2f s, ratio %.2fx the baseline (target < 1x)%s" % (
            module_s, ratio, "" if ratio < 1 else "  ABOVE TARGET"))
        print("the logic in a fresh python (no Ansible): median %.2f s, %.2fx the baseline, %.0f MB/s" % (
            python_s, python_s / base_s, os.path.getsize(log) / python_s / 1e6))
        print("peak RSS: logic process %s MiB (/usr/bin/time -v); largest child of ansible-playbook %s MiB "
              "(target < 200 MiB)" % ("%.0f" % python_rss if python_rss else "?",
                                      "%.0f" % module_rss if module_rss else "? (not above an earlier child's)"))
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"size_mib": args.size_mib, "runs": runs, "median_baseline_s": base_s,
                           "median_module_s": module_s, "median_python_s": python_s, "ratio": ratio,
                           "peak_rss_mib": {"python": python_rss, "ansible_children": module_rss},
                           "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}, handle, indent=2)
        if args.profile:
            import cProfile
            import pstats
            sys.path.insert(0, os.path.join(ROOT, "collections"))
            from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.app_log_scan_run import run
            profile = cProfile.Profile()
            profile.runcall(run, dict(paths=[log], fields=FIELDS, last="400d", slow_ms=5000,
                                      message_contains=["MCP", "memory"]))
            pstats.Stats(profile).sort_stats("cumulative").print_stats(20)
    finally:
        for name in os.listdir(work):
            os.unlink(os.path.join(work, name))
        os.rmdir(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
