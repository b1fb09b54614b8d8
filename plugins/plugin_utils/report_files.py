# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.json and report.md on disk, each written atomically (standard library only): a reader (AWX,
a person, `mcpops report`) sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile


def write_atomically(path, text, mode=0o644):
    """Replace path with text (str, written as UTF-8, or bytes): temp file, fsync, chmod, rename."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_report(directory, report, markdown):
    """report.json and report.md in directory (made 0700 when missing); returns the report.md path."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    write_atomically(os.path.join(directory, "report.json"), json.dumps(report, indent=2) + "\n")
    path = os.path.join(directory, "report.md")
    write_atomically(path, markdown)
    return path
