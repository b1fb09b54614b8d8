# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Free space on the volume that holds a path (INC-001 step 3: `df -h $ONEC_MCP_DATA_DIR`)."""

from __future__ import annotations

import os

MIB = 1024 * 1024


def mount_point(path, ismount=os.path.ismount):
    """The mount point of the volume that holds path (the nearest existing ancestor that is a mount)."""
    path = os.path.realpath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    while not ismount(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def mount_device(mount, mounts_text):
    """The device /proc/self/mounts names for a mount point (the last mount there wins), or None."""
    device = None
    for line in (mounts_text or "").splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1].replace("\\040", " ") == mount:
            device = "%s (%s)" % (fields[0], fields[2])
    return device


def usage(path, statvfs=os.statvfs):
    """Total and free bytes (free as an unprivileged process sees it: f_bavail) on path's volume."""
    st = statvfs(path)
    total = st.f_blocks * st.f_frsize
    free = st.f_bavail * st.f_frsize
    return {
        "total_bytes": total,
        "free_bytes": free,
        "used_bytes": total - st.f_bfree * st.f_frsize,
        "free_percent": round(100.0 * free / total, 2) if total else 0.0,
    }


def check_threshold(volume, min_free_percent, min_free_mb):
    """The problems (sentences) when the volume is under either threshold; [] when it is fine.

    volume: a usage() dict with path, mount and device. Each sentence names the volume, what is free
    and the threshold, so an operator knows what to clean up."""
    where = "%s (mount %s%s)" % (volume["path"], volume["mount"],
                                 ", device %s" % volume["device"] if volume.get("device") else "")
    free_mb = volume["free_bytes"] / float(MIB)
    problems = []
    if min_free_percent and volume["free_percent"] < min_free_percent:
        problems.append("%s has %.2f%% free, below the %s%% threshold" % (where, volume["free_percent"], min_free_percent))
    if min_free_mb and free_mb < min_free_mb:
        problems.append("%s has %.1f MiB free, below the %s MiB threshold" % (where, free_mb, min_free_mb))
    return problems


def inspect(path, mounts_text="", statvfs=os.statvfs, ismount=os.path.ismount):
    """usage() of path's volume with the path, its mount point and device."""
    if not os.path.exists(path):
        raise OSError("%s does not exist" % path)
    mount = mount_point(path, ismount)
    volume = {"path": path, "mount": mount, "device": mount_device(mount, mounts_text)}
    volume.update(usage(path, statvfs))
    return volume
