"""The parts of a drill's sequence that more than one kind of drill runs (mcpops.drill.command, the drill that runs
the runbook itself; mcpops.drill.alert_drill, the one an alert starts): what the run said, which targets a fault
breaks, the checks after a run, a target's health in one line."""

import json
from pathlib import Path

from mcpops.drill import scenarios
from mcpops.drill import checks as drill_checks
from mcpops.drill.checks import LAB_WIDE, check_tokens, common_checks
from mcpops.run.plugin_utils import load


def run_output(run_dir):
    """Everything ansible-playbook printed in this run (ansible-runner's artifacts/<ident>/stdout)."""
    return "\n".join(p.read_text(errors="replace") for p in sorted(Path(run_dir).glob("artifacts/*/stdout")))


# The actions a runbook prints its lines with: debug, and runbook_summary for its summary step.
SUMMARY_ACTIONS = ("ansible.builtin.debug", "debug", "mcpops.runbooks.runbook_summary", "runbook_summary")


def last_words(run_dir):
    """{host: [lines]}: the message of each host's last debug or summary task (the runbook's summary), masked."""
    masker = load("secret_mask").SecretMasker()
    events = []
    for path in Path(run_dir).glob("artifacts/*/job_events/*.json"):
        try:
            events.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    words = {}
    for event in sorted(events, key=lambda e: e.get("counter", 0)):
        data = event.get("event_data") or {}
        msg = (data.get("res") or {}).get("msg")
        if event.get("event") == "runner_on_ok" and data.get("task_action") in SUMMARY_ACTIONS and msg:
            lines = msg if isinstance(msg, list) else str(msg).splitlines()
            words[data.get("host", "?")] = [masker.text(str(line)) for line in lines]
    return words


def symptom_check(lab, target, symptom, facts, run_output):
    """The fault's own symptom, gone (or named): a CCTelegram fleet's by mcpops.drill.fleet_checks, the others by
    mcpops.drill.checks."""
    if symptom in drill_checks.FLEET_SYMPTOMS:
        from mcpops.drill.fleet_checks import fleet_symptom_check
        from mcpops.drill.profiles import evaluate

        return fleet_symptom_check(lab, target, symptom, facts, evaluate)
    return drill_checks.symptom_check(lab, target, symptom, facts, run_output)


def undone_check(lab, symptom, facts):
    """After the scenario's undo run: what it took back, seen gone; None where the drill has no such check."""
    if symptom in drill_checks.FLEET_SYMPTOMS:
        from mcpops.drill.fleet_checks import fleet_undone_check

        return fleet_undone_check(lab, symptom)
    return drill_checks.undone_check(lab, symptom, facts)


def undo_run(lab, runbook, scenario, run_dir, facts, out):
    """The runbook once more with the scenario's undo_vars (e.g. unblock the address the drill had it block), in
    <run dir>/undo; the Checks of its exit and, where the symptom has one, of what it undid."""
    from mcpops.run import runner
    from mcpops.run.progress import Progress

    undo_dir = Path(run_dir) / "undo"
    undo_dir.mkdir(mode=0o700)
    words = " ".join(f"-e {k}={v}" for k, v in scenario.undo_vars.items())
    out(f"== Undo: mcpops run {runbook.id} -i {lab.inventory} --yes {words}")
    request = runner.RunRequest(runbook=runbook, inventory=lab.inventory, yes=True,
                                extra_vars=dict(scenario.undo_vars))
    status, _ = runner.run(request, Progress(), run_dir=undo_dir, env=lab.env())
    checks = [drill_checks.Check("undo", status == 0,
                                 f"{words}: exit {status} (expected 0); its run is in {undo_dir}")]
    undone = undone_check(lab, scenario.symptom, facts) if status == 0 else None
    return checks + ([undone] if undone else [])


def broken_targets(scenario, targets):
    """The targets the fault goes into (and whose symptom is checked): every one, or the first only (one host of the
    fleet broken); a fault into the lab (LAB) may break any of them: every one is checked."""
    return list(targets) if scenario.targets in (scenarios.ALL, scenarios.LAB) else list(targets)[:1]


def verify_targets(lab, scenario, targets, baseline, facts, output):
    """The checks after a run: each target healthy, its tokens as before, the fault's symptom gone (or named)."""
    from mcpops.drill.lab_adapters import read_tokens

    broken = {t.name for t in broken_targets(scenario, targets)}
    checks = []
    for target in targets:
        healthy = scenario.healthy_after is True or (scenario.healthy_after == scenarios.OTHERS
                                                     and target.name not in broken)
        checks += common_checks(target, healthy)
        if target.has("tokens"):
            checks.append(check_tokens(target.name, baseline[target.name], read_tokens(target),
                                       scenario.issued_tokens))
        if target.name in broken and scenario.symptom not in LAB_WIDE:
            checks.append(symptom_check(lab, target, scenario.symptom, facts, output))
    if scenario.symptom in LAB_WIDE and targets:  # a symptom of the whole lab: once
        checks.append(symptom_check(lab, targets[0], scenario.symptom, facts, output))
    return checks


def probe_line(target):
    """A target's health right now in one line: /healthz and /readyz (a service: its profile's checks) and status."""
    from mcpops.lab.http_client import http_json

    if target.profile is not None:  # the profile's liveness and readiness checks, with their auth
        return "; ".join(f"{spec['path']} {target.probe(spec, timeout=3)[0]}" for spec in target.health_specs())
    return "; ".join(f"/{name} {http_json(target.api_url + '/' + name, timeout=3)[0]}"
                     for name in ("healthz", "readyz"))


def wait_for_repair(lab, scenario, targets, facts, timeout, interval=1.0):
    """Poll until the fault's symptom is gone on every broken target (a guard the runbook installed repairs it, after
    the run), or timeout seconds passed; whether it was. The verify step checks it all again afterwards."""
    import time

    broken = broken_targets(scenario, targets)
    if scenario.symptom in LAB_WIDE:
        broken = broken[:1]
    deadline = time.monotonic() + timeout
    while True:
        if all(symptom_check(lab, t, scenario.symptom, facts, "").ok for t in broken):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
