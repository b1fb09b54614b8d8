"""`mcpops drill <runbook> [--fault F] [--fleet N | --lab compose] [--service S] [--keep]`: break a lab, run the
runbook, verify, report. With `--via-alert [--approval approve|deny]` the alert starts the runbook instead: the sequence
is mcpops.drill.alert_drill's.

    1. lab up        the local lab (or a fleet of N hosts of the service, or the Loyalty API's compose lab); a running
                     one of the same shape is reused
    2. prepare       a backup first where the runbook restores one; the tokens of every target recorded (a
                     service with tokens); the broken targets' units recorded where the symptom compares them
    3. break         the scenario's fault (mcpops.drill.scenarios.DRILLS) into every target, or the first only,
                     or into the lab once (a ConnectorMCP fault, a CCTelegram fleet's load balancer's)
    4. run           the runbook through mcpops.run.runner (ansible-runner, a run dir under runs/, the
                     incident_report callback), --yes implied: the inventory is the lab's own, always
                     (a scenario with guard_wait: 3. run, then 4. break, then a wait for the guard the runbook
                     installed to repair it)
    5. verify        healthy, storage-meta and tokens unchanged (where the service has them), the fault's
                     symptom gone (or named) on each broken target (a symptom of the whole lab: once); then,
                     where the scenario says so, the runbook once more to undo what would outlive the drill
                     (its run dir: undo/ inside the drill's)
    6. report        drill.json and drill.md in the run dir, the verdict printed
    7. lab down      only what the drill started, unless --keep

Exit status: 0 the runbook ended as expected and every check passed; 1 the drill failed (drill.md says
which check); 4 a usage error, nothing started.
"""

import contextlib
import datetime
import json
import sys
import time
from pathlib import Path

from mcpops.drill import scenarios
from mcpops.drill.checks import NEEDS_UNIT_BASELINE, Check, check_runbook_exit
from mcpops.drill.scenarios import DEFAULT_SERVICE, DrillError
from mcpops.drill.steps import (broken_targets, last_words, probe_line, run_output, undo_run, verify_targets,
                                wait_for_repair)
from mcpops.drill.verdict import Verdict, write_verdict

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_USAGE = 4


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan(runbook_name, fault=None, lab_kind=scenarios.LOCAL, service=DEFAULT_SERVICE):
    """(runbook, scenario) or DrillError: every refusal happens here, before any lab is touched."""
    from mcpops.run.runbooks import RunbookError, find

    try:
        runbook = find(runbook_name)
    except RunbookError as exc:
        raise DrillError(str(exc)) from None
    scenario = scenarios.choose(runbook.id, fault, lab_kind, service)
    undeclared = sorted(set(scenario.extra_vars) - set(runbook.extra_vars))
    if undeclared:  # the table and the playbook's metadata disagree: a bug here, say so before breaking anything
        raise DrillError(f"the drill of {runbook.id} passes {', '.join(undeclared)}, which its metadata does not declare")
    return runbook, scenario


def _extra_vars(runbook, scenario, run_dir):
    extra = dict(scenario.extra_vars)
    if "output_dir" in runbook.extra_vars:  # INC-001's captured logs go into the drill's run dir, not beside it
        extra["output_dir"] = str(Path(run_dir) / "captured")
    return extra


