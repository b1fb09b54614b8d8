# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One step of a diagnostics section: a command run with a timeout, its exit code, bounded output and timing."""

from __future__ import annotations

import os
import shlex
import subprocess
import time

# The C locale: the same column names and number formats on every host (free, df, ps, ss).
_ENV = dict(os.environ, LC_ALL="C", LANG="C", SYSTEMD_PAGER="", PAGER="cat", SYSTEMD_COLORS="0")


def bounded(data, max_bytes):
    """(text, truncated): data (bytes) decoded, cut to max_bytes with a line saying how much was left out."""
    truncated = len(data) > max_bytes
    text = data[:max_bytes].decode("utf-8", "replace")
    if truncated:
        text += "\n[... %d more bytes not kept]\n" % (len(data) - max_bytes)
    return text, truncated


def step(command, rc, output, seconds, truncated=False):
    """The record of one step: what ran (as a shell line), its exit code (None: it did not run), output, timing."""
    return {"command": command, "rc": rc, "output": output, "duration_ms": round(seconds * 1000.0, 1),
            "truncated": truncated}


def run_command(argv, timeout, max_bytes):
    """Run argv (no shell, stdin closed), stdout and stderr together; a missing tool or a timeout is a step that
    failed (rc 127 or None), never an exception."""
    started = time.monotonic()
    line = " ".join(shlex.quote(a) for a in argv)
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout, env=_ENV, check=False)
    except subprocess.TimeoutExpired as exc:
        text, truncated = bounded(exc.stdout or b"", max_bytes)
        return step(line, None, text + "[timed out after %ss]\n" % timeout, time.monotonic() - started, truncated)
    except OSError as exc:
        return step(line, 127, "%s: %s\n" % (argv[0], exc.strerror or exc), time.monotonic() - started)
    text, truncated = bounded(proc.stdout, max_bytes)
    return step(line, proc.returncode, text, time.monotonic() - started, truncated)
