"""Pending approvals: a changing runbook an alert asked for, checked (its check-mode run) and waiting for an operator.

    <runs>/approvals/<id>.json   {id, status, runbook, host, inventory, extra_vars, fingerprint, check_run,
                                  check_status, created_at, expires_at, decided_by, decided_at, run, run_status,
                                  inputs: what the approver added, `mcpops approve -e`}

status: pending, then approved (by `mcpops approve`, which runs the runbook for real with the recorded vars),
denied (`mcpops deny`: nothing changes) or expired (nobody decided before expires_at: what the check run saw is
stale by then, so an expired approval is never run; the alert, when it still fires, starts a fresh check).
"""

import datetime
import os
import re
import secrets

from mcpops.watch.state_files import locked, now_utc, parse_stamp, private_dir, read_json, stamp, write_json

DEFAULT_TTL_SECONDS = 3600  # as the AWX workflow's approval node (docs/awx.md): the check run goes stale
TTL_ENV = "MCPOPS_APPROVAL_TTL_SECONDS"
APPROVAL_ID = re.compile(r"[0-9a-f]{8}")
PENDING, APPROVED, DENIED, EXPIRED = "pending", "approved", "denied", "expired"


class ApprovalError(Exception):
    """No such approval, or not one that can be decided now; the message is one line."""


def ttl_seconds(environ=None):
    environ = os.environ if environ is None else environ
    text = environ.get(TTL_ENV, "")
    return int(text) if text.isdigit() and int(text) > 0 else DEFAULT_TTL_SECONDS


class Approvals:
    def __init__(self, runs_root):
        self.dir = private_dir(os.path.join(runs_root, "approvals"))

    def _path(self, approval_id):
        if not isinstance(approval_id, str) or not APPROVAL_ID.fullmatch(approval_id):
            raise ApprovalError("%r is not an approval id (8 hex digits: mcpops approvals)" % (approval_id,))
        return self.dir / ("%s.json" % approval_id)

    def create(self, ttl, now=None, **fields):
        """A new pending approval; returns its record."""
        now = now or now_utc()
        with locked(self.dir):
            while True:
                approval_id = secrets.token_hex(4)
                if not self._path(approval_id).exists():
                    break
            record = dict(fields, id=approval_id, status=PENDING, created_at=stamp(now),
                          expires_at=stamp(now + datetime.timedelta(seconds=ttl)), decided_by=None, decided_at=None,
                          run=None, run_status=None)
            write_json(self._path(approval_id), record)
        return record

    def get(self, approval_id):
        record = read_json(self._path(approval_id))
        if record is None:
            raise ApprovalError("no approval %s in %s" % (approval_id, self.dir))
        return record

    def _expire(self, record, now):
        if record["status"] == PENDING and parse_stamp(record["expires_at"]) <= now:
            record.update(status=EXPIRED, decided_at=stamp(now))
            write_json(self._path(record["id"]), record)
            return True
        return False

    def sweep(self, now=None):
        """Every approval, newest first, the pending ones past their time marked expired; returns (all, expired now)."""
        now = now or now_utc()
        found, expired = [], []
        with locked(self.dir):
            for path in self.dir.glob("*.json"):
                record = read_json(path)
                if record is None or not APPROVAL_ID.fullmatch(str(record.get("id"))):
                    continue
                if self._expire(record, now):
                    expired.append(record)
                found.append(record)
        found.sort(key=lambda r: r["created_at"], reverse=True)
        return found, expired

    def decide(self, approval_id, status, by, now=None):
        """pending -> approved or denied, once: a second decision, or one after expires_at, raises ApprovalError."""
        now = now or now_utc()
        with locked(self.dir):
            record = self.get(approval_id)
            if self._expire(record, now):
                raise ApprovalError("approval %s expired at %s: nothing was run (the alert, if it still fires, "
                                    "starts a new check)" % (approval_id, record["expires_at"]))
            if record["status"] != PENDING:
                raise ApprovalError("approval %s is already %s (by %s at %s)"
                                    % (approval_id, record["status"], record["decided_by"], record["decided_at"]))
            record.update(status=status, decided_by=by, decided_at=stamp(now))
            write_json(self._path(approval_id), record)
        return record

    def finish(self, approval_id, run_dir, run_status, inputs=None):
        """The real run an approval started, and the approver's inputs to it (secrets masked), recorded in it."""
        with locked(self.dir):
            record = self.get(approval_id)
            record.update(run=str(run_dir), run_status=run_status, inputs=dict(inputs or {}))
            write_json(self._path(approval_id), record)
        return record
