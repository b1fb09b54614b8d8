# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The processes of a systemd unit, from its cgroup (`systemctl show -p ControlGroup`, then cgroup.procs):
the unit's own processes and none other, where `ps aux | grep cctelegram` would also find the grep and any
editor with the name in its arguments."""

from __future__ import annotations

import os

CGROUP_ROOTS = ("/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd")
MAX_DEPTH = 16


def control_group(show_output):
    """The ControlGroup value of `systemctl show -p ControlGroup` output, or "" (a unit not running has none)."""
    for line in show_output.splitlines():
        if line.startswith("ControlGroup="):
            return line.split("=", 1)[1].strip()
    return ""


def cgroup_dir(group, roots=CGROUP_ROOTS):
    """The directory of cgroup `group` under the first of roots that has it (v2, then v1's hybrid mounts)."""
    if not group.startswith("/") or "/../" in group + "/":
        return None
    for root in roots:
        path = root + group
        if os.path.isfile(os.path.join(path, "cgroup.procs")):
            return path
    return None


def cgroup_pids(path):
    """The PIDs in cgroup dir path and the cgroups below it (a unit's processes may sit in sub-cgroups), sorted."""
    pids = set()
    for depth, (root, dirs, files) in enumerate(os.walk(path)):
        if root[len(path):].count(os.sep) > MAX_DEPTH or depth > 1000:
            dirs[:] = []
            continue
        if "cgroup.procs" in files:
            try:
                with open(os.path.join(root, "cgroup.procs")) as handle:
                    pids.update(int(p) for p in handle.read().split() if p.isdigit())
            except OSError:
                pass
    # 0: a process of the cgroup that this PID namespace cannot see (cgroup.procs read from inside a container)
    pids.discard(0)
    return sorted(pids)
