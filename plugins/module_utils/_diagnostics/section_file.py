# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A section as the text file of the bundle: its title, then each step's command, exit code, timing and output."""

from __future__ import annotations

import hashlib
import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.atomic_file import replace_file
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.secret_redaction import redact


def file_name(index, name):
    return "%02d-%s.txt" % (index, name)


def render(title, host, collected_at, steps):
    """The file's text: `--- title ---`, then `$ command`, `[exit N, T ms]` and the output of each step."""
    out = ["--- %s ---" % title, "host: %s" % host, "collected: %s" % collected_at, ""]
    for s in steps:
        rc = "did not run" if s["rc"] is None else "exit %s" % s["rc"]
        out += ["$ " + s["command"], "[%s, %.1f ms%s]" % (rc, s["duration_ms"], ", output cut" if s["truncated"] else "")]
        out.append(s["output"].rstrip("\n"))
        out.append("")
    return "\n".join(out) + "\n"


def masked_steps(steps, secrets):
    """Every text of the steps with each secret replaced (a service could echo a key back)."""
    return [redact(s, [x for x in secrets if x]) for s in steps]


def write(dest, name, text):
    """Write text as dest/name (0600, atomically); returns (path, sha256, bytes)."""
    data = text.encode("utf-8")
    path = os.path.join(dest, name)
    replace_file(path, data, 0o600)
    return path, hashlib.sha256(data).hexdigest(), len(data)