def _break(lab, scenario, targets, before, verdict, facts_before, step, out):
    """Step `step`: the fault into the broken targets (or the lab once), each line into the verdict; the broken
    targets' units recorded right before it where the symptom compares them (into facts_before). Returns the tokens'
    baseline of each target."""
    from mcpops.drill.lab_adapters import read_tokens

    broken = broken_targets(scenario, targets)
    if scenario.symptom in NEEDS_UNIT_BASELINE:
        facts_before["units_before"] = {target.name: lab.unit_snapshot(target) for target in broken}
    out(f"== {step} Break: {scenario.fault} ({scenario.why})")
    if len(broken) < len(targets) and scenario.targets != scenarios.LAB:
        out(f"into {', '.join(t.name for t in broken)} only; "
            f"{', '.join(t.name for t in targets if t not in broken)} left healthy")
    if scenario.targets == scenarios.LAB:  # the lab's fault, once: it chooses the instances it breaks
        verdict.injected.append(f"{lab.kind} lab: {lab.inject(None, scenario.fault)}")
        out(verdict.injected[-1])
    else:
        for target in broken:
            line = lab.inject(target, scenario.fault)
            verdict.injected.append(f"{target.name}: {line}")
            out(verdict.injected[-1])
    verdict.fault_at = _now()
    # Tokens are compared with what the fault left where the gateway still answers (rate-storm issues
    # one), else with what was there before it (a stopped or crash-looping gateway cannot be asked).
    baseline = {}
    for target in targets:
        after_fault = read_tokens(target) if before[target.name] is not None else None
        baseline[target.name] = before[target.name] if after_fault is None else after_fault
    for target in targets:
        out(f"{target.name}: service {lab.service_state(target)}; {probe_line(target)}")
    return baseline


def _run_runbook(lab, runbook, scenario, verdict, step, runs_dir, out):
    """Step `step`: the runbook through mcpops.run.runner in a new run dir; (run dir, exit status)."""
    from mcpops.run import runner
    from mcpops.run.progress import Progress

    run_dir = runner.new_run_dir(runbook.id, runs_dir)
    verdict.run_dir = str(run_dir)
    out(f"== {step} Run: mcpops run {runbook.id} -i {lab.inventory} --yes "
        + " ".join(f"-e {k}={v}" for k, v in scenario.extra_vars.items()))
    extra_vars = _extra_vars(runbook, scenario, run_dir)
    extra_vars.update(getattr(lab, "run_vars", lambda _: {})(scenario))  # what only the lab knows (the broken pod)
    request = runner.RunRequest(runbook=runbook, inventory=lab.inventory, yes=True, extra_vars=extra_vars)
    run_clock = time.monotonic()
    during = getattr(lab, "during_run", None)  # e.g. the compose lab's traffic while a runbook samples it
    with during(scenario) if during else contextlib.nullcontext():
        status, _ = runner.run(request, Progress(), run_dir=run_dir, env=lab.env())
    verdict.runbook_seconds = time.monotonic() - run_clock
    verdict.runbook_exit = status
    verdict.runbook_said = last_words(run_dir)
    for host, lines in verdict.runbook_said.items():
        out(f"{host}: the runbook's summary:\n" + "\n".join(f"  {line}" for line in lines))
    return run_dir, status


