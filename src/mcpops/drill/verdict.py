"""The verdict of one drill: what was broken, what the runbook said, every check, PASSED or FAILED; written
into the run dir as drill.json and drill.md (tests/unit/mcpops/drill/test_verdict.py)."""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mcpops.drill.scenarios import DEFAULT_SERVICE
from mcpops.run.plugin_utils import load


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
    service: str = DEFAULT_SERVICE  # the service the lab ran (its profile's name)
    via_alert: dict = None          # an alert drill (mcpops.drill.alert_drill): {alert, approval, fingerprint, path,
                                    # check_run, timings, timing_lines}; None when the drill ran the runbook itself
    read_only: bool = False         # the runbook changes nothing (triage ends green, INC-004 red): it names the fault

    @property
    def repairs(self):
        """A repairing drill (the symptom must go) or a diagnosing one (a read-only runbook names it)."""
        return self.expected_exit == 0 and not self.read_only

    @property
    def denied(self):
        """An alert drill whose approval was denied: it passes when nothing changed."""
        return bool(self.via_alert) and self.via_alert.get("approval") == "deny"

    @property
    def passed(self):
        return self.runbook_exit == self.expected_exit and bool(self.checks) and all(c.ok for c in self.checks)

    def failed_checks(self):
        return [c for c in self.checks if not c.ok]

    def as_dict(self):
        out = asdict(self)
        out["passed"] = self.passed
        return out

    @property
    def _where(self):
        """"local lab", or with another service than the 1C gateway "cctelegram-mcp on the fleet lab"."""
        where = f"{self.lab} lab" if self.service == DEFAULT_SERVICE else f"{self.service} on the {self.lab} lab"
        if self.via_alert:
            approval = {"approve": ", approved", "deny": ", denied"}.get(self.via_alert.get("approval"), "")
            where += f", via alert {self.via_alert.get('alert')}{approval}"
        return where

    def summary(self):
        if self.passed:
            took = f" in {self.recover_seconds:.1f}s" if self.recover_seconds is not None else ""
            done = "recovered" if self.repairs else "the runbook named the fault"
            if self.denied:
                done, took = "denied: the lab was left as it was", ""
            return f"drill {self.runbook} ({self.fault}, {self._where}): PASSED, {done}{took}"
        failed = ", ".join(sorted({c.name for c in self.failed_checks()})) or "no check ran"
        return f"drill {self.runbook} ({self.fault}, {self._where}): FAILED ({failed})"

    def markdown(self):
        lines = [f"# Drill: {self.runbook} with fault {self.fault} ({self._where})", ""]
        if self.why:
            lines += [self.why[0].upper() + self.why[1:] + ".", ""]
        lines += [f"**Verdict: {'PASSED' if self.passed else 'FAILED'}**", "",
                  "| | |", "| --- | --- |",
                  f"| service | {self.service} |",
                  f"| targets | {', '.join(self.targets)} |",
                  f"| started | {self.started_at} |",
                  f"| fault injected | {self.fault_at} |",
                  f"| finished | {self.finished_at} |",
                  (f"| runbook exit | {self.runbook_exit} (expected {self.expected_exit}) |" if not self.denied
                   else "| runbook exit | - (denied: nothing ran for real) |"),
                  "| runbook took | " + (f"{self.runbook_seconds:.1f}s" if self.runbook_seconds is not None else "-")
                  + " |",
                  f"| time to {'recover' if self.repairs else 'diagnose'} | "
                  + (f"{self.recover_seconds:.1f}s" if self.recover_seconds is not None else "-") + " |",
                  "", "## Fault", ""]
        lines += [f"- {line}" for line in self.injected] or ["- (not injected)"]
        for host, said in sorted(self.runbook_said.items()):
            lines += ["", f"## What the runbook said on {host}", ""] + [f"    {line}" for line in said]
        if self.via_alert:
            lines += ["", f"## From the alert {self.via_alert.get('alert')}", "",
                      f"Fingerprint {self.via_alert.get('fingerprint')}, path {self.via_alert.get('path')}"
                      + (f", check run {self.via_alert['check_run']}" if self.via_alert.get("check_run") else "")
                      + ".", ""]
            lines += [f"    {line}" for line in self.via_alert.get("timing_lines") or []]
        lines += ["", "## Checks", ""]
        lines += [f"- {c.line()}" for c in self.checks] or ["- (none ran)"]
        lines += ["", "The runbook's own incident report is report.md in this run dir.", ""]
        return "\n".join(lines)


def write_verdict(verdict):
    """drill.json and drill.md in the verdict's run dir."""
    write = load("report_files").write_atomically
    run_dir = Path(verdict.run_dir)
    write(str(run_dir / "drill.json"), json.dumps(verdict.as_dict(), indent=2, sort_keys=True) + "\n")
    write(str(run_dir / "drill.md"), verdict.markdown())
