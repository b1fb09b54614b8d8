"""`mcpops alert`: what the rulebook runs for each Alertmanager alert (one event of the collection's source, read
from stdin). A firing alert is checked against the runbook list and the inventory (alert_policy), throttled per
runbook and host (alert_ledger), then run through the same code as `mcpops run` (its run dir, its report naming
the alert): at once when read-only or auto-remediated, in check mode and as a pending approval otherwise. A resolved
alert is written into the reports of the runs it started. Every decision is one line of <runs>/.alerts/decisions.log
and of stdout (stderr for a refusal, exit 4: ansible-rulebook logs the failed action)."""

import json
import os
import sys
import urllib.parse
from pathlib import Path

from mcpops.run import runner
from mcpops.run.runbooks import RunbookError, discover, find
from mcpops.watch import alert_policy
from mcpops.watch.alert_ledger import Ledger, window_seconds
from mcpops.watch.approvals import APPROVED, DENIED, Approvals, ttl_seconds
from mcpops.watch.report_notes import mark_approval, mark_resolved
from mcpops.watch.state_files import now_utc, stamp

INVENTORY_ENV = "MCPOPS_INVENTORY"
OPERATOR_VAR = "mcpops_operator"  # who acts: the approver (--by), never an input
SECRET_SHOWN = "********"
MAX_EVENT_BYTES = 4 * 1024 * 1024  # the source takes bodies up to 1 MiB; its percent-encoding at most triples it
EXIT_REFUSED = 4
# What the rulebook's own ansible-runner set for the action that runs `mcpops alert`: the runbook's run is another
# ansible-runner run, which must start from the operator's settings, not from these (its stdout callback would be
# the outer one's, host keys unchecked, facts cached in a temporary dir that is deleted).
OUTER_RUNNER_ENV = ("ANSIBLE_STDOUT_CALLBACK", "ORIGINAL_STDOUT_CALLBACK", "ANSIBLE_CALLBACK_PLUGINS",
                    "AWX_ISOLATED_DATA_DIR", "ANSIBLE_CACHE_PLUGIN", "ANSIBLE_CACHE_PLUGIN_CONNECTION",
                    "ANSIBLE_RETRY_FILES_ENABLED", "ANSIBLE_LOAD_CALLBACK_PLUGINS", "AD_HOC_COMMAND_ID")


class EventError(ValueError):
    """stdin is not one event of the collection's Alertmanager source."""


def read_event(text):
    """The event the rulebook passed: its JSON, percent-encoded (so that no `{{` ever reaches Ansible's templating
    on the way), or plain."""
    if len(text) > MAX_EVENT_BYTES:
        raise EventError("the event is over %d bytes" % MAX_EVENT_BYTES)
    text = text.strip()
    if text.startswith("%"):
        text = urllib.parse.unquote(text, errors="strict")
    try:
        event = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise EventError("the event is not JSON (%s)" % str(exc)[:80]) from None
    if not isinstance(event, dict) or not isinstance(event.get("alert"), dict):
        raise EventError("the event has no alert (is the rulebook's source mcpops.runbooks.alertmanager?)")
    return event


def approver_inputs(runbook, pairs, recorded):
    """`mcpops approve <id> -e name=value`: the inputs an alert cannot give (INC-005's new rateLimit), typed by the
    runbook's metadata as `mcpops run -e` does. Never what the approval recorded (the host, the alert) nor the
    operator (--by): the approver adds to the run, the alert's scope stays. RunbookError before anything runs."""
    pairs = list(pairs or ())
    if not pairs:
        return {}
    fixed = sorted(set(recorded) | {OPERATOR_VAR})
    for pair in pairs:
        name = pair.partition("=")[0]
        if name in fixed:
            raise RunbookError(f"-e {name}: an approval's {name} is not the approver's to set (recorded from the "
                               f"alert, or --by); it takes inputs only")
    return runbook.parse_extra_vars(pairs)


def shown_inputs(runbook, inputs):
    """The approver's inputs as the approval and the reports record them: a secret's value never."""
    secret = set(runbook.secret_names())
    return {name: SECRET_SHOWN if name in secret else value for name, value in sorted(inputs.items())}


