#!/usr/bin/env python3
"""Figure: every module's own imports above ansible.module_utils.basic, from its AnsiballZ payload (issue 20).

Issue 20's target: each module adds <= 30 ms of its own imports above `ansible.module_utils.basic`. On a
managed host a module runs from its AnsiballZ payload, a zip that zipimport reads without writing a `.pyc`, so
every file of ours that it imports is compiled from source on every run; the standard library keeps its `.pyc`.

For each module of plugins/modules/ (or the ones named) the script builds the payload zip the way ansible-core
does (module_common.recursive_finder and _add_module_to_zip, ansible-core 2.19's own code: the module, every
module_utils file any of its imports can reach, lazy ones included, and ansible's module_utils). Then --repeat
times (default 5) a fresh Python with `-X importtime` puts the zip first on sys.path as the AnsiballZ wrapper
does, imports what the wrapper has imported when it hands over to the module
(`ansible.module_utils._internal._ansiballz._loader`, which imports basic), writes a mark on stderr and imports
the module. Its own cost is the sum of the cumulative times of the top-level imports after the mark; the figure
is the median (the minimum beside it: the least disturbed run). Beside it, what does not depend on the load:
the KiB of our source those imports compiled, and how many of the payload's files of ours were left for later
(imported inside the functions that use them). A module over --target-ms (30) is marked OVER with the imports
of most self time. The machine's load is printed before and after. A figure, not a test: it exits 0 whatever
the numbers are (2 when a payload fails to import).

    .venv/bin/python bench/module_imports.py                                  # every module, median of 5
    .venv/bin/python bench/module_imports.py gateway_backup gateway_backup_info --repeat 9 --top 8
    .venv/bin/python bench/module_imports.py --json docs/figures/module_imports.json
"""

import argparse
import datetime
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile

from growth import machine, machine_line

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES_DIR = os.path.join(ROOT, "collections", "ansible_collections", "mcpops", "runbooks", "plugins", "modules")
OURS = "ansible_collections.mcpops.runbooks."
TARGET_MS = 30.0
MARK = "-- mcpops: the module's own imports from here --"

# What runs in the fresh Python: the AnsiballZ wrapper's state when it hands over to the module
# (ansible/_internal/_ansiballz/_wrapper.py, then module_utils/_internal/_ansiballz/_loader.run_module).
CHILD = """import sys
sys.path.insert(0, %(zip)r)
import ansible.module_utils._internal._ansiballz._loader
sys.stderr.write(%(mark)r + "\\n")
sys.stderr.flush()
import %(fqn)s
"""

_finder = []  # ansible's collection finder, installed once in this process


def module_names():
    """Every module of the collection, by file name."""
    return sorted(name[:-3] for name in os.listdir(MODULES_DIR) if name.endswith(".py") and not name.startswith("_"))


def short(name):
    """A module name without the collection's prefix."""
    return name[len(OURS):] if name.startswith(OURS) else name


def build_payload(module):
    """(fqn, zip bytes): the module's AnsiballZ payload as ansible-core builds it, before it is base64'd into the
    wrapper. Installs ansible's collection finder in this process (mcpops.runbooks through the checkout's link)."""
    if not _finder:
        from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
        _AnsibleCollectionFinder(paths=[os.path.join(ROOT, "collections")])._install()
        _finder.append(True)
    from ansible._internal._ansiballz import _builder
    from ansible._internal._datatag._tags import Origin
    from ansible.executor import module_common

    path = os.path.join(MODULES_DIR, module + ".py")
    fqn = module_common._get_ansible_module_fqn(path)
    with open(path, "rb") as handle:
        source = handle.read()
    out = io.BytesIO()
    now = datetime.datetime.now(datetime.timezone.utc)
    extensions = _builder.ExtensionManager.create(task_vars={})
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        module_common.recursive_finder(module, fqn, Origin(path=path).tag(source), zf, now, extensions)
        module_common._add_module_to_zip(zf, now, fqn, source, path, extensions)
    return fqn, out.getvalue()


def parse_importtime(stderr, mark=MARK):
    """-X importtime's lines after the mark -> (own ms: the top-level imports' cumulative times summed,
    [(self ms, name)] of every import after the mark)."""
    if mark not in stderr:
        raise ValueError("the mark is not in the child's stderr: it failed before the module's imports")
    total_us, rows = 0, []
    for line in stderr.split(mark, 1)[1].splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, cumulative, name = line[len("import time:"):].split("|")
        if not cumulative.strip().isdigit():
            continue  # the header line
        if len(name) - len(name.lstrip(" ")) == 1:  # depth 0: one space after the bar, two more a level
            total_us += int(cumulative)
        rows.append((int(own) / 1000.0, name.strip()))
    return total_us / 1000.0, rows


