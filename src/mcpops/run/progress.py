"""The live progress view of `mcpops run`, fed by ansible-runner's events.

On a terminal (rich): a line per host result as it completes, its status in colour, under a live status line
(a spinner, the task that runs now, how long it has run) that rich redraws in place and clears at the end.
Elsewhere (a pipe, a log, cron, AWX): the same result lines, plain, nothing redrawn, no colour.
Failure messages go through the report's SecretMasker first. Text from hosts and playbooks is never read as
rich markup: a `[red]` in a message is printed as it is.
"""

import os
import sys
import time

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from mcpops.run.plugin_utils import load

_RESULT_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
}
_STYLES = {"ok": "green", "changed": "yellow", "failed": "red", "unreachable": "bold red", "skipped": "cyan"}
_MESSAGE_INDENT = " " * 11  # under the status word of the result line above


def is_terminal(out):
    """A terminal that can redraw a line: not a pipe or a file, and not TERM=dumb."""
    return out.isatty() and os.environ.get("TERM") != "dumb"


class _CurrentTask:
    """The live status line: a spinner, the task that runs now and how long it has run."""

    def __init__(self, name):
        self.name = name[:100]
        self.since = time.monotonic()
        self.spinner = Spinner("dots", style="cyan")

    def __rich__(self):
        self.spinner.text = Text.assemble((self.name, "bold"), ("  %ds" % (time.monotonic() - self.since), "dim"))
        return self.spinner


class Progress:
    def __init__(self, out=None, tty=None, masker=None):
        self.out = out or sys.stdout
        self.tty = is_terminal(self.out) if tty is None else tty
        self.masker = masker or load("secret_mask").SecretMasker()
        self.task = None
        self.results = 0
        self._console = Console(file=self.out, force_terminal=True, highlight=False, soft_wrap=True) if self.tty else None
        self._live = None

    # -- the two outputs --------------------------------------------------------------------------------------

    def _print(self, parts):
        """One line made of (text, status) parts: plain, or styled on a terminal (above the live status line)."""
        if self._console is None:
            self.out.write("".join(text for text, _ in parts) + "\n")
            self.out.flush()
        else:
            self._console.print(Text.assemble(*((text, _STYLES.get(status, "")) for text, status in parts)))

    def _show_task(self):
        if self._console is None:
            return
        if self.task is None:
            self._stop_live()
            return
        if self._live is None:
            # Redrawn by rich's own thread, so the spinner and the seconds move while a long task runs.
            self._live = Live(console=self._console, transient=True, refresh_per_second=4,
                              redirect_stdout=False, redirect_stderr=False)
            self._live.start()
        self._live.update(_CurrentTask(self.task), refresh=True)

    def _stop_live(self):
        if self._live is not None:
            self._live.stop()
            self._live = None

    # -- what the runner calls -------------------------------------------------------------------------------

    def line(self, text):
        self._print([(text, None)])

    def on_event(self, event):
        """ansible-runner's event_handler: keep every event (True), show what an operator needs."""
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self.line("PLAY %s" % data.get("play", ""))
        elif kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            self.task = data.get("task") or data.get("name")
            self._show_task()
        elif kind in _RESULT_EVENTS:
            res = data.get("res") or {}
            status = _RESULT_EVENTS[kind]
            if status == "ok" and res.get("changed"):
                status = "changed"
            parts = [("%s  " % time.strftime("%H:%M:%S"), None), ("%-11s" % status, status),
                     (" %-16s %s" % (data.get("host", "?"), data.get("task", self.task or "")), None)]
            if status in ("failed", "unreachable") and res.get("msg"):
                message = self.masker.text(str(res["msg"]).strip().replace("\n", " "))[:600]
                parts.append(("\n" + _MESSAGE_INDENT + message, None))
            self.results += 1
            self._print(parts)
        elif kind == "playbook_on_stats":
            self.task = None
            self._show_task()
        return True

    def close(self):
        self._stop_live()
        self.out.flush()