def drill(lab, runbook, scenario, keep=False, out=print, runs_dir=None):
    """Run one drill on lab (a lab_adapters adapter); returns the Verdict (written into its run dir)."""
    from mcpops.drill.lab_adapters import read_tokens, take_backup

    if scenario.fault not in lab.faults():
        raise DrillError(f"the {lab.kind} lab has no fault {scenario.fault!r}")
    verdict = Verdict(runbook=runbook.id, fault=scenario.fault, lab=lab.kind, targets=[],
                      expected_exit=scenario.expect_exit, started_at=_now(), why=scenario.why,
                      service=getattr(lab, "service", DEFAULT_SERVICE), read_only=not runbook.changes)
    out(f"== 1/6 Lab up ({lab.kind})")
    lab.up()
    try:
        targets = lab.targets()
        verdict.targets = [t.name for t in targets]
        out(f"== 2/6 Prepare: {', '.join(verdict.targets)}")
        before = {}
        for target in targets:
            if scenario.backup_first:
                out(f"{target.name}: backup {take_backup(target)} taken before the fault")
            before[target.name] = read_tokens(target) if target.has("tokens") else None
        facts_before = {}  # the broken targets' units right before the fault (the symptoms that compare them)
        if scenario.guard_wait > 0:  # the runbook installs a guard (a timer): the fault goes in after the run
            run_dir, status = _run_runbook(lab, runbook, scenario, verdict, "3/6", runs_dir, out)
            baseline = _break(lab, scenario, targets, before, verdict, facts_before, "4/6", out)
            fault_clock = time.monotonic()
            out(f"waiting up to {scenario.guard_wait:g}s for the guard the runbook installed to repair it")
            repaired = wait_for_repair(lab, scenario, targets, facts_before, scenario.guard_wait)
            out(f"repaired after {time.monotonic() - fault_clock:.1f}s" if repaired
                else f"not repaired within {scenario.guard_wait:g}s")
        else:
            baseline = _break(lab, scenario, targets, before, verdict, facts_before, "3/6", out)
            fault_clock = time.monotonic()
            run_dir, status = _run_runbook(lab, runbook, scenario, verdict, "4/6", runs_dir, out)

        out("== 5/6 Verify")
        facts = dict(lab.fault_facts(scenario.fault), **scenario.extra_vars, **facts_before)
        verdict.checks = [check_runbook_exit(status, scenario.expect_exit)]
        verdict.checks += verify_targets(lab, scenario, targets, baseline, facts, run_output(run_dir))
        verified = time.monotonic()
        for check in verdict.checks:
            out(check.line())
        if scenario.undo_vars:
            undo = undo_run(lab, runbook, scenario, run_dir, facts, out)
            verdict.checks += undo
            for check in undo:
                out(check.line())
        if verdict.passed:
            verdict.recover_seconds = round(verified - fault_clock, 1)
        for target in targets:
            if not target.has("storage-meta"):
                continue
            status_code, meta = target.admin("/api/system/storage-meta")
            if status_code == 200:
                out(f"{target.name}: GET /api/system/storage-meta\n{json.dumps(meta, indent=2, sort_keys=True)}")
    finally:
        verdict.finished_at = _now()
        if lab.started and not keep:
            out(f"== 6/6 Lab down ({lab.kind}: the drill started it)")
            lab.down()
            out(f"lab down: {lab.kind} lab stopped")
        elif lab.started:
            out(f"== 6/6 Lab kept running (--keep); `{_down_command(lab)}` when done")
        else:
            undo = _undo_command(lab, scenario.fault)
            out("== 6/6 Lab left running (it was running before the drill)"
                + ("" if scenario.expect_exit == 0 and scenario.targets != scenarios.LAB
                   and scenario.healthy_after is True
                   else f"; it still has the fault {scenario.fault} ({undo} undoes it)"))
    write_verdict(verdict)
    return verdict


def _undo_command(lab, fault):
    """What undoes the fault a drill left in a lab that was running before it (the operator's, so left as it is)."""
    if lab.kind == scenarios.LOCAL:
        from mcpops.lab.local.faults import REPAIRS

        if getattr(lab, "service", DEFAULT_SERVICE) != DEFAULT_SERVICE:
            return "`mcpops lab break healthy`"
        if fault in REPAIRS:
            return f"`mcpops lab repair {fault}`"
        return "its runbook, or `mcpops lab down` and `mcpops lab up`,"
    return {scenarios.FLEET: "`mcpops fleet up`",
            scenarios.COMPOSE: f"`mcpops lab repair {fault} --platform compose`",
            scenarios.KUBERNETES: f"`mcpops lab repair {fault} --platform kubernetes`"}[lab.kind]


def _down_command(lab):
    return {scenarios.LOCAL: "mcpops lab down", scenarios.FLEET: "mcpops fleet down",
            scenarios.COMPOSE: "mcpops lab down --platform compose",
            scenarios.KUBERNETES: "mcpops lab down --platform kubernetes"}[lab.kind]


def _lab_kind(args):
    """local, fleet (--fleet N) or compose (--lab compose); DrillError when they disagree."""
    chosen = getattr(args, "lab", None)
    if args.fleet is not None and chosen not in (None, scenarios.FLEET):
        raise DrillError(f"--fleet {args.fleet} and --lab {chosen}: choose one lab")
    if chosen == scenarios.FLEET and not args.fleet:
        raise DrillError("--lab fleet needs --fleet N (how many hosts)")
    return scenarios.FLEET if args.fleet is not None else (chosen or scenarios.LOCAL)