def payload_sources(payload):
    """{module name: bytes of source} of our files in the payload (a package is its __init__.py)."""
    found = {}
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        for info in zf.infolist():
            name = info.filename[:-3].replace("/", ".") if info.filename.endswith(".py") else None
            if name and name.endswith(".__init__"):
                name = name[:-len(".__init__")]
            if name and name.startswith(OURS):
                found[name] = info.file_size
    return found


def measure(module, repeat=5, top=5):
    """One module's figure: median and min own ms over `repeat` fresh Pythons, the samples, what of ours the start
    compiled (KiB, files) and what the payload carries for later, and the imports of most self time."""
    fqn, payload = build_payload(module)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # a host has none: the payload alone provides ansible and the collection
    samples, rows = [], []
    with tempfile.TemporaryDirectory(prefix="mcpops-bench-imports-") as tmp:
        zip_path = os.path.join(tmp, "ansible_%s_payload.zip" % module)
        with open(zip_path, "wb") as handle:
            handle.write(payload)
        code = CHILD % {"zip": zip_path, "mark": MARK, "fqn": fqn}
        for _ in range(repeat):
            proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=tmp, env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError("%s: importing its payload failed (exit %d):\n%s"
                                   % (module, proc.returncode, proc.stderr[-2000:]))
            ms, rows = parse_importtime(proc.stderr)
            samples.append(ms)
    imported = [name for _, name in rows]  # the same names every run
    carried = payload_sources(payload)
    ours = {name: carried.get(name, 0) for name in imported if name.startswith(OURS)}
    return {"module": module, "own_ms": round(statistics.median(samples), 2), "min_ms": round(min(samples), 2),
            "samples_ms": [round(s, 2) for s in samples],
            "our_source_kib": round(sum(ours.values()) / 1024.0, 1),
            "our_files": [{"name": short(name), "kib": round(size / 1024.0, 1)}
                          for name, size in sorted(ours.items(), key=lambda item: (-item[1], item[0]))],
            "later_files": sorted(short(name) for name in carried if name not in ours),
            "later_kib": round(sum(size for name, size in carried.items() if name not in ours) / 1024.0, 1),
            "others": sorted(name for name in imported if not name.startswith(OURS)),
            "heaviest": [{"self_ms": ms, "name": short(name)} for ms, name in sorted(rows, reverse=True)[:top]]}


def line_of(result, target_ms):
    """The module's line, and for one over the line its imports of most self time."""
    over = result["own_ms"] > target_ms
    text = "%-28s %6.1f ms (min %5.1f)  %6.1f KiB in %2d files at start, %6.1f KiB in %2d for later%s" % (
        result["module"], result["own_ms"], result["min_ms"], result["our_source_kib"], len(result["our_files"]),
        result["later_kib"], len(result["later_files"]), "  OVER %.0f ms" % target_ms if over else "")
    if over:
        text += "".join("\n    %6.2f ms  %s" % (h["self_ms"], h["name"]) for h in result["heaviest"])
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module names (default: every module of plugins/modules/)")
    parser.add_argument("--repeat", type=int, default=5, help="fresh Pythons a module (median), default 5")
    parser.add_argument("--target-ms", type=float, default=TARGET_MS, help="the line, default 30 ms")
    parser.add_argument("--top", type=int, default=5, help="imports of most self time shown for a module over the line")
    parser.add_argument("--json", metavar="PATH", help="write the figures, the samples and the machine as JSON")
    args = parser.parse_args(argv)
    known = module_names()
    unknown = [m for m in args.modules if m not in known]
    if unknown:
        parser.error("unknown module(s) %s; known: %s" % (", ".join(unknown), ", ".join(known)))
    if args.repeat < 1:
        parser.error("--repeat wants 1 or more")
    before = machine()
    print(machine_line("before"))
    print("own imports above ansible.module_utils.basic from the AnsiballZ payload (our files compiled from "
          "source), median of %d; target <= %.0f ms" % (args.repeat, args.target_ms), flush=True)
    results, failed = [], []
    for module in args.modules or known:
        try:
            result = measure(module, args.repeat, args.top)
        except RuntimeError as exc:
            print("%-28s FAILED: %s" % (module, exc), flush=True)
            failed.append(module)
            continue
        results.append(result)
        print(line_of(result, args.target_ms), flush=True)
    after = machine()
    print(machine_line("after"))
    over = [r["module"] for r in results if r["own_ms"] > args.target_ms]
    print("%d of %d modules over %.0f ms%s" % (len(over), len(results), args.target_ms,
                                                ": " + ", ".join(over) if over else ""))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"figure": "module_imports", "target_ms": args.target_ms, "repeat": args.repeat,
                       "machine_before": before, "machine_after": after, "over": over, "failed": failed,
                       "modules": results}, handle, indent=2)
            handle.write("\n")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
