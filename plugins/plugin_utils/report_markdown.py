# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.json -> report.md (standard library only; `mcpops report` re-renders with it).

The Markdown has the run (what, where, when, outcome), the timeline, the evidence the modules
returned, the manual steps the runbook leaves to people and a post-incident review skeleton in the
shape of the runbook's post-mortem template (seed 002), pre-filled from the run.
"""

from __future__ import annotations

import json

_STATUS_MARK = {"ok": "ok", "changed": "changed", "failed": "FAILED", "unreachable": "UNREACHABLE",
                "skipped": "skipped", "interrupted": "interrupted", "running": "running"}


def _cell(value):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text.replace("|", "\\|").replace("\n", " ")


def _clock(stamp):
    """HH:MM:SS of an ISO UTC stamp."""
    return stamp[11:19] if stamp and len(stamp) >= 19 else "--:--:--"


def _duration(seconds):
    if seconds is None:
        return "unknown (the run did not finish)"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "%d hours %d minutes %d seconds" % (hours, minutes, secs) if hours else "%d minutes %d seconds" % (minutes, secs)


def steps_in_order(timeline):
    """The runbook steps as they ran: (step, first start, last end, hosts, worst status)."""
    order = ["unreachable", "failed", "interrupted", "running", "changed", "ok", "skipped"]
    steps = {}
    for entry in timeline:
        step = steps.setdefault(entry["step"], {"step": entry["step"], "start": entry["start"], "end": entry["end"],
                                                "hosts": [], "status": entry["status"]})
        step["end"] = max(filter(None, [step["end"], entry["end"]]), default=None)
        if entry["host"] not in step["hosts"]:
            step["hosts"].append(entry["host"])
        if order.index(entry["status"]) < order.index(step["status"]):
            step["status"] = entry["status"]
    return list(steps.values())


def _resolution_lines(report):
    lines = []
    for item in report.get("summary") or []:
        lines.extend("%s: %s" % (item["host"], line) for line in item["lines"])
    if not lines:
        for item in report.get("evidence") or []:
            facts = ", ".join("%s %s" % (k, _cell(v)) for k, v in item["facts"].items() if v not in (None, [], {}))
            lines.append("%s, %s: %s" % (item["host"], item["step"], facts))
    return lines


def identity_rows(report):
    """The report.md run-table rows naming who acted; a runbook that changes things and never stated it says so."""
    section = report.get("operator_identity") or {}
    identities = section.get("identities") or []
    if not identities:
        if (report.get("runbook") or {}).get("changes"):
            return ["| acted as | not stated: this run did not reach (or does not run) the operator_identity role; "
                    "see the gateway's audit log (actor) for its changes |"]
        return []
    rows = []
    for identity in identities:
        account = identity.get("break_glass_account")
        operator = identity.get("operator")
        text = ("break-glass account `%s`" % _cell(account)) if account else "**no break-glass account** (allowed by mcpops_allow_no_break_glass)"
        text += (", operator `%s` (%s)" % (_cell(operator), _cell(identity.get("operator_source") or "?"))) if operator \
            else ", **no operator name**"
        if len(identities) > 1:
            text += " on %s" % ", ".join(_cell(host) for host in identity.get("hosts") or [])
        rows.append("| acted as | %s |" % text)
    return rows


def render(report):
    runbook = report.get("runbook") or {}
    incident = runbook.get("incident") or "maintenance"
    out = []
    add = out.append
    add("# %s: %s" % (incident, runbook.get("title") or runbook.get("id") or report.get("playbook")))
    add("")
    add("| | |")
    add("| --- | --- |")
    add("| runbook | `%s` (%s) |" % (runbook.get("id"), _cell(runbook.get("purpose") or "")))
    add("| mode | %s |" % ("check (nothing was changed)" if report.get("check_mode") else "real run"))
    out.extend(identity_rows(report))
    add("| outcome | **%s** |" % report.get("status"))
    add("| started | %s |" % report.get("started"))
    add("| ended | %s |" % (report.get("ended") or "did not finish"))
    add("| duration | %s |" % _duration(report.get("duration_seconds")))
    if report.get("extra_vars"):
        add("| extra vars | %s |" % ", ".join("`%s=%s`" % (k, _cell(v)) for k, v in sorted(report["extra_vars"].items())))
    add("")

    add("## Hosts")
    add("")
    add("| host | ok | changed | failed | unreachable | skipped | rescued |")
    add("| --- | --- | --- | --- | --- | --- | --- |")
    for host, c in sorted((report.get("hosts") or {}).items()):
        counts = [c.get(k, 0) for k in ("ok", "changed", "failures", "unreachable", "skipped", "rescued")]
        add("| %s | %s |" % (host, " | ".join(str(n) for n in counts)))
    add("")
    for play in report.get("not_reached") or []:
        add("**Not reached**: %s. The play \"%s\" stopped before any task ran on them; they were left as they were."
            % (", ".join(play["hosts"]), _cell(play["play"])))
        add("")

    add("## Timeline (UTC)")
    add("")
    add("| start | end | host | step | task | result |")
    add("| --- | --- | --- | --- | --- | --- |")
    for e in report.get("timeline") or []:
        # A role's own bookkeeping tasks are in report.json; here only those that changed or failed.
        if e["task"] != e["step"] and e["status"] in ("ok", "skipped"):
            continue
        result = _STATUS_MARK.get(e["status"], e["status"])
        detail = e.get("message") or e.get("note")
        cells = [_clock(e["start"]), _clock(e["end"]), e["host"], _cell(e["step"]),
                 "" if e["task"] == e["step"] else _cell(e["task"]), result + (": " + _cell(detail) if detail else "")]
        add("| %s |" % " | ".join(cells))
    add("")

    add("## Evidence")
    add("")
    if not report.get("evidence"):
        add("No module returned evidence.")
    for item in report.get("evidence") or []:
        add("- **%s** %s (`%s`)" % (item["host"], _cell(item["step"]), item["module"]))
        for key, value in item["facts"].items():
            add("  - %s: `%s`" % (key, _cell(value)))
    add("")

    if report.get("summary"):
        add("## Summary from the run")
        add("")
        for item in report["summary"]:
            for line in item["lines"]:
                add("- %s: %s" % (item["host"], _cell(line)))
        add("")

    add("## Manual steps left to people")
    add("")
    for step in report.get("manual_steps") or ["None listed by the runbook."]:
        add("- [ ] %s" % step)
    add("")

    add(review_skeleton(report))
    return "\n".join(out) + "\n"


def review_skeleton(report):
    """The post-mortem template of the incident runbook (seed 002), pre-filled from the run."""
    runbook = report.get("runbook") or {}
    out = []
    add = out.append
    add("## Post-incident review (draft)")
    add("")
    add("### Incident Post-Mortem: %s" % (runbook.get("incident") or "[INCIDENT_ID]"))
    add("")
    add("#### Summary")
    add("- **Start Time**: [first detection, YYYY-MM-DD HH:MM UTC]; runbook started %s" % report.get("started"))
    add("- **End Time**: runbook ended %s" % (report.get("ended") or "[the run did not finish]"))
    add("- **Duration**: runbook %s" % _duration(report.get("duration_seconds")))
    add("- **Severity**: P0/P1/P2/P3")
    add("- **Impact**: [User impact description]")
    add("")
    add("#### Timeline")
    add("- HH:MM - [First detection]")
    add("- HH:MM - [Alert triggered]")
    for step in steps_in_order(report.get("timeline") or []):
        add("- %s - %s (%s): %s" % (_clock(step["start"])[:5], step["step"], ", ".join(step["hosts"]),
                                    _STATUS_MARK.get(step["status"], step["status"])))
    add("- %s - [Service restored]" % (_clock(report.get("ended"))[:5] if report.get("status") == "ok" else "HH:MM"))
    add("")
    add("#### Root Cause")
    add("[Detailed technical explanation]")
    add("")
    add("#### Contributing Factors")
    add("- Factor 1")
    add("")
    add("#### Resolution")
    add("%s, outcome %s%s:" % (runbook.get("id"), report.get("status"), " (check mode: nothing changed)" if report.get("check_mode") else ""))
    for line in _resolution_lines(report) or ["[What was done to resolve the issue]"]:
        add("- %s" % line)
    add("")
    add("#### Lessons Learned")
    add("##### What Went Well")
    add("- Item 1")
    add("##### What Could Be Improved")
    add("- Item 1")
    add("")
    add("#### Action Items")
    for step in report.get("manual_steps") or []:
        add("- [ ] %s - [Owner] - [Due Date]" % step)
    add("- [ ] [Action] - [Owner] - [Due Date]")
    return "\n".join(out)
