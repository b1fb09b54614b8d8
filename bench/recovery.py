#!/usr/bin/env python3
"""Figure: time to recovery, each drillable runbook's drill on the local lab, median of N (issue 20).

For every repairing drill of the local lab (mcpops.drill.scenarios.DRILLS: a scenario on the local lab that
expects the runbook to repair, exit 0; the read-only ones, which only name the fault, with --all) it runs
`mcpops drill` in process (mcpops.drill.command.drill, the code of the command) --repeat times on a private
lab (its own state dir, the gateway and INC-004's upstream on free 127.0.0.1 ports, a private runs dir) and
splits the time from the fault to a verified healthy service into:

  detection     from the fault injected to the runbook's start: the drill's look at the broken service (its
                state and /healthz). In production an alert stands here: `mcpops drill --via-alert` times
                Prometheus and Alertmanager on top (docs/drills.md)
  runbook       the runbook's run (mcpops run through ansible-runner), its steps from the incident report's
                timeline (report.json: step and task names) timed by ansible-runner's job events (start and
                end of every task, microseconds; report.json keeps whole seconds)
  verification  the drill's checks: healthy, storage-meta and tokens unchanged, the symptom gone

Phases are read from the moments the drill prints its phase lines (`== 4/6 Run`, `== 5/6 Verify`, the first
check line); the total is the drill's own `recovered in N s`. It prints, a drill, the median of each phase and
the slowest step of the runbook (median over the repeats), and the target: under 15 s at the lab's default size.
INC-003 also runs with --inc003-size-mb MiB more of audit lines in the gateway's data dir (added with the
gateway stopped, before the drill's backup), so that its backup and restore carry that much data.
A figure, not a test: it exits 0 whatever the numbers are (1 only when a drill could not run at all).

    .venv/bin/python bench/recovery.py [--repeat 3] [--runbooks inc-001-gateway-down,inc-003-restore]
        [--faults corrupt-store] [--all] [--inc003-size-mb 1024] [--json out.json]
"""

import argparse
import glob
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import growth  # noqa: E402

TARGET_S = 15.0
INC003 = "inc-003-restore"


def local_drills(all_faults, runbooks=None, service="onec-gateway", faults=None):
    """[(runbook id, scenario)]: the local lab's drills of service, repairing ones only unless all_faults; only
    the faults named in faults when given."""
    from mcpops.drill import scenarios

    out = []
    for runbook_id in scenarios.drillable():
        if runbooks and runbook_id not in runbooks:
            continue
        for scenario in scenarios.DRILLS[runbook_id]:
            if scenarios.LOCAL not in scenario.labs or service not in scenario.services:
                continue
            if scenario.expect_exit != 0 and not all_faults:
                continue
            if faults and scenario.fault not in faults:
                continue
            out.append((runbook_id, scenario))
    return out


class Clock:
    """The drill's `out`: remembers when each line was printed, so that its phases can be told apart."""

    def __init__(self, echo):
        self.lines = []
        self.echo = echo

    def __call__(self, line):
        self.lines.append((time.monotonic(), line))
        if self.echo:
            print("    " + line.splitlines()[0], flush=True)

    def at(self, prefix, after=None):
        for moment, line in self.lines:
            if line.startswith(prefix) and (after is None or moment >= after):
                return moment
        return None

    def phases(self, injected):
        """(detection, runbook, verification) seconds, from the printed lines; None where one is missing."""
        fault = max((m for m, line in self.lines if any(line.endswith(i) for i in injected)), default=None)
        run = self.at("== 4/6 Run")
        verify = self.at("== 5/6 Verify")
        checked = None
        if verify is not None:
            checked = next((m for m, line in self.lines if m >= verify and not line.startswith("== 5/6")), None)
        if None in (fault, run, verify, checked):
            return None, None, None
        return run - fault, verify - run, checked - verify


