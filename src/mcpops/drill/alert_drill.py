"""`mcpops drill <runbook> --via-alert [--approval approve|deny]`: the drill where nobody runs the runbook: the fault
is seen by Prometheus, its rule fires, Alertmanager sends the webhook, `mcpops watch` starts the runbook the alert
names (issue 21's proof), and the drill times each hand-over.

    1. lab up        the service's lab (a running one is reused): the local lab's 1C gateway or ConnectorMCP, the
                     Loyalty API's compose lab, a CCTelegram fleet,
                     LEGO MCP's Kubernetes lab (ALERT_LABS)
    2. chain up      Prometheus, Alertmanager and `mcpops watch` on loopback (mcpops.drill.alert_chain), scraping what
                     the lab's adapter offers (alert_targets); the approval variant's rule copy has no auto_remediate
                     label
    3. break         the scenario's fault (its Scenario.alert must be the alert it fires)
    4. alert         wait: the alert pending and firing in Prometheus, the watcher's decision: a real run at once
                     (auto-remediate), or a check run and a pending approval, then `mcpops approve` (with the
                     scenario's extra vars as the approver's `-e` inputs: what an alert cannot know) or `mcpops deny`
    5. verify        as every drill (healthy, tokens, the symptom gone on the host the alert named; every other
                     target healthy; a read-only runbook's: its exit and its output naming the fault, as its plain
                     drill checks) and the alert's own checks (the report names
                     it; no check run and no approval before an auto-remediation; nothing changed before the
                     approval, and after a denial: the symptom's check still fails and a gateway that answers has
                     its tokens as the fault left them); a denied drill, and the drill of a read-only runbook (it
                     names the fault and leaves it), then repairs its own fault where the lab can (a stop, a stale
                     backup, a stopped api container) so that the alert resolves
    6. resolved      wait: the alert resolved and recorded in the report of the run it started
    7. down          the chain by PID; the lab when the drill started it (unless --keep)

It prints the time from the fault to a verified healthy service, split (mcpops.drill.alert_timing).
"""

import datetime
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from mcpops.drill import alert_timing, scenarios
from mcpops.drill.alert_chain import POLL_SECONDS, AlertChain
from mcpops.drill.cert_drill import approver_inputs
from mcpops.drill.checks import (NEEDS_UNIT_BASELINE, Check, check_runbook_exit, check_tokens, common_checks,
                                 symptom_check)
from mcpops.drill.scenarios import DrillError
from mcpops.drill.steps import last_words, probe_line, run_output, undo_run, verify_targets
from mcpops.drill.verdict import Verdict, write_verdict
from mcpops.run.runbooks import REPO

APPROVE, DENY = "approve", "deny"
# The services an alert drill runs, each on the lab whose adapter offers its chain what to scrape (alert_targets)
ALERT_LABS = {scenarios.ONEC: scenarios.LOCAL, scenarios.CONNECTOR: scenarios.LOCAL,
              scenarios.LOYALTY: scenarios.COMPOSE, scenarios.CCTELEGRAM: scenarios.FLEET,
              scenarios.LEGO: scenarios.KUBERNETES}
LAB_FLAGS = {scenarios.COMPOSE: " (--lab compose)", scenarios.FLEET: " (--fleet N)",
             scenarios.KUBERNETES: " (--lab kubernetes)"}
DISPATCH_SECONDS = 180  # the fault -> the watcher's decision (a JVM that is slow to take the first event included)
RUN_SECONDS = 900       # a runbook's run, once it started (INC-001 waits up to minutes for health)
RESOLVE_SECONDS = 180   # the service healthy -> the resolution recorded in the report


def plan_alert_drill(runbook, scenario, lab_kind, service, approval=None):
    """DrillError unless an alert of the service's lab can start this scenario (before anything starts)."""
    if service in ALERT_LABS and lab_kind != ALERT_LABS[service]:
        flag = LAB_FLAGS.get(ALERT_LABS[service], "")
        raise DrillError(f"--via-alert drills {service} on the {ALERT_LABS[service]} lab{flag} only (the chain's "
                         "Prometheus, Alertmanager and mcpops watch run on this machine's loopback beside it)")
    if not scenario.alert or service not in ALERT_LABS or lab_kind not in scenario.labs:
        raise DrillError(f"{runbook.id} with fault {scenario.fault} has no alert that fires on the lab "
                         f"(--via-alert drills: {', '.join(scenarios.alert_drillable()) or 'none'})")
    if approval not in (None, APPROVE, DENY):
        raise DrillError(f"--approval {approval}: approve or deny")
    if approval and not runbook.changes:
        raise DrillError(f"{runbook.id} is read-only: an alert starts it at once, there is no approval to give")
    if approval is None and runbook.changes and not runbook.auto_remediate:
        raise DrillError(f"{runbook.id}'s metadata does not allow auto-remediation: drill it with --approval "
                         "approve|deny")
    undeclared = sorted(set(scenario.extra_vars) - set(runbook.extra_vars))
    if undeclared:
        raise DrillError(f"{runbook.id} has no extra var {undeclared[0]!r} for the approval to give")


