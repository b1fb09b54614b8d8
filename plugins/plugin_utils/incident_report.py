# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident report of one run, built from what the callback sees (standard library only).

`IncidentReport` takes plain values (host names, task names, module names, result dicts, times) so
that it is tested without Ansible; the `incident_report` callback feeds it. `as_dict()` is
`report.json`, every string in it passed through the SecretMasker.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.mcpops.runbooks.plugins.plugin_utils.report_alert import ALERT_VAR, alert_entry
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.report_identity import RunIdentity

REPORT_VERSION = 1

# What each module's result says that belongs in a report; other results of this collection's
# modules keep their scalar keys (EVIDENCE_DEFAULT).
EVIDENCE_KEYS = {
    "gateway_backup": ("backup_id", "safety_backup_id", "schema_version", "transport", "files_changed",
                       "removed", "recovered"),
    "gateway_backup_info": ("latest_valid", "transport", "interrupted_restore"),
    "gateway_health": ("healthy", "problems", "attempts"),
    "token_revoke": ("revoked", "already_revoked", "not_found", "failed_tokens"),
    "mcp_token": ("prefix", "secret_dest"),
    "audit_scan": ("window", "scanned_lines", "export", "truncated"),
    "cert_check": ("summary", "failed_checks", "checked_at"),
    "pg_connections": ("total", "max_connections", "available", "percent_used", "by_state", "count", "survived",
                       "gone"),
    "pg_connections_info": ("total", "max_connections", "available", "percent_used", "by_state"),
    "textfile_metrics": ("path", "metrics"),
}
_INTERNAL_KEYS = {"changed", "failed", "invocation", "diff", "warnings", "deprecations", "msg", "skipped",
                  "skip_reason", "false_condition", "censored", "exception", "module_stdout", "module_stderr"}
_COLLECTION = "mcpops.runbooks."
SUMMARY_WORD = "summary"
SUMMARY_ACTIONS = ("debug", "runbook_summary")  # a summary step prints its lines with one of these
MAX_TEXT = 2000


# A play's `hosts: "{{ inc003_hosts | default('gateways') }}"` names the variable an operator (or a survey) gives.
_HOSTS_VAR = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*_hosts)\b")


def blank_host_vars(extra_vars, hosts_patterns):
    """The `*_hosts` extra vars given blank (null, "" or spaces) that a play's hosts pattern uses, sorted.

    A blank answer must not fall back to the default group (`default()` keeps a given null or ""), and
    Ansible refuses the play; these names say why in the report."""
    used = set()
    for pattern in hosts_patterns:
        used.update(_HOSTS_VAR.findall(str(pattern or "")))
    return sorted(name for name in used if name in extra_vars
                  and (extra_vars[name] is None or (isinstance(extra_vars[name], str) and not extra_vars[name].strip())))


def blank_hosts_reason(names):
    """One line for the report: which variable was blank, that nothing ran, and what to do."""
    given = ", ".join(names)
    return ("Nothing ran: %s was given blank (an empty survey answer or null), and a blank host pattern is refused "
            "rather than replaced by the default group. Give an inventory group or host pattern, or leave %s out "
            "to use the runbook's default." % (given, "it" if len(names) == 1 else "them"))


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _short_module(action):
    return (action or "").rsplit(".", 1)[-1]


def _is_collection_module(action):
    return (action or "").startswith(_COLLECTION) or _short_module(action) in EVIDENCE_KEYS


def _trim(value, depth=0):
    """Keep evidence readable: long lists cut to 20 items, long strings to MAX_TEXT characters."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "..."
    if isinstance(value, list):
        head = [_trim(v, depth + 1) for v in value[:20]]
        return head + (["... %d more" % (len(value) - 20)] if len(value) > 20 else [])
    if isinstance(value, dict):
        return {k: _trim(v, depth + 1) for k, v in value.items()}
    return value


def _connection_line(view):
    """check_connection_health of one profile in a few words: healthy (HTTP 200, 12 ms) / unhealthy: <error>."""
    view = view if isinstance(view, dict) else {}
    if view.get("healthy"):
        details = ", ".join(part for part in (
            "HTTP %s" % view["status"] if view.get("status") is not None else "",
            "%s ms" % view["latency_ms"] if view.get("latency_ms") is not None else "") if part)
        return "healthy" + (" (%s)" % details if details else "")
    return "unhealthy: %s" % (view.get("error") or "no reason given")


def mcp_facts(mcp):
    """The facts of gateway_health's MCP validation (its `mcp` result) that belong in the incident ticket."""
    facts = {
        "mcp_write_tools_listed": mcp.get("write_tools_listed", []),
        "mcp_profiles_healthy": {name: bool((h or {}).get("healthy")) for name, h in (mcp.get("profile_health") or {}).items()},
    }
    if mcp.get("validation"):
        facts["mcp_validation"] = mcp["validation"]
    if mcp.get("write_tools"):
        facts["mcp_write_tools"] = ["%s: %s" % (t.get("name"), t.get("reason")) for t in mcp["write_tools"] if isinstance(t, dict)]
    if mcp.get("judged_by_name"):
        facts["mcp_tools_judged_by_name"] = mcp["judged_by_name"]
    if isinstance(mcp.get("active_profile"), dict):
        active = mcp["active_profile"]
        facts["mcp_active_profile"] = "%s (%s)" % (active.get("name"), active.get("environment") or "environment unknown")
    elif mcp.get("validation") == "post_incident":
        facts["mcp_active_profile"] = None
    if mcp.get("connection_health"):
        facts["mcp_connection_health"] = {name: _connection_line(view) for name, view in mcp["connection_health"].items()}
    return facts


