# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""textfile_metrics' work: the file mode checked, the metrics rendered and the .prom file replaced atomically.

run(params, check_mode) returns {changed, path, metrics} or raises TaskError. No Ansible here.
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._host.textfile import TextfileError, write_metrics


def run(params, check_mode=False):
    """Nothing is written in check mode; changed says whether the text differs from the file's."""
    mode = params.get("mode", "0644")
    try:
        mode = int(str(mode), 8)
    except ValueError:
        raise TaskError("mode %r is not an octal file mode such as 0644" % (mode,))
    try:
        return write_metrics(params["path"], params["metrics"], mode, check_mode)
    except TextfileError as exc:
        raise TaskError(str(exc))
