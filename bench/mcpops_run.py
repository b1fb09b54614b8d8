#!/usr/bin/env python3
"""Figure: the same runbook through `mcpops run` (ansible-runner, its events, the progress view, the run
dir) against plain `ansible-playbook` (the baseline). Target: the front end adds at most 15%.

The runbook is `playbooks/inc-003-restore.yml --check` against a local lab whose data dir is corrupt:
every step runs (stop, list and verify the backups, the restore in check mode, start) and nothing
changes, so the same lab serves every round. Both sides load the same ansible.cfg, so both write the
incident report (the callback is part of the runbook run, not of the front end). Rounds alternate
the two sides after one untimed warm-up of each; the median of --repeat rounds is reported.
A figure, not a test: it exits 0 whatever the ratio is.

    .venv/bin/python bench/mcpops_run.py [--repeat 5] [--json out.json]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET = 1.15
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from loopback import free_port  # noqa: E402
from mcpops.lab.local.lab import LocalLab  # noqa: E402


def timed(cmd, env):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit("%s exited %d: %s" % (" ".join(cmd[:3]), proc.returncode, proc.stderr[-2000:]))
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-mcpops-run-") as tmp:
        lab = LocalLab(Path(tmp) / "lab", listen="127.0.0.1:%d" % free_port())
        lab.up()
        try:
            lab.break_("corrupt-store")
            env = dict(os.environ, MCPOPS_LAB_DIR=str(lab.state_dir), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                       ANSIBLE_NOCOLOR="1", PATH="%s:%s" % (BIN, os.environ.get("PATH", "")),
                       MCPOPS_RUNS_DIR=str(Path(tmp) / "runs"), no_proxy="127.0.0.1,localhost")
            plain_env = dict(env, MCPOPS_REPORT_DIR=str(Path(tmp) / "plain-report"))
            sides = {
                "ansible-playbook": ([str(BIN / "ansible-playbook"), "playbooks/inc-003-restore.yml",
                                      "-i", "inventories/lab", "--check"], plain_env),
                "mcpops run": ([str(BIN / "mcpops"), "run", "inc-003-restore", "-i", "inventories/lab", "--check"], env),
            }
            for cmd, side_env in sides.values():  # warm-up: imports and the page cache, both sides alike
                timed(cmd, side_env)
            times = {name: [] for name in sides}
            for _ in range(args.repeat):
                for name, (cmd, side_env) in sides.items():
                    times[name].append(timed(cmd, side_env))
        finally:
            lab.down()

    base = statistics.median(times["ansible-playbook"])
    front = statistics.median(times["mcpops run"])
    ratio = front / base
    figures = {"runbook": "inc-003-restore --check", "repeat": args.repeat, "cpus": os.cpu_count(),
               "python": platform.python_version(), "ansible_playbook_s": times["ansible-playbook"],
               "mcpops_run_s": times["mcpops run"], "median_ansible_playbook_s": round(base, 2),
               "median_mcpops_run_s": round(front, 2), "ratio": round(ratio, 3), "target": TARGET}
    print("inc-003-restore --check, median of %d: ansible-playbook %.2f s, mcpops run %.2f s, ratio %.3fx "
          "(mcpops run adds %+.1f%%; target <= %+.0f%%)" % (args.repeat, base, front, ratio, (ratio - 1) * 100,
                                                            (TARGET - 1) * 100))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
