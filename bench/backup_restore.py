#!/usr/bin/env python3
"""Figure: gateway_backup / gateway_backup_info through Ansible against tar and sha256sum.

Builds a gateway data dir of --size-mb (default 1024) in a temp dir, then times, --repeat
times each (median reported), the real modules run by `ansible localhost -m ...`:

  create   gateway_backup state=present transport=files   vs  tar -cf backup.tar -C datadir .
  verify   gateway_backup_info transport=files verify=true  vs  sha256sum -c <list> in a copy
           (the first verify of the new backup: every .json/.jsonl line is parsed)
  verify_again  the same gateway_backup_info once more: every file is hashed again, the parse is
           skipped for the bytes the parse cache (backups/<id>/.parsed.json) already vouches for
  restore  gateway_backup state=restored backup_id=<id>     vs  tar -xf backup.tar into a fresh dir

The page cache cannot be dropped without root, so one untimed warm-up round runs first and
every timed round works on a warm cache (both sides alike); before every timed step, on both
sides, an untimed settle() flushes what the step before left dirty and pre-faults memory. The module times include
Ansible's own start-up (reported separately as `ansible ping`), because that is what an
operator pays. A figure, not a test: it exits 0 whatever the ratios are.

    .venv/bin/python bench/backup_restore.py [--size-mb 1024] [--repeat 3] [--json out.json]
"""

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
TARGET = 1.5
MIB = 1024 * 1024

OPERATIONS = (
    ("create", "tar -cf"),
    ("verify", "sha256sum -c"),
    ("verify_again", "sha256sum -c"),
    ("restore", "tar -xf"),
)
# Not the target's baseline: tar followed by the flush to disk that the module does and tar leaves out.
DURABLE_BASELINES = (
    ("create", "tar -cf + sync FILE"),
    ("restore", "tar -xf + sync -f"),
)


# -- the data dir ------------------------------------------------------------------


def _jsonl_block(make_line, rng, approx_bytes):
    lines = []
    size = 0
    while size < approx_bytes:
        line = json.dumps(make_line(rng), separators=(",", ":")) + "\n"
        lines.append(line)
        size += len(line)
    return "".join(lines).encode("utf-8")


def _write_jsonl(path, make_line, rng, target_bytes):
    """target_bytes of valid JSON lines: a ~1 MiB block of distinct lines, written repeatedly."""
    block = _jsonl_block(make_line, rng, min(MIB, max(4096, target_bytes)))
    written = 0
    with open(path, "wb") as handle:
        while written + len(block) <= target_bytes:
            handle.write(block)
            written += len(block)
        rest = target_bytes - written
        if rest > 0:
            cut = block.rfind(b"\n", 0, rest)
            if cut >= 0:
                handle.write(block[: cut + 1])
                written += cut + 1
    return written


def _audit_line(rng):
    event = rng.choice(["auth.failed", "auth.ok", "rate_limit.exceeded", "token.issued", "tool.called"])
    line = {
        "ts": "2026-11-%02dT%02d:%02d:%02d.%03dZ" % (rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
                                                    rng.randint(0, 59), rng.randint(0, 999)),
        "event": event,
        "status": {"auth.failed": 401, "rate_limit.exceeded": 429}.get(event, 200),
        "tokenPrefix": "mcp_%04x" % rng.randint(0, 0xFFFF),
        "clientId": rng.choice(["cursor-ide", "ci-bot", "claude-desktop"]),
        "orgId": "org_%s" % rng.choice(["acme", "globex", "initech"]),
        "ip": "203.0.113.%d" % rng.randint(1, 254),
        "path": "/mcp",
    }
    if event == "auth.failed":
        line["reason"] = rng.choice(["revoked", "expired", "unknown"])
    if event == "tool.called":
        line["tool"] = rng.choice(["list_profiles", "get_active_profile", "query_catalog"])
        line["rows"] = rng.randint(0, 5000)
    return line


def _usage_line(rng):
    return {
        "ts": "2026-11-%02dT%02d:%02d:%02dZ" % (rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)),
        "tokenId": "tok_%06x" % rng.randint(0, 0xFFFFFF),
        "tokenPrefix": "mcp_%04x" % rng.randint(0, 0xFFFF),
        "clientId": rng.choice(["cursor-ide", "ci-bot"]),
        "orgId": "org_acme",
        "tool": rng.choice(["list_profiles", "check_profile_health"]),
        "status": "ok",
    }


