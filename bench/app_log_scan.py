#!/usr/bin/env python3
"""Figure: scan a 1 GiB ConnectorMCP app.log, app_log_scan against the runbook's greps (issue 16, in issue 20's form).

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
  in-process the module's work in this process: app_log_scan_run.run() with the task's options (one byte range
            a CPU, log_ranges; the host's grep naming each range's candidate lines, log_grep), no Ansible, no
            interpreter start-up
  no-grep   (with --no-grep-side, to read) the same without grep (log_grep.GREP_PROGRAMS emptied): the scan's own
            Python searches, as before grep named the lines; the same load, so the two CPU times compare
  module    ansible-playbook with one app_log_scan task (fields of profiles/connector-mcp.yml, last 400d so that
            every line is in the window, slow_ms 5000, message_contains [MCP, memory])
  python    (to read, and for memory) the same run() in a fresh Python process, which prints its own peak
            (VmHWM of /proc/self/status: the ranges' parent) and the largest peak of the range processes it forked
            (their ru_maxrss, RUSAGE_CHILDREN of that process: only its own workers, which count the pages they
            share with it)

and prints the ratios of the medians to the baseline (targets: in process and through Ansible below 1x, faster), the
CPU time of the greps and of the in-process scan (user + system, child processes included: what a wall time on a
loaded machine is a share of), and the peak memory in MiB (target: under 200 MiB, the parent and its range processes
together). Ansible's fixed cost is printed beside (`ansible localhost -m ping`, the module file's own imports above
ansible.module_utils.basic), and the machine's load and CPUs before and after (bench/growth.py). --profile then runs the work
once in one process (one range) under cProfile: where a range's time goes (grep's time is its own process's, not in
the profile). --check first scans the log once more parsing every line (parse_every_line, the reference path:
slow) and says whether the result is the same, key for key. A figure, not a test: exits 0 (1 when --check finds a
difference).

    .venv/bin/python bench/app_log_scan.py [--size-mib 1024] [--rounds 3] [--json out.json] [--profile] [--check]
                                           [--no-grep-side]
    .venv/bin/python bench/app_log_scan.py --size-mib 64 --rounds 1          # a check of the script
"""

import argparse
import gc
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "collections"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
BIN = os.path.dirname(sys.executable)
TARGET = 1.0  # faster than the greps, in process and through Ansible
TARGET_MIB = 200
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
seconds = time.perf_counter() - started
with open("/proc/self/status") as status:
    hwm_kib = int([line for line in status if line.startswith("VmHWM:")][0].split()[1])
