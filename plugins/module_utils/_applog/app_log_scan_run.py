# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""app_log_scan's entry point run(): check the options, open every log first, scan them in one pass each (a large
one over every CPU, in byte ranges: log_ranges), and say what was found in human lines (problems), every text
scrubbed of the given secrets.

No Ansible here: unit tests call run() directly. What only a scan uses (the findings, the reads, the ranges, the
window) is imported by run(): the module's start compiles none of it (bench/module_imports.py).
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_checks import CHECKS, MAX_KEYS
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_fields import FieldsError, check_fields
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_messages import MAX_TEXT, MAX_TEXTS
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

FORMATS = ("json", "text")
DEFAULT_ERROR_LEVELS = ("error", "critical", "fatal")
DEFAULT_AUTH_EVENTS = ("auth_failure", "invalid_token", "unauthorized", "SECURITY")
DEFAULT_RATE_LIMIT_EVENTS = ("rate_limit_exceeded", "RATE_LIMIT_EXCEEDED")
MIN_LINE, MAX_LINE = 64, 64 * 1024 * 1024
MAX_TOP, MAX_SAMPLES = 1000, 50
SHOWN_IN_PROBLEMS = 3


def _option(params, name, default):
    value = params.get(name)
    return default if value is None else value


def _int_option(params, name, default, low, high=None):
    value = _option(params, name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low or (high is not None and value > high):
        span = "from %s to %s" % (low, high) if high is not None else "%s or more" % low
        raise TaskError("%s must be a number %s, got %r" % (name, span, value))
    return value


def _statuses(params, name):
    out = []
    for value in _option(params, name, []):
        try:
            status = int(value)
        except (TypeError, ValueError):
            status = 0
        if not 100 <= status <= 599:
            raise TaskError("%s: %r is not an HTTP status (100 to 599)" % (name, value))
        out.append(status)
    return out


def check_params(params):
    """The options, checked and with their defaults: a dict for AppLogFindings and the scan. Raises TaskError."""
    paths = params.get("paths")
    if not paths or not isinstance(paths, list) or not all(isinstance(p, str) and p.strip() for p in paths):
        raise TaskError("paths must list one or more log files (the profile's logs.path and logs.security_path)")
    fmt = _option(params, "format", "json")
    if fmt == "text":
        raise TaskError("format text is not supported yet: app_log_scan reads JSON-lines logs only (issue 16 asks for "
                        "JSON-lines application logs); for a text log use grep, or point paths at the JSON log")
    if fmt not in FORMATS:
        raise TaskError("format must be json, got %r" % (fmt,))
    checks = _option(params, "checks", list(CHECKS)) or list(CHECKS)
    unknown = [name for name in checks if name not in CHECKS]
    if unknown:
        raise TaskError("checks: unknown %s; choose from %s" % (", ".join(map(str, unknown)), ", ".join(CHECKS)))
    try:
        fields = check_fields(params.get("fields"))
    except FieldsError as exc:
        raise TaskError(exc.msg)
    error_levels = _option(params, "error_levels", list(DEFAULT_ERROR_LEVELS))
    if not error_levels and "errors" in checks:
        raise TaskError("error_levels is empty: name the levels that count as errors (error, critical, fatal, 50, ...)")
    messages = _option(params, "message_contains", [])
    if not isinstance(messages, list) or len(messages) > MAX_TEXTS or not all(
            isinstance(text, str) and text and len(text) <= MAX_TEXT for text in messages):
        raise TaskError("message_contains must list at most %d texts of 1 to %d characters each (what the runbook "
                        "greps for: MCP, memory, ...)" % (MAX_TEXTS, MAX_TEXT))
    return {
        "paths": list(paths),
        "message_contains": list(dict.fromkeys(messages)),
        "message_ignore_case": bool(params.get("message_ignore_case")),
        "parse_every_line": bool(params.get("parse_every_line")),
        "missing_ok": bool(params.get("missing_ok")),
        "checks": checks,
        "fields": fields,
        "last": params.get("last"),
        "include_undated": bool(params.get("include_undated")),
        "slow_ms": _int_option(params, "slow_ms", 1000, 0),
        "error_levels": error_levels,
        "auth_events": _option(params, "auth_events", list(DEFAULT_AUTH_EVENTS)),
        "rate_limit_events": _option(params, "rate_limit_events", list(DEFAULT_RATE_LIMIT_EVENTS)),
        "auth_statuses": _statuses(params, "auth_statuses"),
        "rate_limit_statuses": _statuses(params, "rate_limit_statuses"),
        "top": _int_option(params, "top", 5, 1, MAX_TOP),
        "samples": _int_option(params, "samples", 3, 0, MAX_SAMPLES),
        "max_line_bytes": _int_option(params, "max_line_bytes", 1024 * 1024, MIN_LINE, MAX_LINE),
        "secrets": [s for s in _option(params, "secrets", []) if isinstance(s, str) and s],
    }


def _ranked_text(items):
    return ", ".join("%s %d" % (item["key"] if item["key"] is not None else "(none)", item["count"])
                     for item in items[:SHOWN_IN_PROBLEMS])


def _plural(count, one, many=None):
    return "%d %s" % (count, one if count == 1 else (many or one + "s"))


def problems(result, opts):
    """Human lines for what was found: one a finding kind with a count, and one a file that had lines skipped."""
    span = "in the last %s" % str(opts["last"]).strip() if opts["last"] else "in the whole log"
    lines = []
    errors = result["errors"]
    if errors and errors["total"]:
        lines.append("%s %s (%s)" % (_plural(errors["total"], "error"), span, _ranked_text(errors["by_type"])))
    slow = result["slow"]
    if slow and slow["total"]:
        where = slow["by_path"] if any(item["key"] is not None for item in slow["by_path"]) else slow["by_message"]
        lines.append("%s of %g ms or more %s, slowest %g ms (%s)" % (
            _plural(slow["total"], "slow request"), slow["threshold_ms"], span, slow["slowest_ms"], _ranked_text(where)))
    for name, what in (("auth_failures", "auth failure"), ("rate_limited", "rate-limited request")):
        found = result[name]
        if found and found["total"]:
            lines.append("%s %s (by client ip: %s)" % (
                _plural(found["total"], what), span, _ranked_text(found["by_client_ip"])))
    for entry in result["files"]:
        if entry.get("missing"):
            lines.append("%s: not there (missing_ok), not scanned" % entry["path"])
            continue
        if entry["skipped_bad_json"]:
            lines.append("%s: %s skipped (not a JSON object)" % (entry["path"], _plural(entry["skipped_bad_json"], "line")))
        if entry["skipped_too_long"]:
            lines.append("%s: %s over %d bytes skipped" % (entry["path"], _plural(entry["skipped_too_long"], "line"),
                                                           opts["max_line_bytes"]))
        if entry["undated"] and opts["last"] and not opts["include_undated"]:
            lines.append("%s: %s without a time that can be read not counted (set fields.time, or include_undated)"
                         % (entry["path"], _plural(entry["undated"], "line")))
    for entry in result.get("messages") or ():
        if entry["count"]:
            lines.append("%s whose message holds %r %s" % (_plural(entry["count"], "line"), entry["text"], span))
    if result["truncated"]:
        lines.append("more than %d distinct keys in a counter: the rest are counted under (other)" % MAX_KEYS)
    return lines


def run(params, check_mode=False, *, warn=None, now=None):
    """app_log_scan's whole run for params (the module's options); read-only, the same in check mode. now: the time
    the window counts back from (tests pin it). Raises TaskError."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._applog import log_file, log_ranges
    from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_file import LogFileError
    from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_findings import AppLogFindings
    from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_samples import Scrubber
    from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_time import last_window
    from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.window import AuditWindowError
    from ansible_collections.mcpops.runbooks.plugins.module_utils._common.secret_redaction import redact

    warn = warn or (lambda message: None)
    opts = check_params(params)
    scrubber = Scrubber(opts["secrets"])
    try:
        window = last_window(opts["last"], now=now)
    except AuditWindowError as exc:
        raise TaskError(exc.msg)
    missing = set()
    for path in opts["paths"]:
        try:
            log_file.check_log(path)
        except LogFileError as exc:
            if exc.missing and opts["missing_ok"]:
                missing.add(path)
                continue
            hint = "; check paths (the profile's logs.path / logs.security_path) or set missing_ok" if exc.missing else ""
            raise TaskError(scrubber.values(exc.msg + hint))
    findings = AppLogFindings(
        opts["fields"], window, opts["checks"], opts["slow_ms"], opts["error_levels"], opts["auth_events"],
        opts["rate_limit_events"], opts["auth_statuses"], opts["rate_limit_statuses"], opts["samples"],
        opts["include_undated"], opts["max_line_bytes"], scrubber=scrubber, messages=opts["message_contains"],
        message_ignore_case=opts["message_ignore_case"])
    for path in opts["paths"]:
        if path in missing:
            findings.missing(path)
            continue
        try:
            if opts["parse_every_line"]:
                findings.feed(path, log_file.line_batches(path, opts["max_line_bytes"]))
            elif not log_ranges.scan_in_ranges(findings, path, opts["max_line_bytes"]):
                findings.feed_blocks(path, log_file.line_blocks(path, opts["max_line_bytes"]))
        except LogFileError as exc:
            raise TaskError(scrubber.values(exc.msg))
        except OSError as exc:
            raise TaskError(scrubber.values("reading log file %s failed: %s" % (path, exc.strerror or exc)))
    result = findings.result(opts["top"])
    result["window"] = window.as_dict()
    result["problems"] = problems(result, opts)
    result["changed"] = False
    for path in sorted(missing):
        warn("log file %s does not exist; skipped (missing_ok)" % scrubber.values(path))
    if opts["last"] and any(entry["lines"] and entry["undated"] == entry["lines"] for entry in result["files"]):
        warn("no line of %s has a time that can be read; set fields.time to the key that holds it" % ", ".join(
            scrubber.values(e["path"]) for e in result["files"] if e["lines"] and e["undated"] == e["lines"]))
    return redact(result, scrubber.secrets)
