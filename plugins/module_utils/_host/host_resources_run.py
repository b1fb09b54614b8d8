# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_resources' work: load and memory from /proc, the free space of each path's volume, and the threshold.

run(params, check_mode, read=..., statvfs=..., ismount=...) returns {changed: false, load, memory, volumes, problems} or raises TaskError
(bad thresholds, an unreadable /proc or path, or a volume under a threshold with fail_on_low_disk, the
result then in the TaskError). No Ansible here.
"""

from __future__ import annotations

import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._host.disk_space import check_threshold, inspect
from ansible_collections.mcpops.runbooks.plugins.module_utils._host.load import parse_loadavg, parse_meminfo


def read_text(path):
    with open(path) as handle:
        return handle.read()


def run(params, check_mode=False, *, read=read_text, statvfs=os.statvfs, ismount=os.path.ismount):
    """Read-only. read(path) -> text reads /proc/loadavg, /proc/meminfo and /proc/self/mounts; statvfs and
    ismount are disk_space.inspect's (tests give fakes)."""
    if params["min_free_percent"] < 0 or params["min_free_percent"] > 100 or params["min_free_mb"] < 0:
        raise TaskError("min_free_percent must be 0..100 and min_free_mb 0 or more")
    try:
        load, memory, mounts = parse_loadavg(read("/proc/loadavg")), parse_meminfo(read("/proc/meminfo")), read("/proc/self/mounts")
        volumes = [inspect(path, mounts, statvfs, ismount) for path in params["paths"]]
    except (OSError, ValueError) as exc:
        raise TaskError("could not read the host's resources: %s; check that the paths exist on this host" % exc)
    problems = []
    for volume in volumes:
        problems.extend(check_threshold(volume, params["min_free_percent"], params["min_free_mb"]))
    result = dict(changed=False, load=load, memory=memory, volumes=volumes, problems=problems)
    if problems and params["fail_on_low_disk"]:
        raise TaskError("Low disk space: %s. Free space on that volume (old logs, core dumps, stale backups "
                        "after they are copied off the host) before restarting the gateway."
                        % "; ".join(problems), result)
    return result
