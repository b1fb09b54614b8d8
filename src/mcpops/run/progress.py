"""The live progress view of `mcpops run`, fed by ansible-runner's events.

On a terminal: a line per host result as it completes, and one status line (rewritten in place) naming
the task that runs now. Elsewhere (a pipe, a log, cron): the same result lines, plain, nothing rewritten.
Failure messages go through the report's SecretMasker first.
"""

import sys
import time

from mcpops.run.plugin_utils import load

_RESULT_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
}
_COLOURS = {"ok": "32", "changed": "33", "failed": "31", "unreachable": "31;1", "skipped": "36"}


class Progress:
    def __init__(self, out=None, tty=None, masker=None):
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.masker = masker or load("secret_mask").SecretMasker()
        self.task = None
        self.results = 0
        self._status_shown = False

    def _clear_status(self):
        if self._status_shown:
            self.out.write("\r\x1b[K")
            self._status_shown = False

    def _status(self):
        if self.tty and self.task:
            self.out.write("\r\x1b[K... %s" % self.task[:100])
            self._status_shown = True
            self.out.flush()

    def line(self, text):
        self._clear_status()
        self.out.write(text + "\n")
        self._status()
        self.out.flush()

    def _word(self, status):
        return "\x1b[%sm%-11s\x1b[0m" % (_COLOURS.get(status, "0"), status) if self.tty else "%-11s" % status

    def on_event(self, event):
        """ansible-runner's event_handler: keep every event (True), show what an operator needs."""
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self.line("PLAY %s" % data.get("play", ""))
        elif kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            self.task = data.get("task") or data.get("name")
            self._clear_status()
            self._status()
        elif kind in _RESULT_EVENTS:
            res = data.get("res") or {}
            status = _RESULT_EVENTS[kind]
            if status == "ok" and res.get("changed"):
                status = "changed"
            text = "%s  %s %-16s %s" % (time.strftime("%H:%M:%S"), self._word(status), data.get("host", "?"),
                                        data.get("task", self.task or ""))
            if status in ("failed", "unreachable") and res.get("msg"):
                text += "\n           " + self.masker.text(str(res["msg"]).strip().replace("\n", " "))[:600]
            self.results += 1
            self.line(text)
        elif kind == "playbook_on_stats":
            self.task = None
            self._clear_status()
        return True

    def close(self):
        self._clear_status()
        self.out.flush()
