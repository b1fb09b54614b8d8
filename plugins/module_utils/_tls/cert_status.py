# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A row's status from its facts, the summary by status, and whether the run fails (fail_on).

Statuses, worst first: error (unreachable, or a certificate a client refuses: untrusted, wrong host,
incomplete chain, self-signed), expired, critical (days_left < critical_days), warn (< warn_days), ok.
"""

from __future__ import annotations

STATUSES = ("ok", "warn", "critical", "expired", "error")
FAIL_ON = {"warn": ("warn", "critical", "expired", "error"), "critical": ("critical", "expired", "error"), "never": ()}

# reason slugs (the row's `reason`); `message` says the rest in words
REFUSED = "refused"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
HANDSHAKE = "handshake failure"
UNTRUSTED = "untrusted"
WRONG_HOST = "wrong host"
INCOMPLETE_CHAIN = "incomplete chain"
SELF_SIGNED = "self-signed"
NOT_YET_VALID = "not yet valid"
EXPIRED = "expired"
UNREADABLE = "unreadable"


FIELDS = ("status", "reason", "message", "subject", "issuer", "sans", "serial", "not_before", "not_after",
          "days_left", "expired", "self_signed", "hostname_match", "chain_verified", "chain_error", "chain_length",
          "key_type", "key_size", "signature_algorithm", "tls_version")


def new_row(**identity):
    """A row with every field present (null until known), so that every row has the same keys."""
    row = dict((name, None) for name in FIELDS)
    row.update(identity)
    return row


def check_thresholds(warn_days, critical_days):
    if critical_days < 0 or warn_days < 0:
        raise ValueError("warn_days and critical_days must be >= 0 (got %d and %d)" % (warn_days, critical_days))
    if critical_days > warn_days:
        raise ValueError("critical_days (%d) must not be larger than warn_days (%d)" % (critical_days, warn_days))


def classify(row, warn_days, critical_days):
    """Set row['status'] (and reason for expiry); a row that already has a reason is an error unless expired."""
    reason = row.get("reason")
    if row.get("not_after") is None:
        row["status"] = "error"
    elif row.get("expired"):
        row["status"], row["reason"] = "expired", EXPIRED
    elif reason:
        row["status"] = "error"
    elif row["days_left"] < critical_days:
        row["status"] = "critical"
    elif row["days_left"] < warn_days:
        row["status"] = "warn"
    else:
        row["status"] = "ok"
    return row


def summarize(rows):
    summary = dict((s, 0) for s in STATUSES)
    for row in rows:
        summary[row["status"]] += 1
    summary["total"] = len(rows)
    return summary


def failing_rows(rows, fail_on):
    bad = FAIL_ON[fail_on]
    return [r for r in rows if r["status"] in bad]


def describe(row):
    """One line for a failure message: what was checked, its status and why."""
    what = row.get("target") or row.get("path")
    text = "%s: %s" % (what, row["status"])
    if row.get("reason") and row["reason"] != row["status"]:
        text += " (%s)" % row["reason"]
    if row.get("days_left") is not None:
        text += ", %d days left" % row["days_left"]
    if row.get("message"):
        text += ": %s" % row["message"]
    return text
