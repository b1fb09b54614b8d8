# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.json -> report.md, rendered from Jinja2 templates a site can override (`mcpops report` re-renders with it).

The Markdown has the run (what, where, when, outcome), the timeline, the evidence the modules
returned, the manual steps the runbook leaves to people and a post-incident review skeleton in the
shape of the runbook's post-mortem template (seed 002), pre-filled from the run. The layout is in
`report_templates/` (one template a section); a site puts a template of the same name in
$MCPOPS_REPORT_TEMPLATE_DIR to replace it (docs/reports.md). The report is masked before it gets here
(secret_mask, in incident_report), so no template can print a secret, whatever it prints.

Controller side: the standard library and Jinja2 (an ansible-core requirement) only, and no other plugin_utils
module, because `mcpops` loads this file by its path.
"""

from __future__ import annotations

import json
import os
import traceback

import jinja2

TEMPLATE_DIR_ENV = "MCPOPS_REPORT_TEMPLATE_DIR"
SHIPPED_TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report_templates")
REPORT_TEMPLATE = "report.md.j2"

_STATUS_MARK = {"ok": "ok", "changed": "changed", "failed": "FAILED", "unreachable": "UNREACHABLE",
                "skipped": "skipped", "interrupted": "interrupted", "running": "running"}


def cell(value):
    """A value as one line of text that cannot end a Markdown table cell or start a new row (the `cell` filter)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text.replace("|", "\\|").replace("\n", " ")


def clock(stamp):
    """HH:MM:SS of an ISO UTC stamp (the `clock` filter)."""
    return stamp[11:19] if stamp and len(stamp) >= 19 else "--:--:--"


def duration(seconds):
    """Seconds in words (the `duration` filter)."""
    if seconds is None:
        return "unknown (the run did not finish)"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "%d hours %d minutes %d seconds" % (hours, minutes, secs) if hours else "%d minutes %d seconds" % (minutes, secs)


def mark(status):
    """The word a status is shown as: failures in capitals (the `mark` filter)."""
    return _STATUS_MARK.get(status, status)


FILTERS = {"cell": cell, "clock": clock, "duration": duration, "mark": mark}


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


def resolution_lines(report):
    """The review's Resolution: the run's summary lines, or else the evidence in one line a step."""
    lines = []
    for item in report.get("summary") or []:
        lines.extend("%s: %s" % (item["host"], line) for line in item["lines"])
    if not lines:
        for item in report.get("evidence") or []:
            facts = ", ".join("%s %s" % (k, cell(v)) for k, v in item["facts"].items() if v not in (None, [], {}))
            lines.append("%s, %s: %s" % (item["host"], item["step"], facts))
    return lines


def template_context(report):
    """Every variable a template is given: the (masked) report and what is derived from it."""
    runbook = report.get("runbook") or {}
    return {"report": report, "runbook": runbook, "incident": runbook.get("incident") or "maintenance",
            "steps": steps_in_order(report.get("timeline") or []), "resolution_lines": resolution_lines(report)}


def environment(search_path):
    """Markdown, not HTML: no autoescape (host values go through `cell` where they sit in a table); an undefined
    name is an error, never a silent blank."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(search_path), autoescape=False, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters.update(FILTERS)
    return env


def render_template(name, report, search_path=(SHIPPED_TEMPLATES,)):
    return environment(list(search_path)).get_template(name).render(template_context(report))


def identity_rows(report):
    """The report.md run-table rows naming who acted (the shipped identity_rows.md.j2), one string a row."""
    return render_template("identity_rows.md.j2", report).splitlines()


def _where(exc):
    """`<template>, line <n>: ` of the innermost template frame of an error, when there is one."""
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.lineno:
        return "%s, line %d: " % (exc.name or exc.filename or "?", exc.lineno)
    if isinstance(exc, jinja2.TemplateNotFound):
        return ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
    return "%s, line %d: " % (os.path.basename(frames[-1].filename), frames[-1].lineno) if frames else ""


def _site_problem(site_dir, report):
    """(markdown, None) from the site's templates over the shipped ones, or (None, why they could not be used)."""
    if not os.path.isdir(site_dir):
        return None, "%s=%s is not a directory" % (TEMPLATE_DIR_ENV, site_dir)
    try:
        return render_template(REPORT_TEMPLATE, report, (site_dir, SHIPPED_TEMPLATES)), None
    except jinja2.TemplateNotFound as exc:
        return None, "template not found: %s" % exc.name
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # A site template is the site's code: whatever it raises, the report still lands (the shipped layout).
        return None, "%s%s: %s" % (_where(exc), type(exc).__name__, exc)


def render(report, template_dir=None, warn=None):
    """report.md's text. The site's templates ($MCPOPS_REPORT_TEMPLATE_DIR, or template_dir) come before the shipped
    ones; when they fail, the shipped layout is used, a warning line opens the report and warn(message) is called."""
    site_dir = template_dir if template_dir is not None else os.environ.get(TEMPLATE_DIR_ENV)
    if not site_dir:
        return render_template(REPORT_TEMPLATE, report)
    markdown, problem = _site_problem(site_dir, report)
    if markdown is not None:
        return markdown
    message = "the site's report templates (%s) were not used: %s; this report has the shipped layout" % (
        site_dir, problem)
    if warn is not None:
        warn(message)
    return "> **Warning**: %s\n\n%s" % (cell(message), render_template(REPORT_TEMPLATE, report))