def validation_entry(host, step, result):
    """One host's post-incident validation (gateway_health with validation post_incident) for report.json's
    `validation`: what the ticket needs to say, whether it passed."""
    mcp = result.get("mcp") if isinstance(result.get("mcp"), dict) else {}
    facts = mcp_facts(mcp)
    return _trim({
        "host": host,
        "step": step,
        "passed": bool(result.get("healthy")),
        "active_profile": facts.get("mcp_active_profile"),
        "write_tools_on_production": facts.get("mcp_write_tools") or [],
        "tools_judged_by_name": facts.get("mcp_tools_judged_by_name") or [],
        "profile_health": facts.get("mcp_profiles_healthy") or {},
        "connection_health": facts.get("mcp_connection_health") or {},
        "problems": list(result.get("problems") or []),
    })


def evidence_of(action, result):
    """The facts of one module result worth keeping, or None when there are none."""
    module = _short_module(action)
    if module in EVIDENCE_KEYS:
        facts = {k: result[k] for k in EVIDENCE_KEYS[module] if k in result}
    elif _is_collection_module(action):
        facts = {k: v for k, v in result.items()
                 if not k.startswith("_") and k not in _INTERNAL_KEYS and not isinstance(v, (dict, list))}
    else:
        return None
    # A few facts sit deeper in the result than the report needs them.
    if module == "gateway_health":
        meta = result.get("storage_meta") or {}
        if meta:
            facts["schema_version"] = meta.get("schemaVersion")
            facts["stores_ok"] = all((s or {}).get("ok") for s in (meta.get("stores") or {}).values())
        if result.get("mcp"):
            facts.update(mcp_facts(result["mcp"]))
    elif module == "gateway_backup_info":
        facts["backups"] = len(result.get("backups") or [])
    elif module == "mcp_token" and isinstance(result.get("token"), dict):
        token = result["token"]
        facts["token"] = {k: token.get(k) for k in ("id", "prefix", "clientId", "orgId", "scopes") if k in token}
    elif module == "audit_scan":
        for check in ("auth_failed", "rate_limited", "exfiltration"):
            if isinstance(result.get(check), dict):
                facts[check] = {k: v for k, v in result[check].items() if not isinstance(v, (dict, list))}
    elif module == "cert_check":
        # each certificate with its days left, not every field the module reads from it
        facts["certificates"] = [{k: row.get(k) for k in ("target", "path", "status", "days_left", "not_after", "reason")
                                  if k in row} for row in (result.get("targets") or []) + (result.get("files") or [])]
    elif module == "token_revoke":
        facts = {k: [{f: t.get(f) for f in ("id", "prefix", "clientId", "orgId", "status", "message") if f in t}
                     for t in (v or [])] for k, v in facts.items()}
    return _trim(facts) if facts else None


def status_of(result, outcome):
    """ok, changed, failed, skipped, unreachable for one host's result of one task."""
    if outcome in ("failed", "unreachable", "skipped"):
        return outcome
    return "changed" if result.get("changed") else "ok"


