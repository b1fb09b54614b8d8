"""What a fleet host serves: the 1C reference gateway (the default, baked into the image) or CCTelegram MCP
(`mcpops fleet up --service cctelegram-mcp`): the reference cctelegram-mcp and cctelegram-bridge
(`python3 -m mcpops.lab.services ...`) as two systemd units, and their faults; or one of lego-mcp, loyalty-api and
connector-mcp on the fleet's shared datastores (reference_services.py).

A CCTelegram host, on its own loopback address A:

    cctelegram-bridge.service   A:8091                 state /var/lib/cctelegram-bridge
    cctelegram-mcp.service      A:8080 (API, X-API-Key), A:9090 (metrics)
                                state /var/lib/cctelegram (faults.json), logs /var/log/cctelegram
                                Wants= and After= the bridge: a restart of cctelegram-mcp starts a stopped bridge

Nothing of it is in the image (no recipe change, no rebuild): the unit files are written per host into
<fleet state dir>/hosts/<name>/fleet/units/ (/etc/mcpops-fleet/units inside, read-only) and, after each boot,
`systemctl enable` links them into the host's /etc/systemd/system, which --volatile=overlay forgets at
the next boot; the 1C gateway unit the image enables is disabled and stopped there. The API key is a 0600
file in <fleet state dir>/hosts/<name>/etc-cctelegram/ (dir 0700), bind-mounted at /etc/cctelegram: the unit
names the file (CCTELEGRAM_API_KEY_FILE), never the key, so it is in no unit, environment, `ps` or journal.
"""

import json
import os
import secrets
import time
import urllib.error
import urllib.request

from mcpops.lab.fleet import image, reference_services as reference
from mcpops.lab.fleet.errors import FleetError
from mcpops.lab.gateway.fsutil import atomic_write

ONEC = "onec-gateway"
CCTELEGRAM = "cctelegram-mcp"
SERVICES = (ONEC, CCTELEGRAM) + reference.SERVICES
DEFAULT = ONEC

MCP_UNIT = "cctelegram-mcp"
BRIDGE_UNIT = "cctelegram-bridge"
API_PORT = 8080
METRICS_PORT = 9090
BRIDGE_PORT = 8091
ETC = "/etc/cctelegram"                      # api_key (0600), bind-mounted from hosts/<name>/etc-cctelegram
STATE_DIR = "/var/lib/cctelegram"            # faults.json, read by the service on every request
BRIDGE_STATE_DIR = "/var/lib/cctelegram-bridge"
LOG_DIR = "/var/log/cctelegram"              # application.log, security.log (JSON lines)
UNITS_DIR = image.FLEET_ETC + "/units"
DROPIN_DIR = f"/run/systemd/system/{MCP_UNIT}.service.d"  # runtime: gone at the next boot
CRASH_LOOP_DROPIN = DROPIN_DIR + "/50-mcpops-crash-loop.conf"
MISSING_KEY_FILE = ETC + "/api_key.missing"  # the crash-loop fault points the unit here
WAIT = 60.0

# The main unit, the API port and the ports a host listens on, by service.
UNIT = {ONEC: image.SERVICE_NAME, CCTELEGRAM: MCP_UNIT, **reference.UNIT}
PORT = {ONEC: 3000, CCTELEGRAM: API_PORT, **reference.PORT}
PORTS = {ONEC: (22, 3000), CCTELEGRAM: (22, API_PORT, METRICS_PORT, BRIDGE_PORT),
         **{service: (22, port) for service, port in reference.PORT.items()}}

_LIMITS = """# A crash loop ends in "failed" after 3 starts, as the gateway unit's does.
StartLimitIntervalSec=30
StartLimitBurst=3"""
_COMMON = f"""Type=simple
Environment=PYTHONPATH={image.MCPOPS_SRC} PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
Restart=on-failure
RestartSec=1
TimeoutStopSec=15"""

BRIDGE_UNIT_TEXT = """[Unit]
Description=cctelegram-bridge (the mcpops reference CCTelegram bridge)
After=network.target
{limits}

[Service]
{common}
Environment=MCPOPS_SERVICE_LISTEN={address}:{bridge_port}
Environment=MCPOPS_SERVICE_STATE_DIR={bridge_state}
StateDirectory={bridge_state_name}
ExecStart=/usr/bin/python3 -m mcpops.lab.services cctelegram-bridge

[Install]
WantedBy=multi-user.target
"""