def _dump(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(obj, handle, indent=2)
        handle.write("\n")


def build_data_dir(data_dir, size_mb, seed=1):
    """A valid gateway data dir of about size_mb MiB; returns (bytes, files)."""
    rng = random.Random(seed)
    total = size_mb * MIB
    os.makedirs(data_dir)
    _dump(os.path.join(data_dir, "storage-meta.json"),
          {"schemaVersion": 3, "appliedMigrations": ["001_init", "002_tokens_org", "003_rate_limits"]})
    _dump(os.path.join(data_dir, "tokens.json"), {"tokens": [
        {"id": "tok_%06x" % i, "prefix": "mcp_%04x" % (i & 0xFFFF), "secretHash": "%064x" % rng.getrandbits(256),
         "clientId": "cursor-ide", "orgId": "org_acme", "scopes": ["tools:read"],
         "createdAt": "2026-11-01T00:00:00Z", "expiresAt": None, "revokedAt": None, "blocked": False,
         "rateLimit": {"requestsPerMinute": 60}}
        for i in range(2000)]})
    _dump(os.path.join(data_dir, "profiles.json"), {"profiles": [
        {"name": "p%02d" % i, "environment": ["production", "staging", "dev"][i % 3],
         "odataUrl": "https://1c-%02d.example.invalid/odata/standard.odata" % i,
         "passwordEnv": "ONEC_PASSWORD_%02d" % i, "writeTools": i % 3 == 2}
        for i in range(40)]})
    _dump(os.path.join(data_dir, "clients.json"), {"allowedClients": ["cursor-ide", "ci-bot", "claude-desktop"]})
    # several hundred index files, ~4 % of the total (at least 2 KiB each)
    index_files = 400
    per_index = max(2048, int(total * 0.04) // index_files)
    for i in range(index_files):
        entries = []
        size = 0
        while size < per_index:
            entry = {"object": "Catalog.Item%05d" % rng.randint(0, 99999), "fields": rng.randint(1, 80),
                     "hash": "%032x" % rng.getrandbits(128)}
            entries.append(entry)
            size += 90
        sub = "index/part-%02d" % (i // 50)
        _dump(os.path.join(data_dir, sub, "objects-%03d.json" % i), {"objects": entries})
    used = sum(os.path.getsize(os.path.join(r, f)) for r, _d, fs in os.walk(data_dir) for f in fs)
    remaining = max(0, total - used)
    _write_jsonl(os.path.join(data_dir, "usage.jsonl"), _usage_line, rng, remaining // 8)
    _write_jsonl(os.path.join(data_dir, "audit.jsonl"), _audit_line, rng, remaining - remaining // 8)
    files = [os.path.join(r, f) for r, _d, fs in os.walk(data_dir) for f in fs]
    return sum(os.path.getsize(p) for p in files), len(files)


# -- running things ------------------------------------------------------------------


def ansible_env():
    return dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )


def run_module(module, args):
    """(seconds, result) of one `ansible localhost -m <module>` run from the repo root."""
    cmd = [ANSIBLE, "localhost", "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % sys.executable, "-m", module]
    if args:
        cmd += ["-a", json.dumps(args)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{"):])
        result = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise RuntimeError("%s did not return a result (rc %d): %s %s" % (module, proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
    if result.get("failed") or result.get("unreachable"):
        raise RuntimeError("%s failed: %s" % (module, result.get("msg")))
    return elapsed, result


def run_shell(cmd, cwd=None):
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


PREFAULT_BYTES = 5 << 29  # 2.5 GiB: more than the biggest step writes (a restore: safety backup + staged copy)


def settle():
    """Untimed, before every timed step on both sides, so that each starts from the same machine state:
    flush what the step before left dirty (a write stalls once the kernel's dirty limit is reached), then touch
    and free PREFAULT_BYTES of memory. On a VM that hands free memory back to its host (free page reporting),
    the first write into such memory costs several times a write into memory freed a moment ago (measured here:
    1 GiB 3.4 s cold, 0.5 s warm); without this, whichever side freed its previous output just before its step
    (tar: its old archive) wrote into warm memory and the other into cold."""
    os.sync()
    block = bytearray(PREFAULT_BYTES)
    view = memoryview(block)
    view[::4096] = b"\1" * len(range(0, PREFAULT_BYTES, 4096))
    del view, block


def rmtree(path):
    if os.path.lexists(path):
        shutil.rmtree(path)


def module_round(data_dir):
    """One create / verify / restore cycle through Ansible; leaves data_dir as it found it."""
    backups = os.path.join(data_dir, "backups")
    rmtree(backups)  # a fresh create, not the idempotent "newest backup already matches" path
    settle()
    t_create, made = run_module("mcpops.runbooks.gateway_backup",
                                {"data_dir": data_dir, "state": "present", "transport": "files"})
    assert made["changed"] and made["transport"] == "files", made
    backup_id = made["backup_id"]
    settle()
    t_verify, info = run_module("mcpops.runbooks.gateway_backup_info",
                                {"data_dir": data_dir, "transport": "files", "verify": True})
    assert info["latest_valid"] == backup_id and all(b["valid"] for b in info["backups"]), info
    settle()
    t_verify_again, info = run_module("mcpops.runbooks.gateway_backup_info",
                                      {"data_dir": data_dir, "transport": "files", "verify": True})
    assert info["latest_valid"] == backup_id and all(b["valid"] for b in info["backups"]), info
    # make the data differ, so that the restore really swaps the data in (untimed)
    audit = os.path.join(data_dir, "audit.jsonl")
    size_before = os.path.getsize(audit)
    with open(audit, "a") as handle:
        handle.write(json.dumps({"ts": "2026-11-30T00:00:00.000Z", "event": "auth.ok", "status": 200}) + "\n")
    settle()
    t_restore, restored = run_module("mcpops.runbooks.gateway_backup",
                                     {"data_dir": data_dir, "state": "restored", "backup_id": backup_id})
    assert restored["changed"] and restored["safety_backup_id"], restored
    assert restored["files_changed"]["changed"] == ["audit.jsonl"], restored["files_changed"]
    assert os.path.getsize(audit) == size_before
    rmtree(backups)
    return {"create": t_create, "verify": t_verify, "verify_again": t_verify_again, "restore": t_restore}


def baseline_round(data_dir, work, checksums):
    tar = os.path.join(work, "backup.tar")
    fresh = os.path.join(work, "fresh")
    for path in (tar, fresh):
        if os.path.isdir(path):
            rmtree(path)
        elif os.path.exists(path):
            os.unlink(path)
    settle()
    t_create = run_shell(["tar", "-cf", tar, "-C", data_dir, "."])
    # The durable variants, for reading the figure only: the module fsyncs what it writes, tar does not.
    t_create_sync = t_create + run_shell(["sync", tar])
    os.mkdir(fresh)
    settle()
    t_restore = run_shell(["tar", "-xf", tar, "-C", fresh])
    t_restore_sync = t_restore + run_shell(["sync", "-f", fresh])
    settle()
    t_verify = run_shell(["sha256sum", "--quiet", "-c", checksums], cwd=fresh)
    return {"create": t_create, "verify": t_verify, "verify_again": t_verify, "restore": t_restore,
            "create_durable": t_create_sync, "restore_durable": t_restore_sync}


def write_checksums(data_dir, path):
    """The `sha256sum` list of the data dir (what the manifest is to the module), made untimed."""
    rels = sorted(os.path.relpath(os.path.join(r, f), data_dir) for r, _d, fs in os.walk(data_dir) for f in fs)
    out = subprocess.run(["sha256sum", "--"] + rels, cwd=data_dir, check=True, capture_output=True, text=True).stdout
    with open(path, "w") as handle:
        handle.write(out)


def profile_module_utils(data_dir, top=14):
    """cProfile of the module_utils the modules call, in process (no Ansible), one pass each."""
    import cProfile
    import io
    import pstats

    sys.path.insert(0, os.path.join(ROOT, "collections"))
    from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import BackupStore

    store = BackupStore(data_dir)
    rmtree(store.backups_dir)

    def info_verify():  # what gateway_backup_info verify=true does
        entries = store.list()
        problems = [store.verify(entry["id"]) for entry in entries]
        latest = store.latest_valid(entries=entries)
        store.save_parse_cache()
        return problems, latest

    def create():  # what gateway_backup state=present transport=files does with no backup yet
        store.list()
        return store.create()

    made = {}
    steps = [("create", lambda: made.setdefault("id", create()["id"])), ("verify", info_verify)]

    def restore():
        with open(os.path.join(data_dir, "audit.jsonl"), "a") as handle:
            handle.write(json.dumps({"ts": "2026-11-30T00:00:00.000Z", "event": "auth.ok"}) + "\n")
        return store.restore(made["id"])

    steps.append(("restore", restore))
    for name, call in steps:
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.runcall(call)
        elapsed = time.perf_counter() - start
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(r"module_utils|hashlib|json|fsync|read|write", top)
        stats.sort_stats("tottime").print_stats(8)
        print("== %s: %.2f s in process (cProfile on)" % (name, elapsed))
        print(out.getvalue())
    rmtree(store.backups_dir)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the data dir (MiB), default 1024")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds, the median is reported (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--profile", action="store_true",
                        help="instead of the figure: cProfile the module_utils functions in process, one pass each")
    parser.add_argument("--tmpdir", help="where to build the data dir (default: the system temp dir)")
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="mcpops-bench-backup-", dir=args.tmpdir)
    results = {}
    try:
        data_dir = os.path.join(work, "data")
        start = time.perf_counter()
        total_bytes, n_files = build_data_dir(data_dir, args.size_mb)
        print("data dir: %d files, %.1f MiB (built in %.1f s) under %s"
              % (n_files, total_bytes / MIB, time.perf_counter() - start, work), flush=True)
        if args.profile:
            run_shell(["cat", "--"] + [os.path.join(r, f) for r, _d, fs in os.walk(data_dir) for f in fs])
            profile_module_utils(data_dir)
            return 0
        checksums = os.path.join(work, "SHA256SUMS")
        write_checksums(data_dir, checksums)
        overhead = [run_module("ansible.builtin.ping", {})[0] for _ in range(3)]
        print("warm-up round (untimed; the page cache cannot be dropped without root) ...", flush=True)
        module_round(data_dir)
        baseline_round(data_dir, work, checksums)
        module_runs, baseline_runs = [], []
        for number in range(1, args.repeat + 1):
            module_runs.append(module_round(data_dir))
            baseline_runs.append(baseline_round(data_dir, work, checksums))
            print("round %d/%d: module %s | baseline %s" % (
                number, args.repeat,
                " ".join("%s %.2f s" % (k, v) for k, v in module_runs[-1].items()),
                " ".join("%s %.2f s" % (k, v) for k, v in baseline_runs[-1].items())), flush=True)
        print()
        worst = 0.0
        for name, baseline in OPERATIONS:
            mod = statistics.median(r[name] for r in module_runs)
            base = statistics.median(r[name] for r in baseline_runs)
            ratio = mod / base if base > 0 else float("inf")
            worst = max(worst, ratio)
            results[name] = {
                "module_s": round(mod, 3), "baseline": baseline, "baseline_s": round(base, 3),
                "ratio": round(ratio, 2), "target": TARGET, "within_target": ratio <= TARGET,
                "module_runs_s": [round(r[name], 3) for r in module_runs],
                "baseline_runs_s": [round(r[name], 3) for r in baseline_runs],
            }
            print("%s: module %.2f s, baseline %s %.2f s, ratio %.2fx (target <= %.1fx)%s"
                  % (name, mod, baseline, base, ratio, TARGET, "" if ratio <= TARGET else "  ABOVE TARGET"))
        for name, baseline in DURABLE_BASELINES:
            mod = results[name]["module_s"]
            base = statistics.median(r[name + "_durable"] for r in baseline_runs)
            results[name]["durable_baseline"] = baseline
            results[name]["durable_baseline_s"] = round(base, 3)
            results[name]["durable_ratio"] = round(mod / base, 2) if base > 0 else None
            print("%s, for reading only: against the durable baseline %s %.2f s, ratio %.2fx"
                  % (name, baseline, base, mod / base if base > 0 else float("inf")))
        ping = statistics.median(overhead)
        over = [n for n, _b in OPERATIONS if not results[n]["within_target"]]
        print("summary: %.0f MiB, %d files, median of %d warm rounds; Ansible start-up alone (ansible ping) %.2f s "
              "is included in every module time; %s"
              % (total_bytes / MIB, n_files, args.repeat, ping,
                 "all within %.1fx" % TARGET if not over else "above %.1fx: %s (worst %.2fx)" % (TARGET, ", ".join(over), worst)))
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({
                    "figure": "backup_restore", "size_mb": args.size_mb, "bytes": total_bytes, "files": n_files,
                    "repeat": args.repeat, "statistic": "median", "cache": "warm (one untimed warm-up round)",
                    "ansible_ping_s": round(ping, 3), "python": sys.version.split()[0],
                    "machine": platform.machine(), "cpus": os.cpu_count(), "operations": results,
                }, handle, indent=2)
                handle.write("\n")
            print("results written to %s" % args.json)
    except Exception as exc:  # a figure: report, never fail the caller
        print("bench/backup_restore.py: error: %s" % exc, file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
