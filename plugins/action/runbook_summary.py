# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""runbook_summary: debug's print, plus the lines as the custom stat `mcpops_summary` (AWX's job artifacts).

A callback cannot add to AWX's artifacts (AWX's own callback reports the stats first), so the summary step itself
publishes them, the way set_stats does: through `ansible_stats` in its result.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

STAT_NAME = "mcpops_summary"


def summary_lines(msg):
    """The summary as a list of text lines (a single message is one line)."""
    if isinstance(msg, (list, tuple)):
        return [str(line) for line in msg]
    return [str(msg)]


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("msg",))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if "msg" not in self._task.args:
            raise AnsibleActionFail("runbook_summary needs msg: the summary's line or lines")
        msg = self._task.args["msg"]
        host = (task_vars or {}).get("inventory_hostname", "")
        lines = ["%s: %s" % (host, line) if host else line for line in summary_lines(msg)]
        # Printed here, at any verbosity (shown by the callback, the result would carry ansible_stats beside msg);
        # a no_log task prints nothing, as debug's result is censored then.
        if not self._task.no_log:
            display.display("\n".join(lines))
        result.update({
            "msg": msg,
            "changed": False,
            "ansible_stats": {"data": {STAT_NAME: lines}, "per_host": False, "aggregate": True},
        })
        return result
