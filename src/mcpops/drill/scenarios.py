"""The drill table: which runbook can be rehearsed with which lab fault, what the drill passes to it, and
which symptom must be gone (or named) afterwards.

A drill (`mcpops drill <runbook>`) breaks a lab the way production breaks, runs the runbook through the
same code as `mcpops run`, then checks the lab (mcpops.drill.checks). A read-only runbook cannot make a
symptom go: its drill expects the run to end red (exit 2) and checks that the run's output names the
fault instead.

Plain data and pure functions (tests/unit/mcpops/drill/test_scenarios.py); the checks live in
mcpops.drill.checks, talking to a lab in mcpops.drill.lab_adapters, the sequence in mcpops.drill.command.
"""

from dataclasses import dataclass, field

LOCAL, FLEET = "local", "fleet"


class DrillError(Exception):
    """The drill cannot start (nothing was started); the message is one line."""


@dataclass(frozen=True)
class Scenario:
    """One way to drill a runbook: the fault injected into every target, and what is checked after."""

    fault: str
    symptom: str                       # the check that proves the fault's symptom gone (or named): checks.SYMPTOMS
    extra_vars: dict = field(default_factory=dict)
    labs: tuple = (LOCAL, FLEET)       # where the lab has this fault
    backup_first: bool = False         # take a backup before breaking, as the nightly one would be
    expect_exit: int = 0               # 0: the runbook repairs; 2: a read-only runbook ends red naming it
    healthy_after: bool = True         # the gateway must answer /healthz and /readyz after the run
    why: str = ""                      # one line for drill.md: what the drill rehearses


DRILLS = {
    "inc-001-gateway-down": (
        Scenario("stop", "service_running", why="the gateway is down: INC-001 restarts it and waits for health"),
        Scenario("crash", "service_running",
                 why="the gateway was killed and its supervisor restarted it: INC-001 finds it healthy"),
        Scenario("corrupt-store", "store_parses", {"escalate_to_restore": True}, backup_first=True,
                 why="a crash loop on corrupt data: INC-001 captures the logs and escalates to INC-003"),
    ),
    "inc-003-restore": (
        Scenario("corrupt-store", "store_parses", backup_first=True,
                 why="invalid JSON in tokens.json: restore the newest valid backup"),
        Scenario("bad-migration", "schema_supported", backup_first=True,
                 why="a migration the binary does not know: restore the newest valid backup"),
    ),
    "inc-004-upstream-degraded": (
        Scenario("upstream-down", "named_upstream", labs=(LOCAL,), expect_exit=2,
                 why="the 1C OData upstream answers 500: the read-only runbook must say it is the upstream"),
        Scenario("cert-expiring", "named_certificate", labs=(LOCAL,), expect_exit=2,
                 why="the upstream's certificate has 5 days left: the runbook must say it is the certificate"),
    ),
    "inc-005-rate-limit": (
        Scenario("rate-storm", "rate_limited", {"rate_limit": 2}, labs=(LOCAL,),
                 why="a ci-bot token storms the gateway into 429s: INC-005 lowers that token's rateLimit"),
    ),
    "rolling-restart": (
        Scenario("not-ready", "named_gate", {"health_retries": 5}, labs=(LOCAL,), expect_exit=2, healthy_after=False,
                 why="a host that does not come back ready: the rollout must stop at it"),
    ),
}

# Runbooks with no lab fault to rehearse them with, and why (the refusal says it in one line).
NOT_DRILLABLE = {
    "inc-002-auth-failures": "it issues a new token whose secret has to be handed to a client; rehearse it with "
                             "`mcpops lab break auth-spike` and `mcpops run`",
    "inc-006-secret-leak": "it rotates the admin token and revokes a whole org; rehearse it on a lab you then drop",
    "cert-renewal": "it needs a new certificate and key from a CA, which a drill cannot invent",
    "db-connection-exhaustion": "the labs have no PostgreSQL behind the gateway",
    "pg-backup-verify": "the labs have no PostgreSQL dumps to verify",
    "backup-scheduled": "nothing breaks: it is a scheduled job, tested by tests/integration/playbooks/test_backup_scheduled.py",
    "health-check": "it is the morning check itself; it has no incident to recover from",
    "triage": "it only collects a diagnostics bundle; there is nothing to recover",
    "service-outage": "its remedies (rollback, scale) need docker compose or kubernetes, which the labs do not run",
}


def drillable():
    return sorted(DRILLS)


def choose(runbook_id, fault=None, lab=LOCAL):
    """The scenario for runbook_id (its first one, or the one of `fault`) on lab; DrillError otherwise."""
    known = ", ".join(drillable())
    if runbook_id not in DRILLS:
        reason = NOT_DRILLABLE.get(runbook_id, "no lab fault rehearses it")
        raise DrillError(f"{runbook_id} cannot be drilled: {reason} (drillable: {known})")
    scenarios = DRILLS[runbook_id]
    if fault is None:
        usable = [s for s in scenarios if lab in s.labs]
        if not usable:
            raise DrillError(f"{runbook_id} cannot be drilled on the {lab} lab: its faults "
                             f"({', '.join(s.fault for s in scenarios)}) exist on the local lab only")
        return usable[0]
    for scenario in scenarios:
        if scenario.fault == fault:
            if lab not in scenario.labs:
                raise DrillError(f"{runbook_id} with --fault {fault}: the {lab} lab has no {fault} fault "
                                 f"(it runs on: {', '.join(scenario.labs)})")
            return scenario
    raise DrillError(f"{runbook_id} has no drill with --fault {fault} "
                     f"(its faults: {', '.join(s.fault for s in scenarios)})")
