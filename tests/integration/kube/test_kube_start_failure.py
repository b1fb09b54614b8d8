"""A control plane that cannot start says why with each process's log, and leaves nothing running (real etcd, an
API server that fails the way a bad flag or a taken port makes it fail)."""

import json
import os

import pytest

from mcpops.lab.kube.build import KubeBinaries
from mcpops.lab.kube.control_plane import ControlPlane
from mcpops.lab.kube.errors import KubeLabError

FAILING_APISERVER = "#!/bin/sh\necho 'Error: failed to create listener: lab test says no' >&2\nexit 1\n"


@pytest.fixture
def broken_binaries(tmp_path):
    """A cache entry whose kube-apiserver exits 1 at once."""
    binaries = KubeBinaries(cache=tmp_path / "cache", out=None)
    binaries.bin.mkdir(parents=True)
    for path in (binaries.apiserver, binaries.controller_manager, binaries.kubectl):
        path.write_text(FAILING_APISERVER)
        path.chmod(0o755)
    binaries.marker.write_text(json.dumps({"hash": binaries.hash}))
    return binaries


def test_a_failed_start_shows_the_logs_and_stops_what_started(broken_binaries, tmp_path):
    plane = ControlPlane(broken_binaries, base=tmp_path, out=None)
    with pytest.raises(KubeLabError) as err:
        plane.start()
    message = str(err.value)
    assert "kube-apiserver exited 1 at start-up" in message
    assert "lab test says no" in message and "--- etcd (" in message
    assert plane.procs == {}
    etcd_log = plane.log_path("etcd")
    assert etcd_log.exists(), "the dir is kept for its logs"
    # etcd, which had started, is gone: no process of ours runs with this plane's data dir
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                assert plane.dir.encode() not in fh.read(), f"pid {pid} still runs in {plane.dir}"
        except OSError:
            continue
