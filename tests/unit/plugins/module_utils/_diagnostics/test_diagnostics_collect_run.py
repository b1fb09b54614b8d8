"""diagnostics_collect's run(): every section written to dest as its own 0600 file with its sha256, the key in no
file nor result, a failed step recorded and the run going on, check mode writing nothing, bad input refused."""

import hashlib
import os
import stat

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics import sections
from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.diagnostics_collect_run import run
from diag_fakes import KEY, FakeHost, params


def collect(tmp_path, check_mode=False, **extra):
    return run(params(**extra), check_mode, run_command=FakeHost(), transport=UrllibTransport(timeout=5),
               now=lambda: "2026-12-05T14:00:00Z", hostname="fleet1", cgroup_roots=(str(tmp_path / "no-cgroups"),))


def test_every_section_is_a_file_with_its_checksum_and_no_key(tmp_path, stub):
    stub.routes[("GET", "/health")] = (200, {}, {"status": "healthy", "echo": KEY})
    dest = tmp_path / "diag"
    result = collect(tmp_path, dest=str(dest), health_url=stub.url + "/health")
    assert result["changed"] is True and result["host"] == "fleet1"
    names = sorted(os.listdir(dest))
    assert names == ["%02d-%s.txt" % (i, n) for i, (n, _) in enumerate(sections.SECTIONS, start=1)]
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o700
    for entry in result["sections"]:
        data = (dest / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
        assert KEY.encode() not in data
        assert "output" not in str(entry["steps"])  # outputs are in the files, not the result
    assert {k.lower(): v for k, v in stub.requests[0]["headers"].items()}["x-api-key"] == KEY  # the key was used, as a header
    assert KEY not in str(result)
    assert "HTTP 200" in (dest / "03-network-connectivity.txt").read_text()
    # df of /var/log failed (FakeHost), no log path, no metrics url: recorded, the rest collected
    assert result["failed_sections"] == ["resource-usage", "recent-errors", "security-events", "performance-metrics"]


def test_check_mode_writes_nothing_and_returns_the_outputs(tmp_path):
    dest = tmp_path / "diag"
    result = collect(tmp_path, check_mode=True, dest=str(dest), sections=["system-information", "performance-metrics"])
    assert not dest.exists() and result["changed"] is False and result["files"] == []
    assert [s["name"] for s in result["sections"]] == ["system-information", "performance-metrics"]
    assert [s["file"] for s in result["sections"]] == ["01-system-information.txt", "09-performance-metrics.txt"]
    assert result["sections"][0]["steps"][0]["output"].startswith("output of hostname (key ********")


def test_a_link_as_dest_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "diag")
    with pytest.raises(TaskError, match="not a directory"):
        collect(tmp_path, dest=str(tmp_path / "diag"))
    assert os.listdir(tmp_path / "elsewhere") == []


@pytest.mark.parametrize("bad, message", [
    (dict(unit=""), "unit is empty"), (dict(max_section_bytes=10), "max_section_bytes"),
    (dict(sections=["nope"]), "unknown nope"), (dict(ports=[0]), "ports"), (dict(timeout=0), "timeout"),
])
def test_bad_input_is_refused(tmp_path, bad, message):
    with pytest.raises(TaskError, match=message):
        collect(tmp_path, **bad)
