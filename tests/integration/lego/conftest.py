"""The LEGO lab for the session: ONE LegoStack (mcpops.lab.lego.stack) on the session's `kube_control_plane`
(tests/integration/kube_lab_fixtures.py), with its own node agent, PostgreSQL and HSM; each test leaves it healthy.
Root only, as the control plane is (its binaries' cache); softhsm2 is needed (an error naming it, never a skip)."""

import pytest

from mcpops.lab.lego.stack import LegoStack


@pytest.fixture(scope="session")
def lego_stack(kube_control_plane, tmp_path_factory):
    """A started LegoStack: dashboard pods Ready and healthy, signing with the HSM; stopped by PID at the end."""
    stack = LegoStack(kube_control_plane, out=print).start()
    try:
        yield stack
    finally:
        stack.stop()
