#!/usr/bin/env python3
"""Figure: backup create, first verify and restore against equivalent-work shell baselines, in process and through Ansible, with growth.

Issue 20's restatement of bench/backup_restore.py (which stays as it was: plain tar as the baseline).
For each size of --sizes (MiB) it builds a valid gateway data dir (backup_restore.build_data_dir) and
times, side by side, --repeat rounds (medians):

  in process   the module_utils entry points, no Ansible: _backup/gateway_backup_run.run(state=present,
               transport=files), _backup/gateway_backup_info_run.run(verify=true) (the backup's first
               verify: every .json and every .jsonl line parsed, in parallel on every CPU), run(state=restored)
  ansible      the same through `ansible localhost -m mcpops.runbooks.<module>` (Ansible's start-up and
               AnsiballZ included); --no-ansible leaves it out
  baseline     the same guarantees the shell way:
               create:  tar -cf + sha256sum of every file into a manifest + sync of both files
               verify:  sha256sum -c of that manifest + jq empty over every .json and .jsonl file
                        (in an extracted copy: the module verifies its backup's own copy of the data)
               restore: a safety tar of the current data + tar -xf into a fresh dir + sha256sum -c there
                        + sync -f

Targets: in process <= 1.0x of the baseline; through Ansible <= 1.5x at 1 GiB. Beside them, Ansible's
fixed cost: `ansible -m ping`, and each module's own imports above ansible.module_utils.basic
(`python -X importtime`, target <= 30 ms). With several sizes it prints the slope (seconds per GiB,
least squares) of each side. Every line of figures is preceded by the machine's load (os.getloadavg)
and CPU count. A figure, not a test: it exits 0 whatever the numbers are.

    .venv/bin/python bench/backup_figures.py --sizes 64 --repeat 1 --json /tmp/backup_figures.json   # a check
    .venv/bin/python bench/backup_figures.py --sizes 256,1024,4096 --repeat 3 --json docs/figures/backup.json
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import backup_restore as legacy  # the data dir, `ansible -m` and settle(), shared with the old figure

ROOT = legacy.ROOT
MIB = legacy.MIB
PROCESS_TARGET = 1.0
ANSIBLE_TARGET = 1.5
IMPORT_TARGET_MS = 30.0
OPERATIONS = ("create", "verify", "restore")
BASELINES = {
    "create": "tar -cf + sha256sum manifest + sync",
    "verify": "sha256sum -c + jq empty",
    "restore": "safety tar + tar -xf + sha256sum -c + sync -f",
}
MODULES = ("gateway_backup", "gateway_backup_info")


_settle = {"bytes": legacy.PREFAULT_BYTES}


def _mem_available():
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return legacy.PREFAULT_BYTES * 2


def settle_for(size_bytes):
    """How much settle() pre-faults for a data dir of size_bytes: 2.5x it (the old figure's 2.5 GiB at 1 GiB),
    at least 256 MiB, at most half the memory available now."""
    _settle["bytes"] = int(min(max(2.5 * size_bytes, 256 * MIB), _mem_available() // 2))


def settle():
    """backup_restore.settle() (sync, then touch and free memory so that every side writes into warm memory),
    scaled to the data dir."""
    os.sync()
    block = bytearray(_settle["bytes"])
    view = memoryview(block)
    view[::4096] = b"\1" * len(range(0, _settle["bytes"], 4096))
    del view, block


def load_line():
    one, five, fifteen = os.getloadavg()
    return "load average %.2f %.2f %.2f, %d CPUs" % (one, five, fifteen, os.cpu_count() or 0)


def machine():
    one, five, fifteen = os.getloadavg()
    return {"cpus": os.cpu_count(), "loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)],
            "python": sys.version.split()[0], "machine": platform.machine(), "kernel": platform.release()}


# -- in process: the module_utils entry points -------------------------------------------


def _entry_points():
    sys.path.insert(0, os.path.join(ROOT, "collections"))
    from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import gateway_backup_info_run
    from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import gateway_backup_run

    return gateway_backup_run.run, gateway_backup_info_run.run


def _params(data_dir, **given):
    """The module's parameters as AnsibleModule would hand them to run(): every option, its default."""
    params = {"state": "present", "data_dir": data_dir, "backup_id": None, "transport": "files", "force": False,
              "max_schema_version": 3, "forensic_key_file": None, "keep_last": None, "max_age_days": None,
              "verify": False, "api_url": None, "api_token": None, "validate_certs": True, "timeout": 10,
              "break_glass_account": None, "operator": None}
    params.update(given)
    return params


def _timed(call):
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def _touch_audit(data_dir):
    """Make the data differ from the backup (untimed), so that a restore really swaps the data in."""
    with open(os.path.join(data_dir, "audit.jsonl"), "a") as handle:
        handle.write(json.dumps({"ts": "2026-11-30T00:00:00.000Z", "event": "auth.ok", "status": 200}) + "\n")


def process_round(data_dir):
    """create, first verify, restore through the entry points in this process; leaves data_dir as it was."""
    backup_run, info_run = _entry_points()
    backups = os.path.join(data_dir, "backups")
    legacy.rmtree(backups)
    settle()
    t_create, made = _timed(lambda: backup_run(_params(data_dir)))
    assert made["changed"] and made["transport"] == "files", made
    settle()
    t_verify, info = _timed(lambda: info_run(_params(data_dir, verify=True)))
    assert info["latest_valid"] == made["backup_id"] and all(b["valid"] for b in info["backups"]), info
    size_before = os.path.getsize(os.path.join(data_dir, "audit.jsonl"))
    _touch_audit(data_dir)
    settle()
    t_restore, restored = _timed(lambda: backup_run(_params(data_dir, state="restored", backup_id=made["backup_id"])))
    assert restored["changed"] and restored["safety_backup_id"], restored
    assert os.path.getsize(os.path.join(data_dir, "audit.jsonl")) == size_before
    legacy.rmtree(backups)
    return {"create": t_create, "verify": t_verify, "restore": t_restore}


def ansible_round(data_dir):
    """The same three through `ansible localhost -m` (verify_again of the old figure left out)."""
    backups = os.path.join(data_dir, "backups")
    legacy.rmtree(backups)
    settle()
    t_create, made = legacy.run_module("mcpops.runbooks.gateway_backup",
                                       {"data_dir": data_dir, "state": "present", "transport": "files"})
    assert made["changed"], made
    settle()
    t_verify, info = legacy.run_module("mcpops.runbooks.gateway_backup_info",
                                       {"data_dir": data_dir, "transport": "files", "verify": True})
    assert info["latest_valid"] == made["backup_id"], info
    _touch_audit(data_dir)
    settle()
    t_restore, restored = legacy.run_module("mcpops.runbooks.gateway_backup",
                                            {"data_dir": data_dir, "state": "restored", "backup_id": made["backup_id"]})
    assert restored["changed"] and restored["safety_backup_id"], restored
    legacy.rmtree(backups)
    return {"create": t_create, "verify": t_verify, "restore": t_restore}


# -- the equivalent-work baseline ------------------------------------------------------------

CREATE_SH = r"""set -e
tar -cf "$W/backup.tar" -C "$D" .
cd "$D" && find . -type f -print0 | sort -z | xargs -0 sha256sum -- > "$W/SHA256SUMS"
sync "$W/backup.tar" "$W/SHA256SUMS"
"""
VERIFY_SH = r"""set -e
cd "$W/copy" && sha256sum --quiet --strict -c "$W/SHA256SUMS"
find . -type f \( -name '*.json' -o -name '*.jsonl' \) -print0 | xargs -0 -r jq empty
"""
VERIFY_NO_JQ_SH = r"""set -e
cd "$W/copy" && sha256sum --quiet --strict -c "$W/SHA256SUMS"
"""
RESTORE_SH = r"""set -e
tar -cf "$W/safety.tar" -C "$D" .
mkdir "$W/restored" && tar -xf "$W/backup.tar" -C "$W/restored"
cd "$W/restored" && sha256sum --quiet --strict -c "$W/SHA256SUMS"
sync -f "$W/restored"
"""


def _bash(script, data_dir, work):
    start = time.perf_counter()
    subprocess.run(["bash", "-c", script], check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, D=data_dir, W=work))
    return time.perf_counter() - start