def approval_inputs(scenario):
    """`mcpops approve -e` pairs: the scenario's extra vars, the inputs an alert cannot give (INC-005's new
    rateLimit), given by the approver as an operator would."""
    args = []
    for name, value in scenario.extra_vars.items():
        args += ["-e", f"{name}={json.dumps(value) if isinstance(value, (list, dict)) else value}"]
    return args


def alert_host_target(targets, decision):
    """The target the alert named (the watcher's decision's host: the alert's `instance`); DrillError when it names
    none of the lab's."""
    for target in targets:
        if target.name == decision.get("host"):
            return target
    raise DrillError(f"the alert named host {decision.get('host')!r}, not one of the lab's targets "
                     f"({', '.join(t.name for t in targets)})")


def read_baseline(targets):
    """{name: tokens} of each target with tokens (None: no tokens, or a gateway that does not answer)."""
    from mcpops.drill.lab_adapters import read_tokens

    return {target.name: read_tokens(target) if target.has("tokens") else None for target in targets}


def inject_fault(lab, scenario, targets):
    """The scenario's fault into the lab once (a ConnectorMCP fault: it chooses its instances) or into the first
    target; the verdict's line."""
    if scenario.targets == scenarios.LAB:
        return f"{lab.kind} lab: {lab.inject(None, scenario.fault)}"
    return f"{targets[0].name}: {lab.inject(targets[0], scenario.fault)}"


def fault_still_there(lab, target, scenario, facts):
    """(still there, what was seen): nothing repaired the fault yet, its symptom's check (which passes once the
    runbook repaired it) fails; said with the service's state."""
    symptom = symptom_check(lab, target, scenario.symptom, facts, "")
    return not symptom.ok, (f"service {lab.service_state(target)}; {scenario.symptom}: {symptom.detail} "
                            "(expected: not repaired yet)")


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z" if moment else None


def read_report(run_dir):
    from mcpops.run.report import ReportError, find_report_json

    try:
        return json.loads(Path(find_report_json(run_dir)).read_text(encoding="utf-8"))
    except (ReportError, OSError, ValueError):
        return {}


def run_started_at(run_dir, report):
    """When the run really started: ansible-runner's first event (microseconds), else the report's started."""
    first = None
    for path in Path(run_dir).glob("artifacts/*/job_events/*.json"):
        try:
            created = alert_timing.parse_time(json.loads(path.read_text()).get("created"))
        except (OSError, ValueError):
            continue
        if created and (first is None or created < first):
            first = created
    return first or alert_timing.parse_time(report.get("started"))


def runs_since(runs_root, runbook_id, before):
    """The run dirs of runbook_id under runs_root that were not there before (a set of names)."""
    return sorted(p for p in Path(runs_root).glob(f"*-{runbook_id}*") if p.is_dir() and p.name not in before)