print(json.dumps({"seconds": seconds, "lines": result["files"][0]["lines"],
                  "errors": result["errors"]["total"], "slow": result["slow"]["total"],
                  "rate": result["rate_limited"]["total"], "auth": result["auth_failures"]["total"],
                  "vmhwm_mib": hwm_kib / 1024.0,
                  "workers_maxrss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0}))
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


def cpu_seconds(who):
    """User + system CPU seconds of this process (RUSAGE_SELF) or of its waited-for children (RUSAGE_CHILDREN)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def baseline(log):
    """(seconds, {pipeline: seconds}, CPU seconds of every process of the six pipelines)."""
    total = 0.0
    each = {}
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
    for name, pipeline in PIPELINES.items():
        seconds, proc, _ = child_run(["bash", "-c", pipeline.format(log=log)], env=dict(os.environ, LC_ALL="C.UTF-8"))
        each[name] = seconds
        total += seconds
    return total, each, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def module(play, log):
    cmd = [os.path.join(BIN, "ansible-playbook"), play, "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "log=%s" % log]
    seconds, proc, rss = child_run(cmd, cwd=ROOT, env=ansible_env())
    if proc.returncode != 0:
        raise RuntimeError("the playbook failed: %s" % proc.stdout[-3000:])
    found = re.search(r"lines \d+ errors \d+ slow \d+ auth \d+ rate \d+ mcp \d+ memory \d+", proc.stdout)
    return seconds, rss, found.group(0) if found else "?"


def direct(log):
    """The logic in a fresh Python: (seconds, its peak memory {parent VmHWM, largest range process}, what it found)."""
    seconds, proc, _ = child_run([sys.executable, "-c", DIRECT, log, json.dumps(FIELDS)])
    if proc.returncode != 0:
        raise RuntimeError("the direct run failed: %s" % proc.stderr[-3000:])
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    return seconds, {"parent": found.pop("vmhwm_mib"), "largest_range_process": found.pop("workers_maxrss_mib")}, found


def params_for(log):
    return dict(paths=[log], fields=FIELDS, last="400d", slow_ms=5000, message_contains=["MCP", "memory"], top=20)


def in_process(log, grep=True):
    """The module's work in this process (the entry point the module calls), after collecting the harness's garbage;
    grep=False: without the host's grep (log_grep finds none)."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._applog import log_grep
    from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.app_log_scan_run import run

    programs = log_grep.GREP_PROGRAMS
    if not grep:
        log_grep.GREP_PROGRAMS = ()
    try:
        return _in_process(log, run)
    finally:
        log_grep.GREP_PROGRAMS = programs


def _in_process(log, run):
    gc.collect()
    cpu = cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = run(params_for(log))
    seconds = time.perf_counter() - start
    cpu = cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN) - cpu  # the range processes too
    return seconds, cpu, "lines %d errors %d slow %d auth %d rate %d" % (
        result["files"][0]["lines"], result["errors"]["total"], result["slow"]["total"],
        result["auth_failures"]["total"], result["rate_limited"]["total"])


def same_as_reference(log):
    """Whether the scan (its bytes path, in ranges) and the reference path (parse_every_line, one pass) find the
    same, for the same now; prints the verdict and the first difference."""
    import datetime
    from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.app_log_scan_run import run

    now = datetime.datetime.now(datetime.timezone.utc)
    start = time.perf_counter()
    fast = run(params_for(log), now=now)
    middle = time.perf_counter()
    reference = run(dict(params_for(log), parse_every_line=True), now=now)
    end = time.perf_counter()
    differ = sorted(key for key in set(fast) | set(reference) if fast.get(key) != reference.get(key))
    print("check: the scan %.2f s, the reference path (every line parsed) %.2f s: %s" % (
        middle - start, end - middle, "the same result" if not differ else "DIFFERENT in %s" % ", ".join(differ)))
    for key in differ[:1]:
        print("  scan:      %s\n  reference: %s" % (json.dumps(fast.get(key))[:2000],
                                                  json.dumps(reference.get(key))[:2000]))
    return not differ


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--profile", action="store_true", help="then run the logic once under cProfile")
    parser.add_argument("--no-grep-side", action="store_true",
                        help="one more side: in process without grep (the scan's own searches), to compare CPU")
    parser.add_argument("--check", action="store_true",
                        help="first compare the result with the reference path's (every line parsed)")
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
    import growth
    from backup_figures import own_imports
    from pg_connections import ansible_ping
    from ansible_collections.mcpops.runbooks.plugins.module_utils._applog import log_ranges

    if args.check and not same_as_reference(log):
        return 1
    work = tempfile.mkdtemp(prefix="bench-applog-")
    play = os.path.join(work, "play.yml")
    with open(play, "w") as handle:
        handle.write(PLAY)
    try:
        print(growth.machine_line("machine before"))
        print("the scan splits over %d ranges (log_ranges: a range a CPU, at most %d, at least %d MiB each)" % (
            max(1, min(log_ranges.processes(), log_ranges.MAX_RANGES, os.path.getsize(log) // log_ranges.MIN_RANGE)),
            log_ranges.MAX_RANGES, log_ranges.MIN_RANGE // 1048576))
        from ansible_collections.mcpops.runbooks.plugins.module_utils._applog import log_grep
        print("candidate lines named by %s (log_grep; ranges of %d MiB or more), else by the scan's own searches" % (
            log_grep.grep_program() or "no grep: the scan's own searches", log_grep.MIN_BYTES // 1048576))
        print("warm-up (untimed): one run of each side", flush=True)
        baseline(log)
        in_process(log)
        module(play, log)
        sides = ("baseline", "in-process", "module", "python") + (("no-grep",) if args.no_grep_side else ())
        runs = {side: [] for side in sides}
        for index in range(args.rounds):
            for side in sides[index % len(sides):] + sides[:index % len(sides)]:  # the sides take turns going first
                if side == "baseline":
                    total, each, cpu = baseline(log)
                    runs[side].append({"seconds": total, "pipelines": each, "cpu_seconds": cpu})
                    note = ", ".join("%s %.2f" % item for item in each.items()) + "; CPU %.2f s" % cpu
                elif side in ("in-process", "no-grep"):
                    total, cpu, note = in_process(log, grep=side == "in-process")
                    runs[side].append({"seconds": total, "found": note, "cpu_seconds": cpu})
                    note += "; CPU %.2f s" % cpu
                elif side == "module":
                    total, rss, note = module(play, log)
                    runs[side].append({"seconds": total, "rss_mib": rss, "found": note})
                else:
                    total, peaks, found = direct(log)
                    runs[side].append({"seconds": total, "peak_mib": peaks, "found": found})
                    note = "peak: parent %.0f MiB, largest range process %.0f MiB" % (
                        peaks["parent"], peaks["largest_range_process"])
                print("round %d %-10s %.2f s (%s)" % (index + 1, side, total, note), flush=True)
        ping = statistics.median(ansible_ping() for _ in range(3))
        imports_ms, heaviest = own_imports("app_log_scan")
        med = {side: statistics.median(r["seconds"] for r in runs[side]) for side in sides}
        cpu = {side: statistics.median(r["cpu_seconds"] for r in runs[side])
               for side in ("baseline", "in-process", "no-grep") if runs.get(side)}
        base_s = med["baseline"]
        ratios = {side: med[side] / base_s for side in sides}
        module_rss = max((r["rss_mib"] for r in runs["module"] if r["rss_mib"]), default=None)
        parent = max(r["peak_mib"]["parent"] for r in runs["python"])
        worker = max(r["peak_mib"]["largest_range_process"] for r in runs["python"])
        ranges = max(1, min(log_ranges.processes(), log_ranges.MAX_RANGES,
                            os.path.getsize(log) // log_ranges.MIN_RANGE))
        together = parent + (ranges - 1) * worker
        print(growth.machine_line("machine after"))
        print("Ansible's fixed cost: ansible localhost -m ping %.3f s; the module's own imports above "
              "ansible.module_utils.basic %.1f ms (target <= 30 ms; heaviest: %s)" % (
                  ping, imports_ms, ", ".join("%s %.1f ms" % (name, ms) for ms, name in heaviest[:3])))
        print("scan %.0f MiB, medians of %d, against the six pipelines (%s) %.2f s:" % (
            os.path.getsize(log) / 1048576.0, args.rounds, ", ".join(PIPELINES), base_s))
        print("  in process (module_utils entry point)  %.2f s  %.2fx (target < %.1fx)%s  %.0f MB/s" % (
            med["in-process"], ratios["in-process"], TARGET, "" if ratios["in-process"] < TARGET else "  ABOVE TARGET",
            os.path.getsize(log) / med["in-process"] / 1e6))
        print("  through Ansible (ansible-playbook)     %.2f s  %.2fx (target < %.1fx)%s" % (
            med["module"], ratios["module"], TARGET, "" if ratios["module"] < TARGET else "  ABOVE TARGET"))
        print("  through Ansible minus ansible -m ping  %.2f s  %.2fx (to read)" % (
            med["module"] - ping, (med["module"] - ping) / base_s))
        print("  fresh python, no Ansible (to read)     %.2f s  %.2fx" % (med["python"], ratios["python"]))
        # on a loaded machine a wall time is a share of the CPU: the CPU each side used (its child processes too)
        print("  CPU time (user + system), to read:     greps %.2f s, in process %.2f s (%.2fx; %d ranges)" % (
            cpu["baseline"], cpu["in-process"], cpu["in-process"] / cpu["baseline"],
            max(1, min(log_ranges.processes(), log_ranges.MAX_RANGES, os.path.getsize(log) // log_ranges.MIN_RANGE))))
        if "no-grep" in cpu:
            print("  without grep (to read):                %.2f s, CPU %.2f s (%.2fx the greps'; with grep %.2fx less)"
                  % (med["no-grep"], cpu["no-grep"], cpu["no-grep"] / cpu["baseline"],
                     cpu["no-grep"] / cpu["in-process"]))
        print("peak memory: the scan's parent %.0f MiB (VmHWM), its largest range process %.0f MiB (ru_maxrss, with "
              "the pages shared with the parent), %d ranges: at most %.0f MiB together (target < %d MiB)%s; largest "
              "child of ansible-playbook %s MiB" % (
                  parent, worker, ranges, together, TARGET_MIB, "" if together < TARGET_MIB else "  ABOVE TARGET",
                  "%.0f" % module_rss if module_rss else "? (not above an earlier child's)"))
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"figure": "app_log_scan", "size_mib": args.size_mib, "rounds": args.rounds, "runs": runs,
                           "median_s": med, "ratio_to_baseline": ratios, "median_cpu_s": cpu,
                           "targets": {"ratio": TARGET, "mib": TARGET_MIB},
                           "peak_mib": {"parent": parent, "largest_range_process": worker, "ranges": ranges,
                                        "together_at_most": together, "ansible_children": module_rss},
                           "ansible_ping_s": ping, "own_imports_ms": imports_ms, "machine": growth.machine()},
                          handle, indent=2)
        if args.profile:
            import cProfile
            import pstats
            from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.app_log_scan_run import run
            print("profile of the work in one process (one range; the ranges each do this over their share):")
            one = log_ranges.processes
            log_ranges.processes = lambda: 1
            try:
                profile = cProfile.Profile()
                profile.runcall(run, params_for(log))
            finally:
                log_ranges.processes = one
            pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    finally:
        for name in os.listdir(work):
            os.unlink(os.path.join(work, name))
        os.rmdir(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