def _clear(work):
    for name in ("backup.tar", "SHA256SUMS", "safety.tar", "copy", "restored"):
        path = os.path.join(work, name)
        if os.path.isdir(path):
            legacy.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)


def baseline_round(data_dir, work, have_jq):
    _clear(work)
    settle()
    t_create = _bash(CREATE_SH, data_dir, work)
    os.mkdir(os.path.join(work, "copy"))
    subprocess.run(["tar", "-xf", os.path.join(work, "backup.tar"), "-C", os.path.join(work, "copy")], check=True)
    settle()
    t_verify = _bash(VERIFY_SH if have_jq else VERIFY_NO_JQ_SH, data_dir, work)
    settle()
    t_restore = _bash(RESTORE_SH, data_dir, work)
    _clear(work)
    return {"create": t_create, "verify": t_verify, "restore": t_restore}


# -- Ansible's fixed cost ------------------------------------------------------------------------

IMPORTS_PY = (
    "import ansible.module_utils.basic\n"
    "import ansible_collections.mcpops.runbooks.plugins.modules.%s\n"
)


def own_imports(module, repeat=5, cold=False):
    """(ms, [(self ms, name)] heaviest first) the module file adds, imported in a fresh Python with -X importtime,
    above ansible.module_utils.basic: the cumulative time of every top-level import after basic's.

    cold=True: the collection's modules and module_utils copied to a temp dir without __pycache__ and
    nothing written, so they are compiled from source as from an AnsiballZ zip (zipimport writes no .pyc);
    the standard library and ansible keep their .pyc as on a host."""
    samples, heaviest = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="mcpops-bench-imports-") as tmp:
            env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "collections"))
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            if cold:
                plugins = os.path.join(tmp, "ansible_collections", "mcpops", "runbooks", "plugins")
                for part in ("modules", "module_utils"):
                    shutil.copytree(os.path.join(ROOT, "plugins", part), os.path.join(plugins, part),
                                    ignore=shutil.ignore_patterns("__pycache__"))
                env.update(PYTHONPATH=tmp, PYTHONDONTWRITEBYTECODE="1")
            proc = subprocess.run([sys.executable, "-X", "importtime", "-c", IMPORTS_PY % module],
                                  env=env, capture_output=True, text=True, check=True)
        after_basic, top, rows = False, [], []
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or line.count("|") != 2:
                continue
            own, cumulative, name = line[len("import time:"):].split("|")
            if not cumulative.strip().isdigit():
                continue  # the header line
            depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
            if depth == 0 and name.strip() == "ansible.module_utils.basic":
                after_basic = True
            elif after_basic:
                rows.append((int(own) / 1000.0, name.strip()))
                if depth == 0:
                    top.append(int(cumulative) / 1000.0)
        samples.append(sum(top))
        heaviest = sorted(rows, reverse=True)[:5]
    return statistics.median(samples), heaviest