MCP_UNIT_TEXT = """[Unit]
Description=cctelegram-mcp (the mcpops reference CCTelegram MCP server)
After=network.target {bridge}.service
Wants={bridge}.service
{limits}

[Service]
{common}
Environment=MCPOPS_SERVICE_LISTEN={address}:{api_port}
Environment=MCPOPS_SERVICE_STATE_DIR={state}
Environment=CCTELEGRAM_API_KEY_FILE={etc}/api_key
Environment=CCTELEGRAM_BRIDGE_URL=http://{address}:{bridge_port}
Environment=CCTELEGRAM_METRICS_LISTEN={address}:{metrics_port}
Environment=CCTELEGRAM_LOG_DIR={logs}
StateDirectory={state_name}
LogsDirectory={logs_name}
ExecStart=/usr/bin/python3 -m mcpops.lab.services cctelegram-mcp

[Install]
WantedBy=multi-user.target
"""


def check(service):
    """service, or FleetError naming the services a fleet can run."""
    if service not in SERVICES:
        raise FleetError(f"--service {service!r}: a fleet runs one of {', '.join(SERVICES)}")
    return service


def unit_texts(address):
    """{unit file name: content} of a CCTelegram host on address."""
    fields = dict(address=address, api_port=API_PORT, metrics_port=METRICS_PORT, bridge_port=BRIDGE_PORT,
                  bridge=BRIDGE_UNIT, state=STATE_DIR, state_name=STATE_DIR.rsplit("/", 1)[1],
                  bridge_state=BRIDGE_STATE_DIR, bridge_state_name=BRIDGE_STATE_DIR.rsplit("/", 1)[1],
                  logs=LOG_DIR, logs_name=LOG_DIR.rsplit("/", 1)[1], etc=ETC, limits=_LIMITS, common=_COMMON)
    return {f"{BRIDGE_UNIT}.service": BRIDGE_UNIT_TEXT.format(**fields),
            f"{MCP_UNIT}.service": MCP_UNIT_TEXT.format(**fields)}


def prepare(host):
    """A CCTelegram host's files in the fleet's state dir: its unit files and its API key (kept once made)."""
    units = host.fleet_etc / "units"
    for d, mode in ((units, 0o755), (host.cctelegram_etc, 0o700)):
        d.mkdir(mode=mode, parents=True, exist_ok=True)
        os.chmod(d, mode)
    for name, text in unit_texts(host.address).items():
        atomic_write(units / name, text, 0o644)
    if not host.api_key_file.exists():
        atomic_write(host.api_key_file, "cctg_" + secrets.token_urlsafe(32) + "\n", 0o600)
    os.chmod(host.api_key_file, 0o600)


def nspawn_binds(host):
    if host.service in reference.SERVICES:
        return reference.nspawn_binds(host)
    return [f"--bind={host.cctelegram_etc}:{ETC}"]