def _parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def step_seconds(run_dir):
    """{step: seconds} of the runbook's run: the steps of report.json's timeline (a step is one or more tasks),
    each the time its own tasks cover (the union of their start-end spans, from ansible-runner's job events). Not
    first start to last end: a step name that comes back later in the run (INC-001 escalating to INC-003, whose
    play states the operator's identity again) would otherwise be charged with every step in between."""
    reports = glob.glob(os.path.join(run_dir, "**", "report.json"), recursive=True)
    if not reports:
        return {}, 0.0
    with open(reports[0]) as handle:
        timeline = json.load(handle).get("timeline") or []
    events = []
    for path in glob.glob(os.path.join(run_dir, "**", "job_events", "*.json"), recursive=True):
        try:
            with open(path) as handle:
                event = json.load(handle)
        except (OSError, ValueError):
            continue
        if (event.get("event_data") or {}).get("end"):
            events.append(event)
    events.sort(key=lambda e: e.get("counter", 0))
    # A task's timeline entry (its step: a role's task belongs to the runbook step that included the role) is
    # the first one not yet matched of its host whose name is the task's, alone or after the role's "role : ".
    unmatched = list(timeline)
    spans = {}
    for event in events:
        data = event["event_data"]
        name, host = data.get("task") or "", data.get("host")
        entry = next((e for e in unmatched if e.get("host") == host
                      and (e["task"] == name or e["task"].endswith(" : " + name))), None)
        if entry is None:
            continue
        unmatched.remove(entry)
        spans.setdefault(entry["step"], []).append((_parse_time(data["start"]), _parse_time(data["end"])))
    if not spans:  # no job events: report.json's whole seconds
        for entry in timeline:
            if entry.get("start") and entry.get("end"):
                spans.setdefault(entry["step"], []).append((_parse_time(entry["start"]), _parse_time(entry["end"])))
    return ({step: covered(own) for step, own in spans.items()},
            covered([span for own in spans.values() for span in own]))


def covered(spans):
    """Seconds covered by the union of (start, end) spans: how much of the run its steps account for."""
    total, reach = 0.0, None
    for low, high in sorted(spans):
        if reach is None or low > reach:
            total += high - low
            reach = high
        elif high > reach:
            total += high - reach
            reach = high
    return total


def pad_data_dir(lab, size_mb):
    """size_mb MiB more of valid audit lines in the gateway's audit.jsonl, the gateway stopped meanwhile (it
    counts the file's lines when it starts)."""
    import audit_scan

    inner = lab.lab
    inner.client().stop(inner.service_name, True)
    pad = os.path.join(str(inner.data_dir), ".bench-pad")
    try:
        audit_scan.generate(pad, size_mb)
        with open(pad, "rb") as src, open(os.path.join(str(inner.data_dir), "audit.jsonl"), "ab") as dst:
            shutil.copyfileobj(src, dst, 8 << 20)
    finally:
        if os.path.exists(pad):
            os.unlink(pad)
        inner.client().start(inner.service_name, True)


def one_drill(runbook_id, scenario, state_dir, runs_dir, size_mb, echo):
    from loopback import free_port
    from mcpops.drill.command import drill, plan
    from mcpops.drill.lab_adapters import LocalDrillLab

    runbook, scenario = plan(runbook_id, scenario.fault)
    lab = LocalDrillLab(state_dir, listen="127.0.0.1:%d" % free_port(), upstream="127.0.0.1:%d" % free_port())
    clock = Clock(echo)
    try:
        if size_mb:
            lab.up()
            pad_data_dir(lab, size_mb)
        verdict = drill(lab, runbook, scenario, keep=bool(size_mb), out=clock, runs_dir=runs_dir)
    finally:
        if size_mb:
            lab.down()
    detection, run, verification = clock.phases(verdict.injected)
    steps, in_steps = step_seconds(verdict.run_dir)
    return {"passed": verdict.passed, "recover_s": verdict.recover_seconds, "runbook_s": verdict.runbook_seconds,
            "detection_s": detection, "run_s": run, "verification_s": verification,
            "steps": steps, "in_steps_s": in_steps, "failed": [c.name for c in verdict.failed_checks()],
            "run_dir": verdict.run_dir}


