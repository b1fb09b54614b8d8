"""Fixtures for the fleet tests: real Debian hosts under systemd-nspawn, real sshd and systemd.

They need root (systemd-nspawn); as another user every test here is skipped with that reason. The image
is built on first use (debootstrap from the Debian mirror, a few minutes) and cached outside the clone.
The hosts use the addresses 127.0.0.11... (or $MCPOPS_FLEET_NET.11...), so the tests of one checkout boot one
fleet at a time; two checkouts can run side by side with different MCPOPS_FLEET_NET.
"""

import os

import pytest

from fleet_helpers import cctelegram_fleet
from mcpops.lab.fleet.lab import FleetLab

STACK_NET = "127.0.12"  # the session's CCTelegram stack, unless MCPOPS_FLEET_NET names another /24


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="the fleet lab boots hosts with systemd-nspawn, which needs root")
    for item in items:
        if "tests/fleet/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.fixture
def make_fleet(tmp_path):
    """make_fleet(n) -> a running FleetLab of n hosts in tmp_path; every fleet made is downed at the end."""
    made = []

    def make(count):
        fleet = FleetLab(tmp_path / ("fleet%d" % len(made)), inventory_dir=tmp_path / ("inventory%d" % len(made)))
        made.append(fleet)
        fleet.up(count)
        return fleet

    yield make
    for fleet in made:
        fleet.down()


@pytest.fixture(scope="session")
def cctelegram_stack(tmp_path_factory):
    """One CCTelegram fleet for the whole session: 3 serving hosts and 1 standby (fleet4) on $MCPOPS_FLEET_NET
    (default 127.0.12), behind its nginx, watched by its Prometheus, with its Telegram stand-in; downed at the end
    of the session. Shared by every module that asks for it: a module restores what it broke (`fleet.up(3)` keeps
    the standby, clears the hosts' faults and the load balancer's drains and offenders, and stops the standby)."""
    net = os.environ.get("MCPOPS_FLEET_NET") or STACK_NET
    with cctelegram_fleet(tmp_path_factory.mktemp("cctelegram-stack"), count=3, standby=1, net=net) as fleet:
        yield fleet