def cmd_drill(args):
    """The `mcpops drill` subcommand."""
    from mcpops.drill.compose_drill_lab import ComposeDrillLab
    from mcpops.drill.lab_adapters import ConnectorDrillLab, FleetDrillLab, LocalDrillLab

    def fail(message, status=EXIT_USAGE):
        print(f"mcpops drill: error: {message}", file=sys.stderr)
        return status

    try:
        lab_kind = _lab_kind(args)
    except DrillError as exc:
        return fail(str(exc))
    service = getattr(args, "service", None) or DEFAULT_SERVICE
    if lab_kind == scenarios.COMPOSE and service == DEFAULT_SERVICE:  # the compose lab runs the Loyalty API only
        service = scenarios.LOYALTY
    if lab_kind == scenarios.KUBERNETES and service == DEFAULT_SERVICE:  # and the Kubernetes lab LEGO MCP only
        service = scenarios.LEGO
    try:
        runbook, scenario = plan(args.runbook, args.fault, lab_kind, service)
        if (getattr(args, "via_alert", False) or getattr(args, "approval", None)) and args.fault is None:
            scenario = scenarios.alerted_scenario(runbook.id, lab_kind, service) or scenario
        if args.fleet is not None and args.fleet < 1:
            raise DrillError(f"--fleet {args.fleet}: give a number of hosts, 1 or more")
        if args.fleet and (args.listen or args.upstream):
            raise DrillError("--listen and --upstream are the local lab's addresses; fleet hosts listen on "
                             "$MCPOPS_FLEET_NET.11...")
        if lab_kind == scenarios.COMPOSE:
            if args.listen or args.upstream:
                raise DrillError("--listen and --upstream are the local lab's; the compose lab chooses free ports")
            lab = ComposeDrillLab(args.dir, inventory=args.inventory)
        elif lab_kind == scenarios.KUBERNETES:
            if args.listen or args.upstream:
                raise DrillError("--listen and --upstream are the local lab's; the Kubernetes lab chooses free ports")
            from mcpops.drill.kube_drill_lab import KubeDrillLab

            lab = KubeDrillLab(args.dir, inventory=args.inventory)
        elif args.fleet:
            lab = FleetDrillLab(args.fleet, state_dir=args.dir, inventory=args.inventory, service=service,
                                standby=scenario.standby)
        elif service == scenarios.CONNECTOR:
            if args.upstream:
                raise DrillError("--upstream is the 1C gateway lab's OData upstream; the connector lab has none")
            lab = ConnectorDrillLab(args.dir, listen=args.listen, inventory=args.inventory)
        else:
            lab = LocalDrillLab(args.dir, listen=args.listen, inventory=args.inventory, upstream=args.upstream)
    except DrillError as exc:
        return fail(str(exc))
    via_alert = getattr(args, "via_alert", False) or getattr(args, "approval", None)
    if via_alert:
        from mcpops.drill.alert_drill import alert_drill, plan_alert_drill

        try:
            plan_alert_drill(runbook, scenario, lab_kind, service, args.approval)
        except DrillError as exc:
            return fail(str(exc))
    try:
        if via_alert:
            verdict = alert_drill(lab, runbook, scenario, approval=args.approval, keep=args.keep)
        else:
            verdict = drill(lab, runbook, scenario, keep=args.keep)
    except DrillError as exc:
        return fail(str(exc), EXIT_FAILED)
    except Exception as exc:  # a lab that would not come up or break: say what, after the lab is down
        from mcpops.lab.compose.docker_client import DockerCliError
        from mcpops.lab.compose.loyalty_lab import LoyaltyLabError
        from mcpops.lab.fleet.errors import FleetError
        from mcpops.lab.kube.errors import KubeLabError
        from mcpops.lab.lego.hsm_process import LegoError
        from mcpops.lab.local.errors import LabError

        if isinstance(exc, (LabError, FleetError, LoyaltyLabError, DockerCliError, LegoError, KubeLabError)):
            return fail(str(exc), EXIT_FAILED)
        raise
    print(verdict.summary())
    for check in verdict.failed_checks():
        print(f"  failed: {check.line()}")
    for line in (verdict.via_alert or {}).get("timing_lines") or []:
        print(f"  {line}")
    run_dir = Path(verdict.run_dir)
    print(f"The run is in {run_dir} (drill.md: this verdict; report.md: the incident report; "
          "artifacts/: ansible-runner's output).")
    return EXIT_PASSED if verdict.passed else EXIT_FAILED


