"""Poll until a probe answers, failing the test with what it last saw: the waits of the Kubernetes and LEGO lab tests
(controllers and the node agent act within a second or two; the deadlines are for a loaded CI machine)."""

import time

import pytest


def wait_for(what, probe, deadline, interval=0.2):
    """Poll probe() until it returns something truthy and return that; fail naming `what` and the last value at the
    deadline (seconds)."""
    end = time.monotonic() + deadline
    value = None
    while time.monotonic() < end:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"{what} not within {deadline}s; last seen: {value!r}")