def health(host, api_key=None, timeout=3.0):
    """(status, parsed JSON or None) of GET /health on host's cctelegram-mcp; status None when nothing answered.
    With api_key None, the host's own key; with api_key "", no X-API-Key header at all."""
    key = host.api_key() if api_key is None else api_key
    req = urllib.request.Request(host.api_url + "/health")
    if key:
        req.add_header("X-API-Key", key)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    try:
        with opener.open(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return None, None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def wait_health(host, wanted, timeout=WAIT):
    """Poll /health (with the key) until its status is in wanted; returns the last status."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = health(host)[0]
        if status in wanted:
            return status
        time.sleep(0.3)
    return status


def activate(host, pid, restart=False):
    """After a boot, and at every `up` of a running host: the 1C gateway disabled and stopped; the lab's faults
    cleared (crash-loop drop-in, faults.json); both units linked, enabled and started (not waited for). A host of
    lego-mcp, loyalty-api or connector-mcp: reference_services.activate."""
    if host.service in reference.SERVICES:
        return reference.activate(host, pid, restart=restart)
    units = [f"{UNITS_DIR}/{BRIDGE_UNIT}.service", f"{UNITS_DIR}/{MCP_UNIT}.service"]
    host.run(pid, ["systemctl", "disable", "--now", "--no-block", f"{image.SERVICE_NAME}.service"], check=False)
    host.run(pid, ["rm", "-f", CRASH_LOOP_DROPIN, f"{STATE_DIR}/faults.json", f"{BRIDGE_STATE_DIR}/faults.json"])
    host.run(pid, ["systemctl", "daemon-reload"])  # a removed drop-in
    host.run(pid, ["systemctl", "enable", *units])  # links them into /etc/systemd/system, enables them
    host.run(pid, ["systemctl", "reset-failed", f"{BRIDGE_UNIT}.service", f"{MCP_UNIT}.service"], check=False)
    host.run(pid, ["systemctl", "start", "--no-block", f"{BRIDGE_UNIT}.service", f"{MCP_UNIT}.service"])


# ---------------------------------------------------------------------------------------------------- faults
# Each gets the FleetLab and the host (a running one), applies the fault inside the host, and returns one line.

_SET_FAULT = """
import json, os, sys
path = sys.argv[1] + "/faults.json"
os.makedirs(sys.argv[1], exist_ok=True)
try:
    faults = json.load(open(path))
    faults = faults if isinstance(faults, dict) else {}
except (OSError, ValueError):
    faults = {}
faults["unhealthy"] = sys.argv[2] == "true"
with open(path + ".tmp", "w") as fh:
    json.dump(faults, fh)
os.replace(path + ".tmp", path)
print(path)
"""


def _running_pid(fleet, host):
    pid = fleet.pid(host)
    if not pid:
        raise FleetError(f"{host.name} is not running; `mcpops fleet up` first")
    return pid


def _set_unhealthy(fleet, host, value):
    pid = _running_pid(fleet, host)
    path = host.run(pid, ["python3", "-c", _SET_FAULT, STATE_DIR, "true" if value else "false"]).stdout.strip()
    status = wait_health(host, (503,) if value else (200,), timeout=10)
    return path, status


def unhealthy(fleet, host):
    path, status = _set_unhealthy(fleet, host, True)
    return f"unhealthy: {{\"unhealthy\": true}} in {host.name}:{path}; {host.api_url}/health answers {status}"


def healthy(fleet, host):
    path, status = _set_unhealthy(fleet, host, False)
    return f"healthy: {{\"unhealthy\": false}} in {host.name}:{path}; {host.api_url}/health answers {status}"


def bridge_down(fleet, host):
    pid = _running_pid(fleet, host)
    host.run(pid, ["systemctl", "stop", f"{BRIDGE_UNIT}.service"])
    status = wait_health(host, (503,), timeout=10)
    return (f"bridge-down: systemctl stop {BRIDGE_UNIT} on {host.name}; {MCP_UNIT} keeps running, "
            f"{host.api_url}/health answers {status} (a restart of {MCP_UNIT} starts the bridge again)")


def crash_loop(fleet, host):
    pid = _running_pid(fleet, host)
    dropin = (f"# mcpops fleet break {host.name} crash-loop: the key file is missing; `mcpops fleet up` removes this\n"
              f"[Service]\nEnvironment=CCTELEGRAM_API_KEY_FILE={MISSING_KEY_FILE}\n")
    host.run(pid, ["sh", "-c", 'mkdir -p "$1" && printf "%s" "$2" > "$3"', "sh", DROPIN_DIR, dropin,
                   CRASH_LOOP_DROPIN])
    host.run(pid, ["systemctl", "daemon-reload"])
    host.run(pid, ["systemctl", "reset-failed", f"{MCP_UNIT}.service"], check=False)
    host.run(pid, ["systemctl", "restart", "--no-block", f"{MCP_UNIT}.service"])
    state = host.wait_unit(pid, ("failed",), timeout=WAIT, unit=MCP_UNIT)
    return (f"crash-loop: {CRASH_LOOP_DROPIN} on {host.name} points {MCP_UNIT} at a missing key file; restarted, "
            f"it exited at every start until systemd gave up: {state['ActiveState']} ({state.get('Result')}, "
            f"{state.get('NRestarts')} restarts)")


def stop(fleet, host):
    pid = _running_pid(fleet, host)
    before = host.unit_state(pid, MCP_UNIT)
    host.run(pid, ["systemctl", "stop", f"{MCP_UNIT}.service"])
    return (f"stop: systemctl stop {MCP_UNIT} on {host.name} (was {before.get('ActiveState')}, "
            f"pid {before.get('MainPID')})")


FAULTS = {
    "unhealthy": unhealthy,
    "healthy": healthy,
    "bridge-down": bridge_down,
    "crash-loop": crash_loop,
    "stop": stop,
}
