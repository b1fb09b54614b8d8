#!/usr/bin/env python3
"""Draw the growth curves of bench JSON files as PNG charts (matplotlib), one chart a curve.

A bench script that measures growth writes, beside its own fields, a list "curves" (bench/README.md,
"Growth curves"):

    {"figure": "backup", "machine_before": {"cpus": 2, "loadavg": [0.1, 0.2, 0.3]}, ...,
     "curves": [{"name": "backup_create", "title": "...", "x_label": "data dir (MiB)",
                 "y_label": "seconds (median)", "x": [256, 1024, 4096],
                 "series": {"in process (module_utils)": [...], "baseline: ...": [...], "through Ansible": [...]}}]}

Each curve becomes <out>/<name>.png: every series on one chart (the module's and the baseline's), the
points marked, the machine's CPU count and load in the caption. A file without "curves" is named and
skipped. Figures for docs/ are drawn from a run on a quiet machine (docs/performance.md says which).

    .venv/bin/python bench/plot.py /tmp/backup_figures.json --out /tmp/figures     # a check
    .venv/bin/python bench/plot.py docs/figures/*.json                               # into docs/figures/
"""

import argparse
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MARKERS = ("o", "s", "^", "D", "v", "x")


def _caption(data):
    parts = []
    # a script that wrote platform.machine() ("x86_64") as its machine has no load to show
    machines = {key: data.get(key) if isinstance(data.get(key), dict) else {}
                for key in ("machine", "machine_before", "machine_after")}
    for key, when in (("machine", "at start"), ("machine_before", "before"), ("machine_after", "after")):
        machine = machines[key]
        if machine.get("loadavg"):
            parts.append("load %s %s" % (when, " ".join("%.2f" % v for v in machine["loadavg"])))
    cpus = (machines["machine"] or machines["machine_before"] or machines["machine_after"]).get("cpus")
    if cpus:
        parts.insert(0, "%d CPUs" % cpus)
    if data.get("repeat"):
        parts.append("%s of %d rounds" % (data.get("statistic", "median"), data["repeat"]))
    return ", ".join(parts)


def draw(curve, caption, out_dir, pyplot):
    """One chart: every series of curve against its x; returns the PNG's path."""
    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    for number, (label, values) in enumerate(sorted(curve["series"].items())):
        points = [(x, y) for x, y in zip(curve["x"], values) if y is not None]
        if not points:
            continue
        axes.plot([x for x, _y in points], [y for _x, y in points], marker=MARKERS[number % len(MARKERS)], label=label)
    axes.set_title(curve.get("title", curve["name"]))
    axes.set_xlabel(curve.get("x_label", ""))
    axes.set_ylabel(curve.get("y_label", ""))
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend()
    if caption:
        figure.text(0.01, 0.01, caption, fontsize=8, alpha=0.7)
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    path = os.path.join(out_dir, "%s.png" % curve["name"])
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json_files", nargs="+", help="bench JSON files (written by a bench script's --json)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "figures"), help="where the PNGs go (default docs/figures)")
    args = parser.parse_args(argv)
    try:
        import matplotlib
    except ImportError:
        print("bench/plot.py: matplotlib is missing: .venv/bin/pip install -e '.[bench]' (or pip install matplotlib)",
              file=sys.stderr)
        return 1
    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot

    os.makedirs(args.out, exist_ok=True)
    drawn = 0
    for path in args.json_files:
        with open(path) as handle:
            data = json.load(handle)
        curves = data.get("curves") or []
        if not curves:
            print("%s: no growth curves (no \"curves\" list), skipped" % path)
            continue
        for curve in curves:
            print("%s: %s -> %s" % (path, curve["name"], draw(curve, _caption(data), args.out, pyplot)))
            drawn += 1
    return 0 if drawn else 1


if __name__ == "__main__":
    sys.exit(main())