# -- growth ---------------------------------------------------------------------------------------


def slope(sizes_mib, seconds):
    """Least-squares seconds per GiB; None with fewer than two sizes."""
    if len(sizes_mib) < 2:
        return None
    xs = [size / 1024.0 for size in sizes_mib]
    mean_x, mean_y = statistics.mean(xs), statistics.mean(seconds)
    var = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, seconds)) / var if var else None


def measure_size(size_mb, args, have_jq):
    work = tempfile.mkdtemp(prefix="mcpops-bench-backupfig-", dir=args.tmpdir)
    try:
        data_dir = os.path.join(work, "data")
        total_bytes, n_files = legacy.build_data_dir(data_dir, size_mb)
        settle_for(total_bytes)
        print("\n== %d MiB: %d files, %.1f MiB; %s" % (size_mb, n_files, total_bytes / MIB, load_line()), flush=True)
        sides = {"process": process_round, "baseline": lambda d: baseline_round(d, work, have_jq)}
        if not args.no_ansible:
            sides["ansible"] = ansible_round
        runs = {side: [] for side in sides}
        for side, call in sides.items():  # untimed warm-up: the page cache cannot be dropped without root
            call(data_dir)
        for number in range(1, args.repeat + 1):
            for side, call in sides.items():
                runs[side].append(call(data_dir))
            print("round %d/%d: %s" % (number, args.repeat, "; ".join(
                "%s %s" % (side, " ".join("%s %.2f s" % (op, runs[side][-1][op]) for op in OPERATIONS))
                for side in sides)), flush=True)
        medians = {side: {op: statistics.median(r[op] for r in rows) for op in OPERATIONS} for side, rows in runs.items()}
        print(load_line())
        for op in OPERATIONS:
            base = medians["baseline"][op]
            line = "%s: in process %.2f s, baseline (%s) %.2f s, %.2fx (target <= %.1fx)%s" % (
                op, medians["process"][op], BASELINES[op], base, medians["process"][op] / base, PROCESS_TARGET,
                "" if medians["process"][op] <= base * PROCESS_TARGET else "  ABOVE TARGET")
            if "ansible" in medians:
                ratio = medians["ansible"][op] / base
                line += "; through Ansible %.2f s, %.2fx (target <= %.1fx at 1 GiB)%s" % (
                    medians["ansible"][op], ratio, ANSIBLE_TARGET,
                    "  ABOVE TARGET" if size_mb == 1024 and ratio > ANSIBLE_TARGET else "")
            print(line)
        return {"size_mib": size_mb, "bytes": total_bytes, "files": n_files, "machine_after": machine(),
                "medians_s": {side: {op: round(v, 3) for op, v in ops.items()} for side, ops in medians.items()},
                "runs_s": {side: [{op: round(r[op], 3) for op in OPERATIONS} for r in rows] for side, rows in runs.items()}}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def curves(sizes):
    """The growth curves in bench/plot.py's form: one a operation, x = size (MiB), one series a side."""
    names = {"process": "in process (module_utils)", "baseline": None, "ansible": "through Ansible"}
    out = []
    for op in OPERATIONS:
        series = {}
        for side, label in names.items():
            if all(side in s["medians_s"] for s in sizes):
                series[label or "baseline: " + BASELINES[op]] = [s["medians_s"][side][op] for s in sizes]
        out.append({"name": "backup_%s" % op, "title": "backup %s: time against data dir size" % op,
                    "x_label": "data dir (MiB)", "y_label": "seconds (median)", "x": [s["size_mib"] for s in sizes],
                    "series": series})
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1024", help="data dir sizes in MiB, comma-separated (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds a size, medians reported (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the results (and the growth curves) as JSON")
    parser.add_argument("--no-ansible", action="store_true", help="leave out the runs through Ansible")
    parser.add_argument("--tmpdir", help="where to build the data dirs (default: the system temp dir)")
    args = parser.parse_args(argv)
    sizes_mib = [int(part) for part in args.sizes.split(",") if part.strip()]
    have_jq = shutil.which("jq") is not None
    print("backup figures, sizes %s MiB, %d rounds; %s" % (",".join(map(str, sizes_mib)), args.repeat, load_line()))
    if not have_jq:
        print("jq missing: the verify baseline is sha256sum -c alone (install jq: scripts/bootstrap does as root)")
    result = {"figure": "backup", "machine_before": machine(), "repeat": args.repeat, "statistic": "median",
              "cache": "warm (one untimed warm-up round a side)", "jq": have_jq, "baselines": BASELINES,
              "targets": {"process_x": PROCESS_TARGET, "ansible_x_at_1GiB": ANSIBLE_TARGET, "own_imports_ms": IMPORT_TARGET_MS}}
    try:
        fixed = {}
        if not args.no_ansible:
            ping = statistics.median(legacy.run_module("ansible.builtin.ping", {})[0] for _ in range(3))
            fixed["ansible_ping_s"] = round(ping, 3)
            print("Ansible's fixed cost: ansible -m ping %.2f s (in every through-Ansible time)" % ping)
        for module in MODULES:
            for cold in (False, True):
                ms, heaviest = own_imports(module, cold=cold)
                key = "own_imports_ms_cold" if cold else "own_imports_ms"
                fixed.setdefault(key, {})[module] = round(ms, 1)
                print("%s: own imports above ansible.module_utils.basic %.1f ms %s (target <= %.0f ms)%s; "
                      "most self time: %s" % (
                          module, ms, "ours compiled from source, as from AnsiballZ" if cold else "ours from .pyc",
                          IMPORT_TARGET_MS, "" if ms <= IMPORT_TARGET_MS else "  ABOVE TARGET",
                          ", ".join("%s %.1f ms" % (name, t) for t, name in heaviest)))
        result["fixed"] = fixed
        sizes = [measure_size(size, args, have_jq) for size in sizes_mib]
        result["sizes"] = sizes
        result["slopes_s_per_gib"] = {}
        if len(sizes) > 1:
            print("\ngrowth (least squares over %s MiB), seconds per GiB; %s" % (",".join(map(str, sizes_mib)), load_line()))
            for op in OPERATIONS:
                row = {side: slope(sizes_mib, [s["medians_s"][side][op] for s in sizes]) for side in sizes[0]["medians_s"]}
                result["slopes_s_per_gib"][op] = {side: round(v, 3) for side, v in row.items()}
                print("%s: %s" % (op, ", ".join("%s %.2f s/GiB" % (side, v) for side, v in row.items())))
        result["curves"] = curves(sizes)
        result["machine_after"] = machine()
        if args.json:
            with open(args.json, "w") as handle:
                json.dump(result, handle, indent=2)
                handle.write("\n")
            print("results written to %s (draw them: .venv/bin/python bench/plot.py %s)" % (args.json, args.json))
    except Exception as exc:  # a figure: report, never fail the caller
        print("bench/backup_figures.py: error: %s: %s" % (type(exc).__name__, exc), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
