#!/usr/bin/env python3
"""Figure: audit_scan (through Ansible) against jq for auth failures by token prefix on a big audit.jsonl.

Generates --size-mb MiB of realistic audit lines (the lab gateway's form and event mix, auth.failed
included) in a temp dir, then times, after one untimed warm-up of each (warm page cache on both sides):
  module:   ansible localhost -m mcpops.runbooks.audit_scan -a '{"audit_path": ..., "checks": ["auth_failed"]}'
  baseline: jq -r 'select(.event=="auth.failed")|.tokenPrefix' audit.jsonl | sort | uniq -c
and prints the ratio and the module's peak memory (ru_maxrss of the children: the module process is the
biggest of them), and the same work in process (run() of module_utils/_audit/audit_scan_run.py, the entry
point the module calls, no Ansible). Then one full scan (all checks, a window and a baseline) for information.
With --sizes (MiB, e.g. 256,1024,4096) each size is generated and measured in turn, and a growth table follows
(module, in process and jq side by side, seconds per 1 GiB more, least squares); --json writes it all with the
machine's load. Exits 0.

    .venv/bin/python bench/audit_scan.py [--size-mb 1024 | --sizes 256,1024,4096] [--json out.json]
"""

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "collections"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import growth  # noqa: E402

ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
EVENTS = (["tool.called"] * 55 + ["auth.ok"] * 18 + ["auth.failed"] * 12 + ["rate_limit.exceeded"] * 8
          + ["token.issued"] * 3 + ["token.revoked"] * 2 + ["token.updated"] * 1 + ["backup.created"] * 1)
REASONS = ["revoked", "expired", "blocked", "unknown_token", "missing_token"]