class QuietProgress:
    """No progress lines: the rulebook's action output is the decisions log, the run's story is its report."""

    masker = None

    def on_event(self, _event):
        return True

    def close(self):
        pass


def inventory_hosts(inventory):
    """The host names of an inventory, as Ansible reads it."""
    os.environ.setdefault("ANSIBLE_CONFIG", str(runner.REPO / "ansible.cfg"))
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    return {host.name for host in InventoryManager(loader=DataLoader(), sources=[str(inventory)]).get_hosts("all")}


def _plain(value, limit=80):
    """A label as the decisions log shows it: one printable line, cut short (whoever POSTs writes it)."""
    text = value if isinstance(value, str) else repr(value)
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]


def _alert_summary(alert):
    labels = alert.get("labels") if isinstance(alert.get("labels"), dict) else {}
    return {"alertname": _plain(labels.get("alertname")), "status": _plain(alert.get("status"), 20)}


class Dispatcher:
    def __init__(self, runs_root, inventory, run=runner.run, out=None, err=None, environ=None):
        self.runs_root = Path(runs_root)
        self.inventory = Path(inventory) if inventory else None
        self.run = run
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.environ = os.environ if environ is None else environ
        self.ledger = Ledger(self.runs_root)
        self.approvals = Approvals(self.runs_root)

    def _say(self, decision, refused=False):
        line = self.ledger.log(decision)
        print(line, file=self.err if refused else self.out, flush=True)

    def handle(self, event):
        """Exit status: 0 (handled: run ok, duplicate, resolved), the run's status (2, 3, 1), or 4 (refused)."""
        alert = event["alert"]
        fingerprint = alert_policy.fingerprint_of(alert)
        summary = dict(_alert_summary(alert), fingerprint=fingerprint)
        if alert.get("status") == "resolved":
            return self._resolved(alert, fingerprint, summary)
        try:
            if self.inventory is None:
                raise alert_policy.Refused("no inventory: %s is not set (mcpops watch sets it)" % INVENTORY_ENV)
            plan = alert_policy.plan(alert, event.get("host"), {r.id: r for r in discover()},
                                     inventory_hosts(self.inventory))
        except alert_policy.Refused as exc:
            self._say(dict(summary, decision="refused", reason=str(exc)), refused=True)
            return EXIT_REFUSED
        summary.update(runbook=plan.runbook.id, host=plan.host, path=plan.path)
        earlier = self.ledger.claim(fingerprint, plan.runbook.id, plan.host, window_seconds(self.environ))
        if earlier is not None:
            self._say(dict(summary, decision="duplicate", reason="%s on %s started at %s (alert %s): nothing started"
                           % (plan.runbook.id, plan.host, earlier["started_at"], earlier["fingerprint"])))
            return 0
        check = plan.path == alert_policy.APPROVAL
        try:
            status, run_dir = self.run(runner.RunRequest(runbook=plan.runbook, inventory=self.inventory,
                                                         limit=plan.limit or plan.host, check=check,
                                                         extra_vars=plan.extra_vars, yes=True), QuietProgress())
        except Exception as exc:
            # no run started: the claim would hold back the next firing for a whole window, for nothing
            self.ledger.release(fingerprint)
            self._say(dict(summary, decision="failed to start", reason="%s: %s" % (type(exc).__name__, exc),
                           next="the claim is withdrawn: the next firing of the alert starts the runbook again"),
                      refused=True)
            raise
        self._ran(fingerprint, run_dir)
        if not check:
            self._say(dict(summary, decision="ran", run_dir=str(run_dir), status=status, note=plan.note))
            return status
        approval = self.approvals.create(
            ttl_seconds(self.environ), runbook=plan.runbook.id, host=plan.host, inventory=str(self.inventory),
            extra_vars=plan.extra_vars, fingerprint=fingerprint, alertname=summary["alertname"],
            check_run=str(run_dir), check_status=status)
        mark_approval(run_dir, approval)
        self._say(dict(summary, decision="pending approval", approval=approval["id"], check_run=str(run_dir),
                       check_status=status, expires_at=approval["expires_at"], note=plan.note,
                       next="mcpops approve %s | mcpops deny %s" % (approval["id"], approval["id"])))
        return 0

    def _ran(self, fingerprint, run_dir):
        record = self.ledger.add_run(fingerprint, run_dir)
        if record and record.get("resolved_at"):  # it resolved while the runbook ran
            mark_resolved(run_dir, record["resolved_at"])

    def _resolved(self, alert, fingerprint, summary):
        resolved_at = alert.get("endsAt") if isinstance(alert.get("endsAt"), str) else stamp(now_utc())
        record = self.ledger.resolve(fingerprint, resolved_at)
        runs = (record or {}).get("runs") or []
        for run_dir in runs:
            mark_resolved(run_dir, resolved_at)
        self._say(dict(summary, decision="resolved", resolved_at=resolved_at, runs=runs,
                       reason="recorded in %d report(s)" % len(runs) if record else "it started no run"))
        return 0

    # -- an operator's decision on a pending approval

    def approve(self, approval_id, by, progress, inputs=()):
        """Run the approved runbook for real with the recorded vars and the approver's inputs (`-e name=value`
        pairs, checked before the approval is decided); (status, run dir)."""
        pending = self.approvals.get(approval_id)
        runbook = find(pending["runbook"])
        added = approver_inputs(runbook, inputs, pending["extra_vars"])
        record = self.approvals.decide(approval_id, APPROVED, by)
        extra_vars = dict(record["extra_vars"], **added)
        if OPERATOR_VAR in runbook.extra_vars:
            extra_vars[OPERATOR_VAR] = by
        status, run_dir = self.run(runner.RunRequest(runbook=runbook, inventory=Path(record["inventory"]),
                                                     limit=alert_policy.run_limit(runbook, record["host"],
                                                                                  inventory_hosts(Path(record["inventory"]))),
                                                     extra_vars=extra_vars, yes=True), progress)
        record = self.approvals.finish(approval_id, run_dir, status, inputs=shown_inputs(runbook, added))
        mark_approval(run_dir, record)
        mark_approval(record["check_run"], record)
        self._ran(record["fingerprint"], run_dir)
        self.ledger.log({"decision": "approved", "approval": approval_id, "by": by, "run_dir": str(run_dir),
                         "status": status, "runbook": record["runbook"], "host": record["host"],
                         "inputs": record["inputs"]})
        return status, run_dir

    def deny(self, approval_id, by):
        record = self.approvals.decide(approval_id, DENIED, by)
        mark_approval(record["check_run"], record)
        self.ledger.log({"decision": "denied", "approval": approval_id, "by": by, "runbook": record["runbook"],
                         "host": record["host"]})
        return record


