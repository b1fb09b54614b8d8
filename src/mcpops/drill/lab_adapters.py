"""The two labs a drill runs on, behind one small interface: bring the lab up (or find it running), its
targets (one gateway each), inject a fault into a target, read what the checks need, and down what the
drill started.

    LocalDrillLab   the local lab (mcpops.lab.local.lab.LocalLab): one gateway under supervisord, the
                    inventory `inventories/lab` with MCPOPS_LAB_DIR pointing at the lab's state dir
    FleetDrillLab   the fleet lab (mcpops.lab.fleet.lab.FleetLab): N hosts under systemd-nspawn, the
                    inventory the fleet wrote (`inventories/fleet` unless told otherwise)
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path

from mcpops.drill.scenarios import FLEET, LOCAL, DrillError
from mcpops.lab.http_client import http_json
from mcpops.run.runbooks import REPO

LOCAL_INVENTORY = REPO / "inventories" / "lab"
TOKEN_PAGE = 100


@dataclass
class Target:
    """One gateway of a lab, as the checks see it."""

    name: str          # the inventory host name
    api_url: str
    token_file: Path   # the admin token, read only when a request needs it
    data_dir: Path

    def admin(self, path, timeout=10):
        token = self.token_file.read_text().strip()
        return http_json(self.api_url + path, token=token, timeout=timeout)


def read_tokens(target):
    """{token id: revoked} of every token, every page; None when the gateway does not answer."""
    tokens, cursor = {}, None
    for _ in range(1000):  # 100 000 tokens: far beyond a lab
        path = f"/api/mcp-tokens?limit={TOKEN_PAGE}" + (f"&cursor={cursor}" if cursor else "")
        status, body = target.admin(path)
        if status != 200 or not isinstance(body, dict):
            return None
        for record in body.get("tokens") or []:
            tokens[record["id"]] = bool(record.get("revokedAt"))
        cursor = body.get("nextCursor")
        if not cursor:
            return tokens
    return tokens


def take_backup(target):
    """A backup right before the fault, as the nightly one would be: INC-003 must restore it."""
    time.sleep(1.1)  # backup ids have one-second resolution: never the same id as an earlier one
    token = target.token_file.read_text().strip()
    status, body = http_json(target.api_url + "/api/system/backups", method="POST", token=token, body={},
                             timeout=60)
    if status not in (200, 201):
        raise DrillError(f"{target.name}: POST {target.api_url}/api/system/backups answered {status}: {body}")
    return ((body or {}).get("backup") or {}).get("id")


class LocalDrillLab:
    kind = LOCAL

    def __init__(self, state_dir=None, listen=None, inventory=None, upstream=None):
        from mcpops.lab.local.lab import LocalLab

        self.lab = LocalLab(state_dir, listen=listen, upstream=upstream, out=print)
        self._check_inventory(inventory)
        self.inventory = LOCAL_INVENTORY
        self.started = False

    @staticmethod
    def _check_inventory(inventory):
        if inventory is not None and Path(inventory).expanduser().resolve() != LOCAL_INVENTORY.resolve():
            raise DrillError(f"inventory {inventory} is not the local lab's ({LOCAL_INVENTORY}): "
                             "a drill breaks things and runs on its own lab only")

    def faults(self):
        from mcpops.lab.local.faults import FAULTS

        return FAULTS

    def up(self):
        result = self.lab.up()
        self.started = bool(result["started"])
        return result

    def down(self):
        return self.lab.down()

    def env(self):
        return {"MCPOPS_LAB_DIR": str(self.lab.state_dir)}

    def targets(self):
        return [Target("lab-gateway", self.lab.api_url, self.lab.admin_token_file, self.lab.data_dir)]

    def inject(self, target, fault):
        return self.lab.break_(fault)

    def fault_facts(self, fault):
        """What the fault recorded (token faults write <state dir>/faults/<fault>.json), or {}."""
        try:
            return json.loads((self.lab.state_dir / "faults" / f"{fault}.json").read_text())
        except (OSError, ValueError):
            return {}

    def service_state(self, target):
        return self.lab.program_state()


class FleetDrillLab:
    kind = FLEET

    def __init__(self, count, state_dir=None, inventory=None):
        from mcpops.lab.fleet.errors import FleetError
        from mcpops.lab.fleet.lab import DEFAULT_INVENTORY, FleetLab

        try:
            probe = FleetLab(state_dir)
        except FleetError as exc:
            raise DrillError(str(exc)) from None
        recorded = probe.read_info().get("inventory_dir")
        running = [h for h in probe.hosts() if probe.pid(h)]
        if running and inventory is not None and recorded and \
                Path(inventory).expanduser().resolve() != Path(recorded).resolve():
            raise DrillError(f"inventory {inventory} is not the running fleet's ({recorded}): "
                             "a drill breaks things and runs on its own lab only")
        if running and len(probe.hosts()) != count:
            raise DrillError(f"the fleet in {probe.state_dir} runs {len(probe.hosts())} hosts, not {count}: "
                             f"`mcpops fleet down` first, or --fleet {len(probe.hosts())}")
        self.count = count
        where = (recorded if running and recorded else None) or inventory or REPO / DEFAULT_INVENTORY
        self.fleet = FleetLab(state_dir, inventory_dir=where, out=print)
        self.inventory = self.fleet.inventory_dir
        self.was_running = bool(running)
        self.started = False

    def faults(self):
        from mcpops.lab.fleet.faults import FAULTS

        return FAULTS

    def up(self):
        from mcpops.lab.fleet.errors import FleetError
        from mcpops.lab.fleet.host import HostError
        from mcpops.lab.fleet.image import ImageError

        try:
            result = self.fleet.up(self.count)
        except (FleetError, HostError, ImageError) as exc:
            raise DrillError(f"fleet up: {exc}") from None
        self.started = not self.was_running
        return result

    def down(self):
        return self.fleet.down()

    def env(self):
        return {}

    def targets(self):
        return [Target(h.name, h.api_url, h.admin_token_file, h.data_dir) for h in self.fleet.hosts()]

    def inject(self, target, fault):
        return self.fleet.break_(target.name, fault)

    def fault_facts(self, fault):
        return {}

    def service_state(self, target):
        host = self.fleet.host(target.name)
        pid = self.fleet.pid(host)
        if not pid:
            return "powered off"
        return host.unit_state(pid).get("ActiveState")
