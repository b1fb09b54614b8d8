"""The connector-mcp lab as the tests use it (docs/dev/connector-contract.md): two backend instances under the lab's
supervisord behind a private nginx, a private MariaDB and Redis, the releases dir and the CONNECTOR_CONFIG file; and
the inventory of that lab as the contract's "Inventory of the lab" names it (a dict ready for YAML or JSON:
local_lab_helpers.write_inventory writes a `gateways` group; write_connector_inventory writes this one)."""

import sys

from loopback import free_port
from mcpops.lab.local.connector_inventory import GROUP, STANDBY_GROUP  # noqa: F401 (the tests import them here)
from mcpops.lab.local.connector_inventory import connector_inventory as lab_inventory
from mcpops.lab.local.connector_inventory import write_connector_inventory as write_lab_inventory
from mcpops.lab.local.service_catalog import CONNECTOR_MCP
from mcpops.lab.local.service_lab import ServiceLab


def make_connector_lab(path):
    """A connector-mcp ServiceLab in path, up: both instances healthy and nginx answering, on free ports."""
    lab = ServiceLab(path, CONNECTOR_MCP, listen="127.0.0.1:%d" % free_port())
    try:
        lab.up()
    except BaseException:
        lab.down()  # up stops what it started when it fails; this is for an interrupt in between
        raise
    return lab


def connector_inventory(lab):
    """The lab's inventory (mcpops.lab.local.connector_inventory) with the passwords as values: the tests log in
    with them themselves, and plant them as canaries."""
    return lab_inventory(lab, python=sys.executable, secrets="value")


def write_connector_inventory(path, lab):
    """connector_inventory(lab) as a 0600 JSON inventory file at path."""
    return write_lab_inventory(path, lab, python=sys.executable, secrets="value")