class AlertWatch:
    """What the drill saw of the alert while it waited: Prometheus' activeAt and when it first saw it firing."""

    def __init__(self, chain, out):
        self.chain, self.out = chain, out
        self.pending_at = self.firing_seen_at = None

    def look(self):
        alert = self.chain.prometheus_alert()
        if alert is None:
            return
        if self.pending_at is None and alert.get("activeAt"):
            self.pending_at = alert_timing.parse_time(alert["activeAt"])
            self.out(f"prometheus: {self.chain.alertname} pending since {_stamp(self.pending_at)} "
                     f"(instance {(alert.get('labels') or {}).get('instance')})")
        if self.firing_seen_at is None and alert.get("state") == "firing":
            self.firing_seen_at = _now()
            self.out(f"prometheus: {self.chain.alertname} firing")

    def wait(self, condition, timeout, what):
        """The first truthy condition(), looking at Prometheus between tries; DrillError at the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.look()
            found = condition()
            if found:
                return found
            self.chain.require_watch()
            time.sleep(POLL_SECONDS)
        raise DrillError(f"no {what} within {timeout}s (decisions since the drill started: "
                         f"{self.chain.new_decisions()}; mcpops watch's log: {self.chain.watch_log})")


def _decision(chain, wanted):
    """The watcher's first decision on the drilled alert that is one of wanted; DrillError for a refusal or a
    duplicate (the alert started nothing)."""
    for decision in chain.new_decisions():
        if decision.get("alertname") != chain.alertname:
            continue
        if decision.get("decision") in ("refused", "duplicate"):
            raise DrillError(f"the watcher's decision on {chain.alertname}: {decision.get('decision')}: "
                             f"{decision.get('reason')}")
        if decision.get("decision") in wanted:
            return decision
    return None


def _mcpops(args, env):
    """`mcpops <args>` as the operator runs it, its output (an approved run's progress) into the drill's; its exit."""
    bin_dir = Path(sys.executable).parent
    sys.stdout.flush()
    return subprocess.run([str(bin_dir / "mcpops"), *args], env=env, cwd=str(REPO), timeout=RUN_SECONDS,
                          stdin=subprocess.DEVNULL).returncode


def alert_checks(report, alertname, fingerprint, check_mode, approval_status=None):
    """The report names the alert that started the run, its mode, and its approval's state (none for a run the
    alert started at once); the checks of a check run are named check_run_*."""
    prefix = "check_run_" if check_mode else ""
    named = report.get("alert") or {}
    approval = (report.get("approval") or {}).get("status")
    return [Check(prefix + "alert_named", named.get("name") == alertname and named.get("fingerprint") == fingerprint,
                  f"report.json's alert: {named.get('name')} fingerprint {named.get('fingerprint')} "
                  f"(expected {alertname} {fingerprint})"),
            Check(prefix + "run_mode", report.get("check_mode") is check_mode,
                  f"check_mode {report.get('check_mode')} (expected {check_mode})"),
            Check(prefix + "approval", approval == approval_status,
                  f"report.json's approval: {approval or 'none'} (expected {approval_status or 'none'})")]


def alert_drill(lab, runbook, scenario, approval=None, keep=False, out=print, runs_dir=None):
    """One alert drill on lab (LocalDrillLab, ConnectorDrillLab, ComposeDrillLab, a CCTelegram FleetDrillLab: an
    adapter with alert_targets);
    returns the Verdict (written into the run dir of the run the alert started, with the watcher's log)."""
    from mcpops.drill.lab_adapters import read_tokens, take_backup
    from mcpops.run import runner

    runs_root = Path(runs_dir).resolve() if runs_dir else runner.runs_root().resolve()
    # a denied drill runs nothing for real: it has no runbook exit to expect
    read_only = not runbook.changes  # it starts at once, names the fault and leaves it: the drill repairs it
    verdict = Verdict(runbook=runbook.id, fault=scenario.fault, lab=lab.kind, targets=[],
                      expected_exit=None if approval == DENY else scenario.expect_exit if read_only else 0,
                      started_at=_stamp(_now()), why=scenario.why, service=lab.service,
                      via_alert={"alert": scenario.alert, "approval": approval}, read_only=read_only)
    chain = None
    out(f"== 1/7 Lab up ({lab.kind})")
    lab.up()
    try:
        targets = lab.targets()
        verdict.targets = [t.name for t in targets]
        path = "read-only, at once" if read_only else "auto-remediate" if approval is None \
            else f"check, then {approval}"
        out(f"== 2/7 Alert chain up: Prometheus -> Alertmanager -> mcpops watch ({runbook.id}: {path})")
        chain = AlertChain(lab.alert_targets(scenario), lab.inventory, runs_root, lab.env(), scenario.alert,
                           auto_remediate=approval is None)
        chain.start(out)
        before_runs = {p.name for p in runs_root.glob("*")} if runs_root.exists() else set()
        if scenario.backup_first:
            out(f"{targets[0].name}: backup {take_backup(targets[0])} taken before the fault")
        before = read_baseline(targets)
        # a fleet host's units right before the fault, where the symptom compares them (a restart: another main PID)
        units_before = {targets[0].name: lab.unit_snapshot(targets[0])} \
            if scenario.symptom in NEEDS_UNIT_BASELINE and scenario.targets != scenarios.LAB else {}

        out(f"== 3/7 Break: {scenario.fault} ({scenario.why})")
        verdict.injected.append(inject_fault(lab, scenario, targets))
        fault_at = _now()
        verdict.fault_at = _stamp(fault_at)
        out(verdict.injected[-1])
        for target in targets:
            out(f"{target.name}: service {lab.service_state(target)}; {probe_line(target)}")
        # tokens are compared with what the fault left where the gateway still answers (rate-storm issues one)
        after_fault = read_baseline([t for t in targets if before[t.name] is not None])
        baseline = {name: before[name] if after_fault.get(name) is None else after_fault[name] for name in before}
        facts = dict(lab.fault_facts(scenario.fault), **scenario.extra_vars)
        if units_before:
            facts["units_before"] = units_before

        out(f"== 4/7 Alert: waiting for {scenario.alert} to fire and start {runbook.id}")
        seen = AlertWatch(chain, out)
        wanted = ("ran",) if approval is None else ("pending approval",)
        # the run dir appears when the dispatch starts the run; the decision is logged when it ends
        started = seen.wait(lambda: _decision(chain, ()) or runs_since(runs_root, runbook.id, before_runs),
                            DISPATCH_SECONDS, f"run of {runbook.id} started by {scenario.alert}")
        out(f"mcpops watch started {started[0]}")
        decision = seen.wait(lambda: _decision(chain, wanted), RUN_SECONDS, f"decision {wanted[0]!r}")
        out(f"decision: {decision.get('decision')} ({decision.get('path')}) on {decision.get('host')}, fingerprint "
            f"{decision.get('fingerprint')}")
        target = alert_host_target(targets, decision)  # the host the alert named: the one the runbook runs on
        fingerprint = decision.get("fingerprint")
        verdict.via_alert.update(fingerprint=fingerprint, path=decision.get("path"))
        checks = []
        first_run = Path(decision.get("run_dir") or decision.get("check_run"))
        first_report = read_report(first_run)
        approved_run = None
        env = dict(chain.env)
        if approval is not None:
            verdict.via_alert["check_run"] = str(first_run)
            still, saw = fault_still_there(lab, target, scenario, facts)
            checks.append(Check("check_changed_nothing", still, f"after the check run, before any decision: {saw}"))
            checks += alert_checks(first_report, scenario.alert, fingerprint, True, "pending")
            # what an alert cannot give: the scenario's extra vars, and what the drill issues as the operator would
            # (cert-renewal: a new pair from the lab's test CA, mcpops.drill.cert_drill)
            inputs = approval_inputs(scenario) + approver_inputs(lab, target, scenario, out) \
                if approval == APPROVE else []
            out(f"== 4/7 Approval {decision.get('approval')}: mcpops {approval} {decision.get('approval')} "
                + " ".join(inputs))
            returncode = _mcpops([approval, decision["approval"], "--runs-dir", str(runs_root), *inputs], env)
            checks.append(Check(approval, returncode == 0, f"mcpops {approval}: exit {returncode}"))
            if approval == APPROVE:
                record = json.loads((runs_root / "approvals" / f"{decision['approval']}.json").read_text())
                run_dir = Path(record["run"]) if record.get("run") else None
                status = record.get("run_status")
            else:
                run_dir, status = None, None
        else:
            run_dir, status = first_run, decision.get("status")

        out("== 5/7 Verify")
        if run_dir is not None:
            verdict.run_dir = str(run_dir)
            report = read_report(run_dir)
            verdict.runbook_exit = status
            verdict.runbook_seconds = report.get("duration_seconds")
            verdict.runbook_said = last_words(run_dir)
            checks.append(check_runbook_exit(status, scenario.expect_exit if read_only else 0))
            # the symptom on the host the alert named (the run's only host: gone, or named by a read-only runbook);
            # every other target healthy as it was
            checks += verify_targets(lab, scenario, [target], baseline, facts, run_output(run_dir))
            for other in (t for t in targets if t is not target):
                checks += common_checks(other, True)
            checks += alert_checks(report, scenario.alert, fingerprint, False,
                                   "approved" if approval == APPROVE else None)
            if approval is None:  # a real run at once: this alert started no check run and no approval
                said = [d.get("decision") for d in chain.new_decisions() if d.get("fingerprint") == fingerprint]
                checks.append(Check("no_check_run", said == ["ran"], f"the watcher's decisions on it: {said}"))
            approved_run = (run_started_at(run_dir, report), report.get("duration_seconds"))
        else:  # denied: nothing ran for real, the lab is as the fault left it
            verdict.run_dir = str(first_run)
            still, saw = fault_still_there(lab, target, scenario, facts)
            runs = runs_since(runs_root, runbook.id, before_runs)
            checks.append(Check("denied_changed_nothing", still and runs == [first_run],
                                f"after the denial: {saw}; runs of {runbook.id}: "
                                f"{', '.join(p.name for p in runs)} (expected the check run only)"))
            approval_said = read_report(first_run).get("approval") or {}
            checks.append(Check("check_run_denied", approval_said.get("status") == "denied",
                                f"the check run's report.json: approval {approval_said.get('status')} by "
                                f"{approval_said.get('decided_by')} (expected denied)"))
            tokens_now = read_tokens(target) if baseline.get(target.name) is not None else None
            if tokens_now is not None:  # a gateway that answers: no token issued, revoked or lost (INC-002's)
                checks.append(check_tokens(target.name, baseline[target.name], tokens_now))
        verdict.checks = checks
        for check in checks:
            out(check.line())
        # a read-only runbook's verified diagnosis stands where a repaired service does in the clock
        healthy_at = _now() if run_dir is not None and all(c.ok for c in checks) else None
        if run_dir is not None and healthy_at is not None:
            verdict.recover_seconds = alert_timing.seconds(fault_at, healthy_at)
        if approval == DENY or read_only:
            try:
                if not hasattr(lab, "repair"):
                    raise DrillError(f"the {lab.kind} lab of {lab.service} cannot repair {scenario.fault} itself")
                out(f"{target.name}: the drill repairs its own fault: {lab.repair(target, scenario.fault)}")
            except DrillError as exc:  # a fault the lab cannot undo alone stays until the lab goes down
                out(f"{target.name}: {exc}: it stays until the lab goes down")
        elif run_dir is not None and scenario.undo_vars:  # what the approved run changed beyond the repair, undone
            undo = undo_run(lab, runbook, scenario, run_dir, facts, out)
            checks += undo
            for check in undo:
                out(check.line())

        out(f"== 6/7 Resolved: waiting for {scenario.alert} to resolve into {verdict.run_dir}/report.md")
        resolved_at = None
        try:
            seen.wait(lambda: _decision(chain, ("resolved",)), RESOLVE_SECONDS, "resolved alert")
            resolved_at = (read_report(verdict.run_dir).get("alert") or {}).get("resolved_at")
        except DrillError as exc:
            out(str(exc))
        verdict.checks.append(Check("resolved", bool(resolved_at),
                                    f"report.json's alert.resolved_at {resolved_at or 'not set'}"))
        out(verdict.checks[-1].line())

        firing_at = alert_timing.parse_time((first_report.get("alert") or {}).get("starts_at"))
        first = (run_started_at(first_run, first_report), first_report.get("duration_seconds"))
        parts = alert_timing.split(fault_at, seen.pending_at, firing_at, first,
                                   healthy_at, alert_timing.parse_time(resolved_at),
                                   approved_run=approved_run if approval == APPROVE else None,
                                   denied=approval == DENY, read_only=read_only)
        verdict.via_alert.update(timings=parts, timing_lines=alert_timing.lines(parts),
                                 firing_at=_stamp(firing_at), pending_at=_stamp(seen.pending_at))
        out("== Timings")
        for timing in verdict.via_alert["timing_lines"]:
            out(timing)
    finally:
        verdict.finished_at = _stamp(_now())
        if chain is not None:
            chain.stop()
            out("alert chain down: prometheus, alertmanager and mcpops watch stopped by PID")
            if verdict.run_dir:
                shutil.copyfile(chain.watch_log, Path(verdict.run_dir) / "watch.log")
                chain.purge()
            else:
                out(f"the chain's logs are kept in {chain.dir}")
        closed = lab.stop_alert_targets() if hasattr(lab, "stop_alert_targets") else None
        if closed:  # what the lab ran for its chain only (the Kubernetes lab's Service stand-in, its exporter)
            out(closed)
        if lab.started and not keep:
            out(f"== 7/7 Lab down ({lab.kind}: the drill started it)")
            lab.down()
            out(f"lab down: {lab.kind} lab stopped")
        elif lab.started:
            out("== 7/7 Lab kept running (--keep); `mcpops lab down` when done")
        else:
            out("== 7/7 Lab left running (it was running before the drill)")
    if verdict.run_dir:
        write_verdict(verdict)
    return verdict

