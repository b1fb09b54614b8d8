"""Which runs each alert started, by fingerprint, under <runs>/.alerts/: the throttle (one run per runbook and host
within a window, whatever Alertmanager repeats or a flapping alert re-fires) and where a resolved alert is recorded.

    <runs>/.alerts/<fingerprint>.json   {fingerprint, runbook, host, started_at, runs: [run dirs], resolved_at}
    <runs>/.alerts/decisions.log         one JSON line per alert handled: what was decided and why
"""

import datetime
import json
import os

from mcpops.watch.state_files import locked, now_utc, parse_stamp, private_dir, read_json, stamp, write_json

DEFAULT_WINDOW_SECONDS = 600  # as the rulebook's throttle: once_within 10 minutes
WINDOW_ENV = "MCPOPS_ALERT_WINDOW_SECONDS"


def window_seconds(environ=None):
    environ = os.environ if environ is None else environ
    text = environ.get(WINDOW_ENV, "")
    return int(text) if text.isdigit() else DEFAULT_WINDOW_SECONDS


class Ledger:
    def __init__(self, runs_root):
        self.dir = private_dir(os.path.join(runs_root, ".alerts"))

    def _path(self, fingerprint):
        return self.dir / ("%s.json" % fingerprint)

    def record(self, fingerprint):
        return read_json(self._path(fingerprint))

    def _records(self):
        for path in sorted(self.dir.glob("*.json")):
            record = read_json(path)
            if record is not None:
                yield record

    def claim(self, fingerprint, runbook, host, window, now=None):
        """Record that this alert starts runbook on host, unless a run of runbook on host started within window
        seconds (any fingerprint): then that record is returned and nothing is recorded."""
        now = now or now_utc()
        since = now - datetime.timedelta(seconds=window)
        with locked(self.dir):
            for record in self._records():
                if (record.get("runbook"), record.get("host")) == (runbook, host) \
                        and parse_stamp(record["started_at"]) > since:
                    return record
            write_json(self._path(fingerprint), {
                "fingerprint": fingerprint, "runbook": runbook, "host": host, "started_at": stamp(now),
                "runs": [], "resolved_at": None})
        return None

    def release(self, fingerprint):
        """Withdraw the claim of an alert whose run never started (the runner raised before it had a run dir), so that
        the next firing tries again instead of being a "duplicate" of nothing for a whole window. A claim with runs is
        kept: those runs did start. True when the record was removed."""
        with locked(self.dir):
            record = self.record(fingerprint)
            if record is None or record.get("runs"):
                return False
            self._path(fingerprint).unlink()
        return True

    def add_run(self, fingerprint, run_dir):
        """The alert's record names run_dir; returns the record (its resolved_at, when the alert resolved meanwhile)."""
        with locked(self.dir):
            record = self.record(fingerprint)
            if record is None:
                return None
            record["runs"] = record.get("runs", []) + [str(run_dir)]
            write_json(self._path(fingerprint), record)
        return record

    def resolve(self, fingerprint, resolved_at):
        """The record of the alert with resolved_at set, or None when this alert started nothing."""
        with locked(self.dir):
            record = self.record(fingerprint)
            if record is None:
                return None
            record["resolved_at"] = resolved_at
            write_json(self._path(fingerprint), record)
        return record

    def log(self, decision, now=None):
        """One line of the decisions log: {at, decision, ...}; returns it."""
        line = json.dumps(dict({"at": stamp(now or now_utc())}, **decision), sort_keys=True)
        fd = os.open(self.dir / "decisions.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return line