def without_outer_runner(environ):
    """Drop what the rulebook's ansible-runner set (in place); ANSIBLE_HOST_KEY_CHECKING=False too, which it sets when
    it was not set: `mcpops watch` passes the operator's own value on as MCPOPS_HOST_KEY_CHECKING."""
    for name in OUTER_RUNNER_ENV:
        environ.pop(name, None)
    operator_value = environ.pop("MCPOPS_HOST_KEY_CHECKING", None)
    if operator_value:
        environ["ANSIBLE_HOST_KEY_CHECKING"] = operator_value
    else:
        environ.pop("ANSIBLE_HOST_KEY_CHECKING", None)
    return environ


def main(stdin=None, environ=None):
    """`mcpops alert`: one event on stdin."""
    environ = without_outer_runner(os.environ if environ is None else environ)
    stdin = stdin or sys.stdin
    try:
        event = read_event(stdin.read(MAX_EVENT_BYTES + 1))
    except EventError as exc:
        # logged as every other refusal; nothing of the event itself: it is whatever reached the rulebook
        Ledger(runner.runs_root()).log({"decision": "refused", "reason": str(exc)})
        print("mcpops alert: refused: %s" % exc, file=sys.stderr)
        return EXIT_REFUSED
    inventory = environ.get(INVENTORY_ENV)
    return Dispatcher(runner.runs_root(), Path(inventory).resolve() if inventory else None,
                      environ=environ).handle(event)