def median_of(runs, key):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def summarize(name, runs):
    passed = [r for r in runs if r["passed"]]
    out = {"drill": name, "repeats": len(runs), "passed": len(passed)}
    for key in ("recover_s", "detection_s", "run_s", "verification_s", "in_steps_s"):
        out[key] = median_of(passed, key)
    steps = {}
    for run in passed:
        for step, seconds in run["steps"].items():
            steps.setdefault(step, []).append(seconds)
    out["steps"] = {step: statistics.median(v) for step, v in steps.items()}
    out["slowest_step"] = max(out["steps"].items(), key=lambda kv: kv[1]) if out["steps"] else None
    return out


def fmt(seconds):
    return "-" if seconds is None else "%.2f s" % seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="drills a scenario (default 3); the median counts")
    parser.add_argument("--runbooks", help="only these runbook ids, comma-separated (default: every drillable one)")
    parser.add_argument("--faults", help="only these faults, comma-separated (default: every one of the runbooks)")
    parser.add_argument("--all", action="store_true", help="also the read-only drills (the runbook names the fault)")
    parser.add_argument("--inc003-size-mb", type=int, default=0,
                        help="also drill INC-003 with this many MiB more in the data dir (1024 on the quiet machine)")
    parser.add_argument("--quiet", action="store_true", help="do not echo the drills' own lines")
    parser.add_argument("--json", help="write every run and the medians here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir with the drills' run dirs")
    args = parser.parse_args(argv)
    wanted = set(args.runbooks.split(",")) if args.runbooks else None
    faults = set(args.faults.split(",")) if args.faults else None
    drills = [(rid, s, 0) for rid, s in local_drills(args.all, wanted, faults=faults)]
    if args.inc003_size_mb:
        drills += [(rid, s, args.inc003_size_mb) for rid, s in local_drills(args.all, {INC003}, faults=faults)]
    if not drills:
        print("bench/recovery.py: no local-lab drill matches %s %s" % (args.runbooks or "(all)", args.faults or ""),
              file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="bench-recovery-")
    results, summaries = {}, []
    print(growth.machine_line("machine before"), flush=True)
    try:
        for runbook_id, scenario, size_mb in drills:
            name = "%s --fault %s%s" % (runbook_id, scenario.fault, " (+%d MiB data)" % size_mb if size_mb else "")
            runs = []
            for index in range(args.repeat):
                print("== %s: run %d/%d" % (name, index + 1, args.repeat), flush=True)
                state_dir = os.path.join(work, "lab-%d" % len(results) + "-%d" % index)
                run = one_drill(runbook_id, scenario, state_dir, os.path.join(work, "runs"), size_mb,
                                echo=not args.quiet)
                print("   %s: recovered in %s (detection %s, runbook %s, verification %s)%s" % (
                    "PASSED" if run["passed"] else "FAILED", fmt(run["recover_s"]), fmt(run["detection_s"]),
                    fmt(run["run_s"]), fmt(run["verification_s"]),
                    "" if run["passed"] else " failed checks: %s" % ", ".join(run["failed"])), flush=True)
                runs.append(run)
            results[name] = runs
            summaries.append(summarize(name, runs))
    finally:
        if args.keep:
            print("kept %s (the drills' run dirs are under runs/)" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(growth.machine_line("machine after"))
    print("\ntime to recovery on the local lab, medians of %d (passed runs only), target under %.0f s at the lab's "
          "default size:" % (args.repeat, TARGET_S))
    for s in summaries:
        slow = s["slowest_step"]
        verdict = ("no run passed" if s["recover_s"] is None else
                   "met" if s["recover_s"] < TARGET_S else "ABOVE TARGET")
        if "MiB data" in s["drill"]:
            verdict = "to read against the raw restore baseline (bench/backup_restore.py) plus the start"
        print("  %s: %s = detection %s + runbook %s (its tasks %s, the rest ansible-runner's start-up and the gaps "
              "between tasks) + verification %s; slowest step %s; %d/%d passed; %s" % (
                  s["drill"], fmt(s["recover_s"]), fmt(s["detection_s"]), fmt(s["run_s"]), fmt(s["in_steps_s"]),
                  fmt(s["verification_s"]), "%r %.2f s" % slow if slow else "-", s["passed"], s["repeats"], verdict))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"figure": "recovery", "repeat": args.repeat, "target_s": TARGET_S, "summaries": summaries,
                       "runs": results, "machine": growth.machine()}, handle, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
