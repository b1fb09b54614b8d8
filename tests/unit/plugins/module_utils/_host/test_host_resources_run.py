"""host_resources' run(): /proc read through read(), each path's volume through fake statvfs/ismount, the thresholds
checked, and a volume under one a TaskError carrying the whole result (or only a problem without fail_on_low_disk)."""

from collections import namedtuple

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._host.host_resources_run import run

StatVfs = namedtuple("StatVfs", "f_frsize f_blocks f_bfree f_bavail")
PROC = {
    "/proc/loadavg": "0.52 0.58 0.59 2/1234 56789\n",
    "/proc/meminfo": "MemTotal: 1000 kB\nMemAvailable: 250 kB\n",
    "/proc/self/mounts": "/dev/vdb1 / ext4 rw 0 0\n",
}


def params(paths, **extra):
    p = dict(paths=paths, min_free_percent=5, min_free_mb=100, fail_on_low_disk=True)
    p.update(extra)
    return p


def fakes(free_mib, total_mib=1000):
    return dict(read=PROC.__getitem__, ismount=lambda path: path == "/",
                statvfs=lambda path: StatVfs(4096, total_mib * 256, free_mib * 256, free_mib * 256))


def test_a_volume_with_room_is_reported(tmp_path):
    result = run(params([str(tmp_path)]), check_mode=True, **fakes(free_mib=500))
    assert result["changed"] is False and result["problems"] == []
    assert result["load"]["1m"] == 0.52 and result["memory"]["available_percent"] == 25.0
    [volume] = result["volumes"]
    assert volume["path"] == str(tmp_path) and volume["mount"] == "/" and volume["device"] == "/dev/vdb1 (ext4)"
    assert volume["free_percent"] == 50.0


def test_a_volume_under_the_threshold_fails_with_the_result(tmp_path):
    with pytest.raises(TaskError) as err:
        run(params([str(tmp_path)]), **fakes(free_mib=20))
    assert err.value.msg.startswith("Low disk space: %s (mount /, device /dev/vdb1 (ext4)) has 2.00%% free" % tmp_path)
    assert "before restarting the gateway" in err.value.msg
    assert err.value.result["changed"] is False and len(err.value.result["problems"]) == 2
    reported = run(params([str(tmp_path)], fail_on_low_disk=False), **fakes(free_mib=20))
    assert reported["problems"] == err.value.result["problems"]


@pytest.mark.parametrize("extra", [dict(min_free_percent=-1), dict(min_free_percent=101), dict(min_free_mb=-1)])
def test_bad_thresholds_are_refused(tmp_path, extra):
    with pytest.raises(TaskError, match=r"min_free_percent must be 0\.\.100 and min_free_mb 0 or more"):
        run(params([str(tmp_path)], **extra), **fakes(free_mib=500))


def test_a_missing_path_or_unreadable_proc_says_what(tmp_path):
    with pytest.raises(TaskError, match="could not read the host's resources: .*gone does not exist; check that the paths"):
        run(params([str(tmp_path / "gone")]), **fakes(free_mib=500))
    broken = dict(fakes(free_mib=500), read=lambda path: "" if path == "/proc/loadavg" else PROC[path])
    with pytest.raises(TaskError, match="/proc/loadavg: expected at least 4 fields"):
        run(params([]), **broken)


def test_the_real_host(tmp_path):
    result = run(params([str(tmp_path)], min_free_percent=0, min_free_mb=0))
    assert result["memory"]["total_bytes"] > 0 and result["volumes"][0]["total_bytes"] > 0
