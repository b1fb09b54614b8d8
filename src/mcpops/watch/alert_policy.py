"""What a firing alert may start, decided by us: the runbook its `runbook` label names, looked up in the collection's
runbook list (each playbook's `mcpops_runbook` metadata), on the inventory host its `instance` names; read-only
runbooks at once, changing ones in check mode first and then after approval, unless the alert asks for
auto-remediation and the runbook's metadata allows it. A label's text never names a playbook or a command."""

import hashlib
import json
import re
from dataclasses import dataclass

RUNBOOK_LABEL = "runbook"
AUTO_LABEL = "auto_remediate"

READ_ONLY = "read-only"          # starts at once
APPROVAL = "check, then approval"  # a check-mode run, then a pending approval
AUTO = "auto-remediate"          # a real run at once: label auto_remediate="true" and metadata auto_remediate: allowed

# Alertmanager's fingerprint is 16 hex digits; anything plain and short is kept, it names a file.
FINGERPRINT = re.compile(r"[A-Za-z0-9]{1,64}")
# `hosts: "{{ inc001_hosts | default('gateways') }}"`: the extra var a runbook takes its hosts from.
HOSTS_VAR = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\|")
# A play on the controller (CCTelegram P1's summary of every instance and its containment at nginx, a check of the
# extra vars before anything): the run's --limit names it beside the alert's host, which alone would skip that play.
CONTROLLER = ("localhost", "127.0.0.1")
SHOWN = 80  # how much of a label's text a refusal quotes


class Refused(Exception):
    """The alert starts nothing; the message is one line the operator reads in the decisions log."""


@dataclass(frozen=True)
class Plan:
    path: str         # READ_ONLY, APPROVAL or AUTO
    runbook: object   # mcpops.run.runbooks.Runbook
    host: str
    fingerprint: str
    extra_vars: dict  # the runbook's hosts var (when it has one) and mcpops_alert
    note: str = ""    # why a path was not the one the alert asked for
    limit: str = ""   # the run's --limit (run_limit): the host, and the controller where a play runs there


def shown(value):
    """A label's value as a refusal quotes it: repr (control characters escaped), cut short."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN - 1] + "…"


def fingerprint_of(alert):
    """The alert's fingerprint when it is plain, else one made from its labels (as Alertmanager makes its own)."""
    given = alert.get("fingerprint") if isinstance(alert, dict) else None
    if isinstance(given, str) and FINGERPRINT.fullmatch(given):
        return given
    labels = alert.get("labels") if isinstance(alert, dict) else None
    return hashlib.sha256(json.dumps(labels, sort_keys=True, default=str).encode()).hexdigest()[:16]


def hosts_var(runbook):
    """The extra var the runbook's first play takes its hosts from, when it declares one; else None."""
    match = HOSTS_VAR.match(runbook.hosts.strip())
    return match.group(1) if match and match.group(1) in runbook.extra_vars else None


def run_limit(runbook, host, inventory_hosts=()):
    """The --limit of a run an alert starts: its host, and `localhost` where a play of the runbook runs on the
    controller (implicit localhost is in no inventory group: a play of the inventory's hosts stays on host). An
    inventory that lists localhost itself may have it in a group, where it would widen the run past the alert's
    host: there the host alone (the controller's plays are skipped, as before)."""
    plays = getattr(runbook, "play_hosts", ()) or (runbook.hosts,)
    if "localhost" in inventory_hosts or not any(p.strip() in CONTROLLER for p in plays):
        return host
    return "%s,localhost" % host


def plan(alert, host, runbooks, inventory_hosts):
    """The Plan of a firing alert. runbooks: {id: Runbook}; inventory_hosts: the inventory's host names; host: the
    event's host (the source sets it only for a plain host name), or None. Raises Refused."""
    if not isinstance(alert, dict) or alert.get("status") != "firing" or not isinstance(alert.get("labels"), dict):
        raise Refused("not a firing Alertmanager alert with labels")
    labels = alert["labels"]
    if RUNBOOK_LABEL not in labels:
        raise Refused("the alert has no runbook label: nothing to run")
    runbook = runbooks.get(labels[RUNBOOK_LABEL]) if isinstance(labels[RUNBOOK_LABEL], str) else None
    if runbook is None:
        raise Refused("runbook=%s is not one of the collection's runbooks (mcpops list)" % shown(labels[RUNBOOK_LABEL]))
    auto = labels.get(AUTO_LABEL, "false")
    if auto not in ("true", "false"):
        raise Refused("auto_remediate=%s: the label is \"true\" or \"false\"" % shown(auto))
    if not host:
        raise Refused("instance=%s names no inventory host (a plain name, with or without :port)"
                      % shown(labels.get("instance")))
    if host not in inventory_hosts:
        raise Refused("host %s is not in the inventory" % shown(host))
    note = ""
    if not runbook.changes:
        path = READ_ONLY
    elif auto == "true" and runbook.auto_remediate:
        path = AUTO
    else:
        path = APPROVAL
        if auto == "true":
            note = "auto_remediate asked, but %s's metadata does not allow it: approval needed" % runbook.id
    extra_vars = {"mcpops_alert": alert}
    name = hosts_var(runbook)
    if name:
        extra_vars[name] = host
    return Plan(path, runbook, host, fingerprint_of(alert), extra_vars, note, run_limit(runbook, host, inventory_hosts))
