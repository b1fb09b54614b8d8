# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alert that started a run, for report.json's `alert` (standard library only).

The EDA rulebook (extensions/eda/rulebooks/alert_to_runbook.yml) passes the whole Alertmanager alert as the extra var
`mcpops_alert`. Whoever can POST to the event source writes it, so it is data: only the fields a ticket needs, each
a short single-line string, never a value that reaches a command. report_markdown renders it at the top of report.md.
"""

from __future__ import annotations

ALERT_VAR = "mcpops_alert"
MAX_FIELD = 200


def _text(value):
    if value is None or isinstance(value, (dict, list)):
        return None
    text = " ".join(str(value).split())
    return text[:MAX_FIELD - 1] + "…" if len(text) > MAX_FIELD else text


def alert_entry(alert):
    """The ticket's view of an Alertmanager alert (its webhook's `alerts[]` item), or None when it is not one."""
    if not isinstance(alert, dict) or not isinstance(alert.get("labels"), dict):
        return None
    labels = alert["labels"]
    annotations = alert.get("annotations") if isinstance(alert.get("annotations"), dict) else {}
    return {
        "name": _text(labels.get("alertname")),
        "status": _text(alert.get("status")),
        "instance": _text(labels.get("instance")),
        "severity": _text(labels.get("severity")),
        "runbook": _text(labels.get("runbook")),
        "summary": _text(annotations.get("summary") or annotations.get("description")),
        "starts_at": _text(alert.get("startsAt")),
        "fingerprint": _text(alert.get("fingerprint")),
        "labels": {_text(k): _text(v) for k, v in sorted(labels.items()) if _text(k)},
    }
