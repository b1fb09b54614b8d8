# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What diagnostics_collect does: the seed's mcp-diagnostics.sh sections, each its own text file in dest."""

from __future__ import annotations

import os
import socket
import stat
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics import section_file, sections
from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.cgroup_procs import CGROUP_ROOTS
from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.command import run_command as _run_command

MAX_SECTION_BYTES = 16 * 1024 * 1024


def _utc_now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def check_params(p):
    if not p.get("unit"):
        raise TaskError("unit is empty: name the service's systemd unit (the profile's runtime.unit)")
    if not 1024 <= p["max_section_bytes"] <= MAX_SECTION_BYTES:
        raise TaskError("max_section_bytes must be from 1024 to %d (got %s)" % (MAX_SECTION_BYTES, p["max_section_bytes"]))
    for key in ("error_lines", "security_lines", "status_lines"):
        if not 0 <= p[key] <= 100000:
            raise TaskError("%s must be from 0 to 100000 (got %s)" % (key, p[key]))
    if not 0 < p["timeout"] <= 600:
        raise TaskError("timeout must be more than 0 and at most 600 seconds (got %s)" % p["timeout"])
    unknown = sorted(set(p.get("sections") or []) - set(sections.SECTION_NAMES))
    if unknown:
        raise TaskError("sections: unknown %s; known: %s" % (", ".join(unknown), ", ".join(sections.SECTION_NAMES)))
    if any(not 0 < port < 65536 for port in p["ports"]):
        raise TaskError("ports must be TCP ports, 1 to 65535 (got %s)" % p["ports"])


def prepare_dest(dest):
    """dest as a directory of ours: made 0700 when missing; a link or anything but a directory is refused."""
    try:
        os.makedirs(os.path.dirname(dest) or "/", mode=0o700, exist_ok=True)
        try:
            os.mkdir(dest, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(dest)
    except OSError as exc:
        raise TaskError("cannot make the diagnostics dir %s: %s" % (dest, exc.strerror or exc))
    if not stat.S_ISDIR(info.st_mode):
        raise TaskError("%s is not a directory (a link or a file): the diagnostics are not written through it" % dest)


def run(params, check_mode=False, run_command=_run_command, transport=None, now=_utc_now, hostname=None,
        cgroup_roots=CGROUP_ROOTS):
    p = params
    check_params(p)
    transport = transport or UrllibTransport(validate_certs=p["validate_certs"], timeout=p["timeout"],
                                             follow_redirects=False)
    host = hostname or socket.gethostname()
    collected_at = now()
    secrets = [p.get("api_key") or ""]
    started = time.monotonic()
    found = sections.collect(p, run_command, transport, names=p.get("sections") or None, cgroup_roots=cgroup_roots)
    write = not check_mode and p.get("dest")
    if write:
        prepare_dest(p["dest"])
    result_sections, failed, files = [], [], []
    for index, (name, title, steps, seconds) in enumerate(found, start=1):
        steps = section_file.masked_steps(steps, secrets)
        ok = all(s["rc"] == 0 for s in steps)
        entry = {"name": name, "title": title, "ok": ok, "duration_ms": round(seconds * 1000.0, 1),
                 "file": section_file.file_name(sections.SECTION_NAMES.index(name) + 1, name),
                 "steps": [{k: v for k, v in s.items() if k != "output" or check_mode} for s in steps]}
        if not ok:
            failed.append(name)
        if write:
            text = section_file.render(title, host, collected_at, steps)
            try:
                path, digest, size = section_file.write(p["dest"], entry["file"], text)
            except OSError as exc:
                raise TaskError("cannot write %s in %s: %s" % (entry["file"], p["dest"], exc.strerror or exc),
                                {"sections": result_sections})
            entry.update(path=path, sha256=digest, bytes=size)
            files.append(path)
        result_sections.append(entry)
    return {"changed": bool(write), "host": host, "collected_at": collected_at, "dest": p.get("dest"),
            "sections": result_sections, "failed_sections": failed, "files": files,
            "duration_ms": round((time.monotonic() - started) * 1000.0, 1)}
