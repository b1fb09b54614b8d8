"""The drill table and the drill's verdict: which runbook can be rehearsed with which lab fault, what the
drill passes to it, and what must be true afterwards.

A drill (`mcpops drill <runbook>`) breaks a lab the way production breaks, runs the runbook through the
same code as `mcpops run`, then checks the lab: the gateway healthy (/healthz and /readyz 200), its
storage-meta at the supported schemaVersion with every store ok, no token lost or added, and the
fault's own symptom gone. A read-only runbook cannot make a symptom go: its drill expects the run to end
red (exit 2) and checks that the run's output names the fault instead.

Everything here is plain data and pure functions (tests/unit/test_drills.py); talking to a lab lives
in mcpops.drill_labs, the sequence in mcpops.drill.
"""

import json
import re
from dataclasses import asdict, dataclass, field

SUPPORTED_SCHEMA_VERSION = 3  # docs/dev/conventions.md, "Data dir"; the reference gateway's newest
LOCAL, FLEET = "local", "fleet"


class DrillError(Exception):
    """The drill cannot start (nothing was started); the message is one line."""


@dataclass(frozen=True)
class Scenario:
    """One way to drill a runbook: the fault injected into every target, and what is checked after."""

    fault: str
    symptom: str                       # the check that proves the fault's symptom gone (or named): SYMPTOMS
    extra_vars: dict = field(default_factory=dict)
    labs: tuple = (LOCAL, FLEET)       # where the lab has this fault
    backup_first: bool = False         # take a backup before breaking, as the nightly one would be
    expect_exit: int = 0               # 0: the runbook repairs; 2: a read-only runbook ends red naming it
    healthy_after: bool = True         # the gateway must answer /healthz and /readyz after the run
    why: str = ""                      # one line for drill.md: what the drill rehearses


# What proves a symptom gone (or, for a read-only runbook, named); drill_labs implements each.
SYMPTOMS = {
    "service_running": "the gateway's service is running again (supervisor RUNNING / systemd active)",
    "store_parses": "tokens.json in the data dir is valid JSON again",
    "schema_supported": "storage-meta.json is back at a supported schemaVersion without 099_future",
    "rate_limited": "the storming token's rateLimit is the one the drill asked for",
    "named_upstream": "the run names the upstream as the failed check",
    "named_certificate": "the run names the certificate as the failed check",
    "named_gate": "the rollout stopped at the host that failed its health gate",
}

# The runbook's output line that names the fault, for the named_* symptoms (searched in the run's stdout).
NAMED_PATTERNS = {
    "named_upstream": r"FAILED: [a-z, ]*upstream",
    "named_certificate": r"FAILED: [a-z, ]*certificate",
    "named_gate": r"Rolling restart stopped at \S+",
}

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
    "backup-scheduled": "nothing breaks: it is a scheduled job, tested by tests/integration/test_backup_scheduled.py",
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


# -- checks: each is a Check(name, ok, detail) ---------------------------------------------------------

@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    target: str = ""

    def line(self):
        where = f" [{self.target}]" if self.target else ""
        return f"{'PASS' if self.ok else 'FAIL'} {self.name}{where}: {self.detail}"


def check_health(target, healthz, readyz):
    """healthz/readyz: (status, body) of GET /healthz and /readyz."""
    ok = healthz[0] == 200 and readyz[0] == 200
    detail = f"/healthz {healthz[0]}, /readyz {readyz[0]}"
    if readyz[0] != 200 and isinstance(readyz[1], dict) and readyz[1].get("checks"):
        detail += f" {json.dumps(readyz[1]['checks'], sort_keys=True)}"
    return Check("healthy", ok, detail, target)


def check_storage_meta(target, status, meta, expected=None):
    expected = SUPPORTED_SCHEMA_VERSION if expected is None else expected
    if status != 200 or not isinstance(meta, dict):
        return Check("storage-meta", False, f"GET /api/system/storage-meta answered {status}", target)
    version = meta.get("schemaVersion")
    bad = sorted(name for name, store in (meta.get("stores") or {}).items()
                 if not (isinstance(store, dict) and store.get("ok")))
    ok = version == expected and not bad
    detail = f"schemaVersion {version} (expected {expected})"
    detail += f", stores not ok: {', '.join(bad)}" if bad else ", every store ok"
    return Check("storage-meta", ok, detail, target)


