"""INC-001 step 3: the free space of a path's volume, and the threshold check that names the volume."""

import os
from collections import namedtuple

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._host.disk_space import (
    check_threshold,
    inspect,
    mount_device,
    mount_point,
    usage,
)

StatVfs = namedtuple("StatVfs", "f_frsize f_blocks f_bfree f_bavail")
MIB = 1024 * 1024


def fake_statvfs(total_mib, free_mib, reserved_mib=0):
    return lambda path: StatVfs(4096, total_mib * 256, (free_mib + reserved_mib) * 256, free_mib * 256)


def volume(total_mib, free_mib):
    vol = {"path": "/var/lib/onec-mcp-gateway", "mount": "/var/lib/onec-mcp-gateway", "device": "tmpfs (tmpfs)"}
    vol.update(usage("/", fake_statvfs(total_mib, free_mib)))
    return vol


def test_usage_counts_what_an_unprivileged_process_may_use():
    use = usage("/", fake_statvfs(100, 10, reserved_mib=5))
    assert use == {"total_bytes": 100 * MIB, "free_bytes": 10 * MIB, "used_bytes": 85 * MIB, "free_percent": 10.0}


def test_percent_threshold_names_the_volume():
    [problem] = check_threshold(volume(16, 0.5), min_free_percent=5, min_free_mb=0)
    assert "/var/lib/onec-mcp-gateway (mount /var/lib/onec-mcp-gateway, device tmpfs (tmpfs))" in problem
    assert "3.12% free, below the 5% threshold" in problem


def test_both_thresholds_and_none():
    assert len(check_threshold(volume(1000, 20), min_free_percent=5, min_free_mb=100)) == 2
    assert check_threshold(volume(1000, 200), min_free_percent=5, min_free_mb=100) == []
    assert check_threshold(volume(1000, 1), min_free_percent=0, min_free_mb=0) == []


def test_exactly_at_the_threshold_is_fine():
    assert check_threshold(volume(100, 5), min_free_percent=5, min_free_mb=5) == []


def test_mount_point_walks_up_to_the_mount(tmp_path):
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    mounts = {str(tmp_path)}
    assert mount_point(str(deep / "not-yet"), ismount=lambda p: p in mounts or p == "/") == str(tmp_path)


def test_mount_device_last_mount_wins():
    text = "/dev/vda / ext4 rw 0 0\n/dev/vdb /srv ext4 rw 0 0\ntmpfs /srv tmpfs rw 0 0\n"
    assert mount_device("/srv", text) == "tmpfs (tmpfs)"
    assert mount_device("/nowhere", text) is None


def test_inspect_a_real_path(tmp_path):
    vol = inspect(str(tmp_path), open("/proc/self/mounts").read())
    assert vol["path"] == str(tmp_path) and os.path.ismount(vol["mount"])
    assert 0 < vol["free_bytes"] <= vol["total_bytes"]


def test_inspect_a_missing_path_says_so(tmp_path):
    with pytest.raises(OSError, match="does not exist"):
        inspect(str(tmp_path / "gone"))

