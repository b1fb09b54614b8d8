# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""audit_scan's entry point run(): check the options, resolve the window, scan audit.jsonl (and usage.jsonl), export.

No Ansible here: unit tests call run() directly.
"""

from __future__ import annotations

import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.export import ExportError, ExportWriter
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.findings import CHECKS, AuditFindings, usage_summary
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.redaction import Redactor
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.window import AuditWindowError, resolve_window
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError


def run(params, check_mode=False, *, warn=None, now=None):
    """audit_scan's whole run for params (the module's options). now: the time a window counts back from
    (tests pin it). Raises TaskError."""
    warn = warn or (lambda message: None)
    checks = params.get("checks") or list(CHECKS)
    unknown = [name for name in checks if name not in CHECKS]
    if unknown:
        raise TaskError("checks: unknown %s; choose from %s" % (", ".join(unknown), ", ".join(CHECKS)))
    top = params.get("top", 10)
    if top is None or top < 1:
        raise TaskError("top must be 1 or more, got %r" % (top,))
    if params.get("exfil_factor", 10.0) <= 0:
        raise TaskError("exfil_factor must be above 0")
    try:
        window = resolve_window(params.get("since"), params.get("until"), params.get("last"),
                                params.get("baseline", "7d"), now=now)
    except AuditWindowError as exc:
        raise TaskError(exc.msg)
    data_dir = params.get("data_dir") or "/var/lib/onec-mcp-gateway"
    audit_path = params.get("audit_path") or os.path.join(data_dir, "audit.jsonl")
    usage_path = params.get("usage_path") or os.path.join(data_dir, "usage.jsonl")
    if not os.path.isfile(audit_path):
        raise TaskError(
            "audit file %s does not exist; set data_dir to the gateway's ONEC_MCP_DATA_DIR or audit_path to the file"
            % audit_path
        )
    if "exfiltration" in checks and window.since is None:
        warn("no since or last: the window has no start, so the high_volume and new_ip indicators "
             "(which compare with the baseline period before the window) were not checked")
    export = None
    if params.get("export_path"):
        salt = None
        if params.get("hash_ips"):
            salt = params.get("ip_salt") or os.urandom(32).hex()
        try:
            export = ExportWriter(params["export_path"], Redactor(salt).redact, check_mode=check_mode)
        except ExportError as exc:
            raise TaskError(exc.msg)
    findings = AuditFindings(window, checks, params.get("exfil_factor", 10.0), params.get("exfil_min_rows", 1000),
                             params.get("exfil_min_calls", 100), export)
    try:
        findings.feed_file(audit_path)
    except (IOError, OSError) as exc:
        if export is not None:
            export.abort()
        raise TaskError("reading %s failed: %s" % (audit_path, exc))
    result = findings.result(top)
    result["audit_path"] = audit_path
    result["changed"] = False
    result["export"] = None
    if export is not None:
        try:
            done = export.finish()
        except ExportError as exc:
            raise TaskError(exc.msg)
        result["export"] = done
        result["changed"] = done["changed"]
    result["usage"] = None
    if "usage" in checks:
        if os.path.isfile(usage_path):
            try:
                result["usage"] = usage_summary(usage_path, window, top)
            except (IOError, OSError) as exc:
                raise TaskError("reading %s failed: %s" % (usage_path, exc))
        elif params.get("usage_path"):
            raise TaskError("usage file %s does not exist" % usage_path)
    if result["malformed"]["count"]:
        warn("%d malformed line(s) in %s skipped, first at line(s) %s" % (
            result["malformed"]["count"], audit_path, ", ".join(str(n) for n in result["malformed"]["first_lines"])))
    return result
