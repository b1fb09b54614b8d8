"""The Kubernetes lab's session fixtures, imported by tests/integration/conftest.py so that kube/ and lego/ share
them: ONE private control plane for the session (mcpops.lab.kube.control_plane: etcd, kube-apiserver,
kube-controller-manager on 127.0.0.1), its binaries built from Debian's source on first use and cached outside
the checkout (mcpops.lab.kube.build). Stopped by PID at the end of the session.

Root only, unless MCPOPS_KUBE_CACHE names a writable cache: the build writes /var/cache/mcpops-kube. A missing tool
(etcd, go, dpkg-source) is an error naming its Debian package, never a skip."""

import os
import time

import pytest

from mcpops.lab.kube.build import KubeBinaries
from mcpops.lab.kube.control_plane import ControlPlane

NOT_ROOT = ("the Kubernetes lab builds its binaries into /var/cache/mcpops-kube, which needs root "
            "(or MCPOPS_KUBE_CACHE naming a writable dir)")


@pytest.fixture(scope="session")
def kube_binaries():
    """The cached KubeBinaries (built here when missing: minutes, once); `.ensure_seconds` is what ensure() took."""
    binaries = KubeBinaries(out=print)
    if os.geteuid() != 0 and not os.environ.get("MCPOPS_KUBE_CACHE") and not binaries.ready():
        pytest.skip(NOT_ROOT)
    started = time.monotonic()
    binaries.ensure()
    binaries.ensure_seconds = round(time.monotonic() - started, 1)
    print(f"Kubernetes binaries {binaries.bin}: ensure {binaries.ensure_seconds}s, "
          f"built in {binaries.info().get('build_seconds')}s")
    return binaries


@pytest.fixture(scope="session")
def kube_control_plane(kube_binaries):
    """A started ControlPlane, shared by the session's tests (each works in its own objects); stopped at the end."""
    plane = ControlPlane(kube_binaries, out=print).start()
    try:
        yield plane
    finally:
        plane.stop()
