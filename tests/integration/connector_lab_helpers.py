"""The connector-mcp lab as the tests use it (docs/dev/connector-contract.md): two backend instances under the lab's
supervisord behind a private nginx, a private MariaDB and Redis, the releases dir and the CONNECTOR_CONFIG file; and
the inventory of that lab as the contract's "Inventory of the lab" names it (a dict ready for YAML or JSON:
local_lab_helpers.write_inventory writes a `gateways` group; write_connector_inventory writes this one).

CI time: one connector lab for the whole pytest session (the `shared_connector_lab` fixture, registered by
tests/integration/conftest.py), started the first time a test asks for it. A test module that uses it takes it
with ready(lab) (up again if a test took it down, then `break healthy`: the `up` state), and gives back what
`healthy` leaves as the operator left it (nginx's blocklist.conf, the CONNECTOR_CONFIG file) as it found it. A test
that needs a lab of its own (one it starts, downs or watches being started) says why and calls make_connector_lab."""

import sys

import pytest

from loopback import free_port
from mcpops.lab.local.connector_inventory import GROUP, STANDBY_GROUP  # noqa: F401 (the tests import them here)
from mcpops.lab.local.connector_inventory import connector_inventory as lab_inventory
from mcpops.lab.local.connector_inventory import write_connector_inventory as write_lab_inventory
from mcpops.lab.local.service_catalog import CONNECTOR_MCP
from mcpops.lab.local.service_lab import ServiceLab
from mcpops.lab.pids import pid_alive


def make_connector_lab(path):
    """A connector-mcp ServiceLab in path, up: both instances healthy and nginx answering, on free ports."""
    lab = ServiceLab(path, CONNECTOR_MCP, listen="127.0.0.1:%d" % free_port())
    try:
        lab.up()
    except BaseException:
        lab.down()  # up stops what it started when it fails; this is for an interrupt in between
        raise
    return lab


def ready(lab):
    """The shared lab in its `up` state: up again when a test took it down, then `break healthy` (undoes any fault
    a test left behind, the standby stopped, the release links and upstreams as `up` left them)."""
    if lab.supervisord_pid() is None:
        lab.up()
    lab.break_("healthy")
    return lab


def lab_pids(lab):
    """Every PID the lab records now: supervisord, its programs, the datastores, nginx and its workers, the filler."""
    info = lab.read_info()
    found = [info.get("supervisord_pid")]
    found += [rec.get("pid") for rec in (info.get("programs") or {}).values()]
    found += [rec.get("pid") for rec in (info.get("datastores") or {}).values()]
    if found[0]:
        found += [lab.program_pid(name) for name in lab.supervised_names]
    connector = info.get("connector") or {}
    found += [(connector.get("nginx") or {}).get("pid"), (connector.get("filler") or {}).get("pid")]
    nginx = lab.topology.nginx_pid()
    if nginx:
        found += lab.topology.nginx().workers(nginx)
    return {int(p) for p in found if p}


@pytest.fixture(scope="session")
def shared_connector_lab(tmp_path_factory):
    """One connector lab for the session (see the module's doc); at the end it is downed and purged, and no PID it
    recorded then is alive."""
    lab = make_connector_lab(tmp_path_factory.mktemp("connector-shared") / "lab")
    try:
        yield lab
    finally:
        pids = lab_pids(lab)
        lab.down(purge=True)
        assert sorted(p for p in pids if pid_alive(p)) == [], "PIDs of the shared connector lab alive after down"


def connector_inventory(lab):
    """The lab's inventory (mcpops.lab.local.connector_inventory) with the passwords as values: the tests log in
    with them themselves, and plant them as canaries."""
    return lab_inventory(lab, python=sys.executable, secrets="value")


def write_connector_inventory(path, lab):
    """connector_inventory(lab) as a 0600 JSON inventory file at path."""
    return write_lab_inventory(path, lab, python=sys.executable, secrets="value")