def add_parser(subparsers):
    p = subparsers.add_parser("drill", help="rehearse an incident on a lab: break it, run the runbook, verify, report")
    p.add_argument("runbook", help=f"its id; drillable: {', '.join(scenarios.drillable())}")
    p.add_argument("--fault", help="which of the runbook's faults (default: its first; see docs/drills.md)")
    p.add_argument("--fleet", type=int, metavar="N", help="on a fleet lab of N hosts (root) instead of the local lab")
    p.add_argument("--lab", choices=scenarios.LABS, default=None,
                   help=f"the lab (default {scenarios.LOCAL}, or {scenarios.FLEET} with --fleet N); "
                        f"{scenarios.COMPOSE}: the Loyalty API's compose lab (root), the one `mcpops lab up --platform "
                        f"compose` keeps running, else one the drill starts; {scenarios.KUBERNETES}: the LEGO MCP lab "
                        "(root), the one `mcpops lab up --platform kubernetes` keeps running, else one the drill "
                        "starts")
    p.add_argument("--service", default=DEFAULT_SERVICE, metavar="S",
                   help=f"the service the lab runs (default {DEFAULT_SERVICE}, on the compose lab {scenarios.LOYALTY}; "
                        f"{scenarios.CCTELEGRAM} on the fleet only, {scenarios.CONNECTOR} on the local lab only); its "
                        "profile's checks judge health")
    p.add_argument("--dir", help="the lab's state dir (default $MCPOPS_LAB_DIR or .lab; with --fleet "
                                 "$MCPOPS_FLEET_DIR or .fleet; with --lab compose $MCPOPS_COMPOSE_LAB_DIR or "
                                 ".lab-compose; with --lab kubernetes $MCPOPS_KUBE_LAB_DIR or .lab-kubernetes)")
    p.add_argument("--listen", help="local lab: host:port when the drill starts it (default 127.0.0.1:3000; "
                                    f"{scenarios.CONNECTOR}: its backend-1, default 127.0.0.1:8000)")
    p.add_argument("--upstream", help="local lab: host:port of INC-004's 1C upstream when the drill seeds the lab "
                                      "(default 127.0.0.1:8443); two INC-004 drills at once need two")
    p.add_argument("-i", "--inventory", help="only the lab's own inventory is accepted (the default)")
    p.add_argument("--keep", action="store_true", help="leave the lab running at the end (with what it broke)")
    p.add_argument("--via-alert", action="store_true",
                   help="let the alert start the runbook: private Prometheus and Alertmanager on loopback, mcpops "
                        "watch as the webhook; prints detection, dispatch and runbook times (each service on its lab: the 1C "
                        "gateway and ConnectorMCP local, the Loyalty API --lab compose, CCTelegram --fleet N, LEGO MCP "
                        "--lab kubernetes; drillable: "
                        f"{', '.join(scenarios.alert_drillable())})")
    p.add_argument("--approval", choices=("approve", "deny"),
                   help="with --via-alert: the same alert without auto_remediate, so the runbook runs in check mode "
                        "first and waits; the drill then approves (a real run) or denies it (nothing changes)")
    p.set_defaults(func=cmd_drill)
    return p