def generate(path, size_mb, seed=1):
    rng = random.Random(seed)
    prefixes = ["mcp_%04x" % rng.getrandbits(16) for _ in range(300)]
    clients = ["cursor-ide", "ci-bot", "claude-desktop", "vscode-copilot", "n8n-automation"]
    orgs = ["org_acme", "org_globex", "org_initech"]
    # pre-rendered bodies, so that generating 1 GiB takes seconds, not minutes
    bodies = []
    for _ in range(5000):
        event = rng.choice(EVENTS)
        prefix = rng.choice(prefixes[:5] if event in ("auth.failed", "rate_limit.exceeded") and rng.random() < 0.5
                            else prefixes)
        who = {"tokenId": "tok_%06x" % rng.getrandbits(24), "tokenPrefix": prefix, "clientId": rng.choice(clients),
               "orgId": rng.choice(orgs)}
        ip = "%s.%d" % (rng.choice(["203.0.113", "198.51.100"]), rng.randint(1, 254))
        if event == "tool.called":
            rec = dict(status=200, ip=ip, path="/mcp", tool="list_profiles", rows=rng.randint(1, 50), result="ok", **who)
        elif event == "auth.failed":
            reason = rng.choice(REASONS)
            if reason == "missing_token":
                who = {"tokenId": None, "tokenPrefix": None, "clientId": None, "orgId": None}
            rec = dict(status=401 if reason in ("unknown_token", "missing_token") else 403, ip=ip, path="/mcp",
                       reason=reason, **who)
        elif event == "rate_limit.exceeded":
            rec = dict(status=429, ip=ip, path="/mcp", reason="rate_limit", **who)
        elif event == "auth.ok":
            rec = dict(status=200, ip=ip, path="/mcp", method="initialize", **who)
        else:
            rec = dict(status=200, ip="127.0.0.1", path="/api/mcp-tokens/%s" % who["tokenId"], **who)
        bodies.append((',"event":"%s",' % event + json.dumps(rec, separators=(",", ":"))[1:] + "\n").encode())
    target = size_mb * 1024 * 1024
    written = 0
    second = 0
    with open(path, "wb") as handle:
        while written < target:
            block = []
            for index in range(20000):
                second += 1
                day, rest = divmod(second // 5, 86400)
                stamp = '{"ts":"2026-11-%02dT%02d:%02d:%02d.%03dZ"' % (1 + day % 28, rest // 3600, rest // 60 % 60,
                                                                     rest % 60, (second % 5) * 200)
                block.append(stamp.encode() + bodies[(index * 7919 + second) % len(bodies)])
            data = b"".join(block)
            handle.write(data)
            written += len(data)
    return written


def timed(cmd, shell=False):
    start = time.monotonic()
    proc = subprocess.run(cmd, shell=shell, capture_output=True, text=True, cwd=ROOT, env=ENV)
    return time.monotonic() - start, proc


ENV = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
           ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
           ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")


def module_cmd(args):
    return [ANSIBLE, "localhost", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
            "-m", "mcpops.runbooks.audit_scan", "-a", json.dumps(args)]


def module_result(proc):
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


def in_process(args):
    """The module's work without Ansible: the entry point module_utils/_audit/audit_scan_run.run()."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.audit_scan_run import run as run_audit_scan

    start = time.monotonic()
    result = run_audit_scan(dict(args))
    return time.monotonic() - start, result


def one_size(work, size_mb, full_scan):
    path = os.path.join(work, "audit-%d.jsonl" % size_mb)
    start = time.monotonic()
    size = generate(path, size_mb)
    print("generated %s: %.0f MiB in %.1f s" % (path, size / 1048576.0, time.monotonic() - start), flush=True)
    out = {"size_mb": size_mb}
    try:
        args = {"audit_path": path, "checks": ["auth_failed"], "top": 10}
        timed(module_cmd(args))  # warm-up (page cache, AnsiballZ)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        seconds, proc = timed(module_cmd(args))
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        result = module_result(proc)
        if result.get("failed"):
            print("module failed: %s" % result.get("msg"))
            return out
        out.update(module_s=seconds, peak_mib=peak / 1024.0, auth_failed=result["auth_failed"]["total"])
        print("module   audit_scan checks=[auth_failed]: %.2f s, %d lines, %d auth.failed, top %s"
              % (seconds, result["scanned_lines"], result["auth_failed"]["total"],
                 result["auth_failed"]["by_token_prefix"][0]))
        print("module   peak memory (ru_maxrss of children): %.1f MiB%s" % (
            peak / 1024.0, "" if peak > before else " (not above the warm-up run's)"))
        inproc_s, inproc = in_process(args)
        out["in_process_s"] = inproc_s
        print("inproc   audit_scan_run.run() in this process: %.2f s, %d auth.failed%s"
              % (inproc_s, inproc["auth_failed"]["total"],
                 "" if inproc["auth_failed"]["total"] == result["auth_failed"]["total"]
                 else "  DIFFERS FROM THE MODULE"))
        jq = shutil.which("jq")
        if jq is None:
            print("baseline unavailable: jq is not installed (apt-get install -y jq)")
        else:
            pipeline = "jq -r 'select(.event==\"auth.failed\")|.tokenPrefix' %s | sort | uniq -c" % path
            timed(pipeline, shell=True)
            jq_seconds, jq_proc = timed(pipeline, shell=True)
            out["jq_s"] = jq_seconds
            top = max((line.split() for line in jq_proc.stdout.splitlines() if line.strip()), key=lambda p: int(p[0]))
            print("baseline jq | sort | uniq -c: %.2f s, top %s" % (jq_seconds, top))
            ratio = jq_seconds / seconds
            print("ratio    module is %.2fx %s than jq (target: faster); in process %.2fx of jq; peak %.0f MiB "
                  "(target: < 200 MiB)%s"
                  % (ratio if ratio >= 1 else 1 / ratio, "faster" if ratio >= 1 else "SLOWER", inproc_s / jq_seconds,
                     peak / 1024.0, "" if ratio >= 1 and peak < 200 * 1024 else "  ABOVE TARGET"))
        if full_scan:
            with open(path, "rb") as handle:
                handle.seek(-4096, os.SEEK_END)
                last_ts = handle.read().splitlines()[-1][7:31].decode()
            full = {"audit_path": path, "last": "1h", "until": last_ts, "baseline": "6h"}
            full_seconds, full_proc = timed(module_cmd(full))
            full_result = module_result(full_proc)
            out["full_scan_s"] = full_seconds
            print("info     full scan (all checks, the last hour, a 6 h baseline): %.2f s, %d lines in window, "
                  "high_volume %d, new_ip %d, after_revocation %d" % (
                      full_seconds, full_result.get("lines", 0),
                      len((full_result.get("exfiltration") or {}).get("high_volume", [])),
                      len((full_result.get("exfiltration") or {}).get("new_ip", [])),
                      len((full_result.get("exfiltration") or {}).get("after_revocation", []))))
        print("info     peak memory of any child so far: %.1f MiB"
              % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0), flush=True)
        return out
    finally:
        os.unlink(path)  # one size on disk at a time (4 GiB is the largest)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--sizes", help="several sizes in MiB, comma-separated (e.g. 256,1024,4096): a growth curve")
    parser.add_argument("--json", help="write the figures (seconds at each size, slopes, the machine) here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (prints its path)")
    opts = parser.parse_args()
    sizes = growth.parse_sizes(opts.sizes) if opts.sizes else [opts.size_mb]
    work = tempfile.mkdtemp(prefix="bench-audit-")
    try:
        machine_before = growth.machine()
        print(growth.machine_line("machine before"), flush=True)
        rows = [one_size(work, size, full_scan=size == sizes[-1]) for size in sizes]
        print(growth.machine_line("machine after"))
        sides = {"module (ansible)": {}, "in process": {}, "jq|sort|uniq": {}}
        for row in rows:
            for side, key in (("module (ansible)", "module_s"), ("in process", "in_process_s"),
                              ("jq|sort|uniq", "jq_s")):
                if key in row:
                    sides[side][row["size_mb"]] = row[key]
        if len(sizes) > 1:
            for line in growth.growth_table("MiB", sides, per=1024):
                print(line)
        if opts.json:
            with open(opts.json, "w") as handle:
                json.dump({"figure": "audit_scan", "sizes_mb": sizes, "rows": rows, "growth": growth.growth(sides),
                           "statistic": "one run after a warm-up", "machine_before": machine_before,
                           "machine_after": growth.machine(), "machine": growth.machine(),
                           "curves": [growth.curve("audit_scan", "audit scan (auth failures by token prefix): time "
                                                   "against audit.jsonl size", "audit.jsonl (MiB)", sides)]},
                          handle, indent=2)
    finally:
        if opts.keep:
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