class IncidentReport:
    """Collects one run; `as_dict()` is report.json."""

    def __init__(self, masker, runbook=None, playbook=None, check_mode=False, started=None):
        self.masker = masker
        self.runbook = runbook or {}
        self.playbook = playbook
        self.check_mode = bool(check_mode)
        self.started = started or utc_now()
        self.ended = None
        self.extra_vars = {}
        self.timeline = []
        self.evidence = []
        self.identity = RunIdentity()  # who the run's changes were made as (the operator_identity role's statement)
        self.validation = []  # the post-incident validations of the run (seed 000: "Document results in incident ticket")
        self.summary = []
        self.hosts = {}
        self._open = {}  # (host, task uuid) -> timeline entry
        self.current_step = None
        self._plays = []  # {"id", "name", "hosts": every host of the play, "reached": hosts a task started on}
        self.not_reached = []
        self.refused = None  # why nothing ran, when the run was refused before its first task
        self.alert = None  # the alert that started the run (EDA passes it as mcpops_alert), when one did

    # ------------------------------------------------------------------ feeding

    def given_extra_vars(self, values):
        """The extra vars of the run that the runbook declares; secret ones are remembered and masked."""
        declared = self.runbook.get("extra_vars") or {}
        self.alert = alert_entry(values.get(ALERT_VAR))
        for name, value in sorted(values.items()):
            if name not in declared:
                continue
            if declared[name].get("secret"):
                self.masker.add(value)
            self.extra_vars[name] = value

    def refuse(self, reason):
        """The run is refused before its first task (a blank *_hosts answer): the report says why."""
        self.refused = reason
        self.summary.append({"host": "controller", "step": "Before anything: the hosts to run on", "lines": [reason]})

    def playing(self, play_id):
        """Whether play_id is the play under way (a serial play starts again for each batch under the same id)."""
        return bool(self._plays) and self._plays[-1]["id"] == play_id

    def play_started(self, play_id, name, hosts):
        """A play started on `hosts`, all of them (every batch of a serial play); a next batch is the same play."""
        if self.playing(play_id):
            return
        self._plays.append({"id": play_id, "name": name, "hosts": list(hosts), "reached": set()})

    def task_started(self, name, in_role):
        """A task started; tasks outside roles are the runbook's steps, role tasks belong to the last one."""
        if not in_role:
            self.current_step = name

    def host_started(self, host, task_id, task_name, in_role, moment=None):
        entry = {
            "step": self.current_step if in_role and self.current_step else task_name,
            "task": task_name,
            "host": host,
            "start": iso(moment or utc_now()),
            "end": None,
            "status": "running",
        }
        self._open[(host, task_id)] = entry
        self.timeline.append(entry)
        if self._plays:
            self._plays[-1]["reached"].add(host)
        return entry

    def host_result(self, host, task_id, task_name, in_role, action, outcome, result, moment=None):
        """One host's result of one task: closes its timeline entry, keeps its evidence."""
        self.identity.seen(host, result)
        if (host, task_id) not in self._open:  # no start event seen (some strategies skip it)
            self.host_started(host, task_id, task_name, in_role, moment)
        entry = self._open.pop((host, task_id))
        entry["end"] = iso(moment or utc_now())
        entry["status"] = status_of(result, outcome)
        if result.get("_ansible_no_log") or result.get("censored"):
            entry["note"] = "output hidden (no_log)"
        elif outcome in ("failed", "unreachable") and result.get("msg"):
            entry["message"] = str(result["msg"])[:MAX_TEXT]
        if outcome in ("failed", "unreachable", "skipped") or entry.get("note"):
            return
        facts = evidence_of(action, result)
        if facts:
            self.evidence.append({"host": host, "step": entry["step"], "module": action, "facts": facts})
        if _short_module(action) == "gateway_health" and (result.get("mcp") or {}).get("validation") == "post_incident":
            self.validation.append(validation_entry(host, entry["step"], result))
        if _short_module(action) in SUMMARY_ACTIONS and SUMMARY_WORD in task_name.lower() and "msg" in result:
            lines = result["msg"] if isinstance(result["msg"], list) else [result["msg"]]
            self.summary.append({"host": host, "step": task_name, "lines": [str(line) for line in lines]})

    def finished(self, host_stats, moment=None):
        """The run ended; host_stats: {host: {ok, changed, failures, unreachable, skipped, rescued, ignored}}."""
        self.ended = moment or utc_now()
        self.hosts = {host: dict(counts) for host, counts in sorted(host_stats.items())}
        for entry in self._open.values():
            entry["status"] = "interrupted"
        self._open.clear()
        # A play that stopped early (max_fail_percentage, a whole batch failed or unreachable) never started the
        # hosts of its later batches: they were left as they were, and the operator needs their names.
        self.not_reached = [{"play": play["name"], "hosts": missed} for play in self._plays
                            for missed in [[h for h in play["hosts"] if h not in play["reached"]]] if missed]
        if self.refused and not self.timeline:
            self.not_reached = []  # no play was meant to reach anyone: `refused` says why

    # ------------------------------------------------------------------ output

    def status(self):
        if self.refused and not self.timeline:
            return "refused"
        if self.ended is None:
            return "incomplete"
        if any(c.get("unreachable") for c in self.hosts.values()):
            return "unreachable"
        if any(c.get("failures") for c in self.hosts.values()):
            return "failed"
        return "ok"

    def as_dict(self):
        ended = self.ended
        report = {
            "version": REPORT_VERSION,
            "runbook": {k: self.runbook.get(k) for k in ("id", "incident", "title", "purpose", "changes")},
            "playbook": self.playbook,
            "check_mode": self.check_mode,
            "started": iso(self.started),
            "ended": iso(ended),
            "duration_seconds": round((ended - self.started).total_seconds(), 1) if ended else None,
            "status": self.status(),
            "refused": self.refused,
            "alert": self.alert,
            "extra_vars": self.extra_vars,
            "hosts": self.hosts,
            "not_reached": self.not_reached,
            "timeline": self.timeline,
            "evidence": self.evidence,
            "validation": self.validation,
            "operator_identity": self.identity.as_dict(),
            "summary": self.summary,
            "manual_steps": list(self.runbook.get("manual_steps") or []),
        }
        return self.masker.value(report)
