# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A systemd unit's own processes: its control group as systemd names it, the PIDs in that group (and its
subgroups), and whether a PID is still in it. What belongs to a unit is read from the kernel's cgroup files, never
guessed from command lines (a `pkill -f <name>` also hits an editor, a grep or another unit's process with the name
in its arguments). No Ansible here.
"""

from __future__ import annotations

import os
import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.\\@-]{1,250}\Z")
UNIT_SUFFIXES = (".service", ".scope", ".socket", ".mount", ".swap", ".slice")
RUNNING_STATES = ("active", "activating", "reloading", "refreshing")
COMM_MAX = 64


def unit_name(name):
    """name with .service added when it has no unit suffix; TaskError for a name systemd would not take."""
    if not isinstance(name, str) or not UNIT_NAME.match(name) or name.startswith("-"):
        raise TaskError("unit must be a systemd unit name (letters, digits, : _ . \\ @ -), got %r" % (name,))
    return name if name.endswith(UNIT_SUFFIXES) else name + ".service"


def slice_path(slice_name, unit):
    """The control group systemd gives unit in slice_name: "a-b.slice" nests as /a.slice/a-b.slice/<unit>."""
    parts = []
    if slice_name and slice_name != "-.slice":
        stem = slice_name[: -len(".slice")]
        pieces = stem.split("-")
        parts = ["-".join(pieces[: i + 1]) + ".slice" for i in range(len(pieces))]
    return "/" + "/".join(parts + [unit])


def unit_state(unit, run_command):
    """{active_state, load_state, main_pid, control_group} from `systemctl show`; the group is derived from the
    unit's slice when systemd no longer names one (a stopped unit whose group it already removed)."""
    props = ("LoadState", "ActiveState", "MainPID", "ControlGroup", "Slice")
    rc, out, err = run_command(["systemctl", "show", unit] + ["--property=%s" % p for p in props])
    if rc != 0:
        raise TaskError("systemctl show %s failed (rc %s): %s" % (unit, rc, (err or out).strip()[:300]))
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    if values.get("LoadState") != "loaded":
        raise TaskError("unit %s is %s, not a loaded unit: check its name" % (unit, values.get("LoadState") or "unknown"))
    group = values.get("ControlGroup") or slice_path(values.get("Slice", ""), unit)
    return dict(active_state=values.get("ActiveState", ""), load_state=values["LoadState"],
                main_pid=int(values.get("MainPID") or 0), control_group=group)


def group_dirs(cgroup_root, control_group):
    """The group's directories: in the unified hierarchy (cgroup v2), else in each of the hierarchies systemd tracks
    processes in on a hybrid or v1 host (unified/ and its named systemd/ hierarchy)."""
    rel = control_group.lstrip("/")
    if ".." in rel.split("/"):
        raise TaskError("control group %r is not a plain path" % control_group)
    if os.path.exists(os.path.join(cgroup_root, "cgroup.procs")):
        return [os.path.join(cgroup_root, rel)]
    bases = [os.path.join(cgroup_root, name) for name in ("unified", "systemd")]
    bases = [base for base in bases if os.path.exists(os.path.join(base, "cgroup.procs"))]
    if not bases:
        raise TaskError("no cgroup hierarchy with cgroup.procs under %s" % cgroup_root)
    return [os.path.join(base, rel) for base in bases]


def group_pids(directories):
    """Every PID in the group and its subgroups, in any of its directories (none when the group is gone)."""
    pids = set()
    for directory in directories:
        for dirpath, _dirs, files in os.walk(directory):
            if "cgroup.procs" not in files:
                continue
            try:
                with open(os.path.join(dirpath, "cgroup.procs")) as handle:
                    pids.update(int(line) for line in handle if line.strip())
            except (FileNotFoundError, ProcessLookupError):  # the subgroup went away while we walked
                continue
    return sorted(pids)


def in_group(pid, control_group, proc_root="/proc"):
    """Whether pid is in control_group (or below it) now, read from /proc/<pid>/cgroup."""
    try:
        with open(os.path.join(proc_root, str(pid), "cgroup")) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return False
    for line in lines:
        _id, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers in ("", "name=systemd") and (path == control_group or path.startswith(control_group.rstrip("/") + "/")):
            return True
    return False


def process_name(pid, proc_root="/proc"):
    """The process's comm (its short name, never its arguments: they may hold a secret)."""
    try:
        with open(os.path.join(proc_root, str(pid), "comm")) as handle:
            return handle.read().strip()[:COMM_MAX]
    except OSError:
        return None