def check_tokens(target, before, after):
    """before/after: {token id: revoked (bool)}, or None when the gateway did not answer."""
    if before is None:
        return Check("tokens", True, "no baseline (the gateway did not answer before the fault); not compared",
                     target)
    if after is None:
        return Check("tokens", False, "the gateway did not answer GET /api/mcp-tokens after the run", target)
    lost = sorted(set(before) - set(after))
    added = sorted(set(after) - set(before))
    flipped = sorted(t for t in set(before) & set(after) if before[t] != after[t])
    ok = not (lost or added or flipped)
    if ok:
        revoked = sum(1 for v in after.values() if v)
        return Check("tokens", True, f"{len(after)} tokens ({revoked} revoked), unchanged", target)
    parts = []
    for words, ids in (("lost", lost), ("added", added), ("revoked state changed", flipped)):
        if ids:
            parts.append(f"{words}: {', '.join(ids[:5])}" + (f" (+{len(ids) - 5})" if len(ids) > 5 else ""))
    return Check("tokens", False, f"{len(before)} before, {len(after)} after; " + "; ".join(parts), target)


def check_named(symptom, run_output):
    pattern = NAMED_PATTERNS[symptom]
    match = re.search(pattern, run_output or "")
    if match:
        return Check(symptom, True, f"the run says {match.group(0)!r}")
    return Check(symptom, False, f"no line of the run's output matches {pattern!r}")


def check_runbook_exit(status, expected):
    words = {0: "ok", 1: "ansible-playbook failed", 2: "some host failed", 3: "some host unreachable"}
    ok = status == expected
    detail = f"exit {status} ({words.get(status, '?')}), expected {expected} ({words.get(expected, '?')})"
    return Check("runbook", ok, detail)


# -- the verdict ---------------------------------------------------------------------------------------

@dataclass
class Verdict:
    runbook: str
    fault: str
    lab: str
    targets: list
    injected: list = field(default_factory=list)   # one line a target, as the fault said it
    runbook_exit: int = None
    expected_exit: int = 0
    checks: list = field(default_factory=list)
    run_dir: str = None
    started_at: str = None
    fault_at: str = None
    finished_at: str = None
    recover_seconds: float = None   # from the fault injected to the checks passing; None when they did not
    runbook_seconds: float = None
    runbook_said: dict = field(default_factory=dict)  # {host: the runbook's summary lines}
    why: str = ""

    @property
    def repairs(self):
        """A repairing drill (the symptom must go) or a diagnosing one (a read-only runbook names it)."""
        return self.expected_exit == 0

    @property
    def passed(self):
        return self.runbook_exit == self.expected_exit and bool(self.checks) and all(c.ok for c in self.checks)

    def failed_checks(self):
        return [c for c in self.checks if not c.ok]

    def as_dict(self):
        out = asdict(self)
        out["passed"] = self.passed
        return out

    def summary(self):
        if self.passed:
            took = f" in {self.recover_seconds:.1f}s" if self.recover_seconds is not None else ""
            done = "recovered" if self.repairs else "the runbook named the fault"
            return f"drill {self.runbook} ({self.fault}, {self.lab} lab): PASSED, {done}{took}"
        failed = ", ".join(sorted({c.name for c in self.failed_checks()})) or "no check ran"
        return f"drill {self.runbook} ({self.fault}, {self.lab} lab): FAILED ({failed})"

    def markdown(self):
        lines = [f"# Drill: {self.runbook} with fault {self.fault} ({self.lab} lab)", ""]
        if self.why:
            lines += [self.why[0].upper() + self.why[1:] + ".", ""]
        lines += [f"**Verdict: {'PASSED' if self.passed else 'FAILED'}**", "",
                  "| | |", "| --- | --- |",
                  f"| targets | {', '.join(self.targets)} |",
                  f"| started | {self.started_at} |",
                  f"| fault injected | {self.fault_at} |",
                  f"| finished | {self.finished_at} |",
                  f"| runbook exit | {self.runbook_exit} (expected {self.expected_exit}) |",
                  "| runbook took | " + (f"{self.runbook_seconds:.1f}s" if self.runbook_seconds is not None else "-")
                  + " |",
                  f"| time to {'recover' if self.repairs else 'diagnose'} | "
                  + (f"{self.recover_seconds:.1f}s" if self.recover_seconds is not None else "-") + " |",
                  "", "## Fault", ""]
        lines += [f"- {line}" for line in self.injected] or ["- (not injected)"]
        for host, said in sorted(self.runbook_said.items()):
            lines += ["", f"## What the runbook said on {host}", ""] + [f"    {line}" for line in said]
        lines += ["", "## Checks", ""]
        lines += [f"- {c.line()}" for c in self.checks] or ["- (none ran)"]
        lines += ["", "The runbook's own incident report is report.md in this run dir.", ""]
        return "\n".join(lines)
