"""lego-mcp, loyalty-api and connector-mcp on fleet hosts (`mcpops fleet up --service <name>`): the reference service
(`python3 -m mcpops.lab.services <name>`, mcpops.lab.services) as one systemd unit a host, on the fleet's shared
datastores, and its faults.

A host on its own loopback address A, with the unit, port and log the service's profile names:

    lego-mcp        lego-mcp-dashboard.service     A:8000   /var/log/lego-mcp/lego-mcp.log (its stdout, text)
    loyalty-api     loyalty-api.service            A:3000   /var/log/loyalty-api/loyalty-api.log (its stdout, JSON)
    connector-mcp   connectormcp-backend.service   A:8000   /var/log/connectormcp/app.log (CONNECTOR_LOG, JSON)

    state (faults.json)   /var/lib/<service>            StateDirectory=, on the host's volatile overlay
    secrets               /etc/<service> (read-only)    <fleet state dir>/hosts/<name>/etc-<service>/ (0700):
                          <service>.env (0600)          DATABASE_URL (with the password) and REDIS_URL: the unit's
                                                        EnvironmentFile=, never the unit itself
                          metrics_token (0600)          loyalty-api: named by METRICS_TOKEN_FILE, each host its own
    logs                  /var/log/<log dir>            <fleet state dir>/hosts/<name>/log-<service>/ (0750), a
                                                        bind mount (it exists before systemd opens the unit's
                                                        StandardOutput=append: file, which LogsDirectory= would not)

The datastores are not in the hosts: the fleet lab runs one set a fleet on this machine, on 127.0.0.1 (the hosts
share its network), shared by every host as a real deployment shares its database (lab.py, fleet.json's
"datastores"): lego-mcp PostgreSQL; loyalty-api PostgreSQL and Redis; connector-mcp MariaDB and Redis.

As for CCTelegram (services.py), nothing of it is in the image but the datastore clients (python3-psycopg,
python3-pymysql): the unit file is written per host into <fleet state dir>/hosts/<name>/fleet/units/ and, after
each boot, `systemctl enable`d; the 1C gateway unit is disabled and stopped.
"""

import time
from dataclasses import dataclass

from mcpops.lab.fleet import image
from mcpops.lab.fleet.errors import FleetError
from mcpops.lab.gateway.fsutil import atomic_write
from mcpops.lab.http_client import http_json
from mcpops.lab.local.service_catalog import MYSQL, POSTGRES, REDIS, SERVICES as CATALOG

LEGO = "lego-mcp"
LOYALTY = "loyalty-api"
CONNECTOR = "connector-mcp"
SERVICES = (LEGO, LOYALTY, CONNECTOR)
UNITS_DIR = image.FLEET_ETC + "/units"
WAIT = 60.0
URL_VARS = {POSTGRES: "DATABASE_URL", MYSQL: "DATABASE_URL", REDIS: "REDIS_URL"}  # datastore kind -> its variable


@dataclass(frozen=True)
class Layout:
    service: str
    unit: str  # the profile's runtime.unit
    port: int  # the profile's api.default_url port
    log_dir: str  # inside the host
    log_name: str

    @property
    def etc(self):
        return f"/etc/{self.service}"

    @property
    def state_dir(self):
        return f"/var/lib/{self.service}"

    @property
    def env_file(self):
        return f"{self.etc}/{self.service}.env"

    @property
    def log_path(self):
        return f"{self.log_dir}/{self.log_name}"

    @property
    def dropin_dir(self):
        return f"/run/systemd/system/{self.unit}.service.d"  # runtime: gone at the next boot

    @property
    def crash_loop_dropin(self):
        return self.dropin_dir + "/50-mcpops-crash-loop.conf"

    @property
    def spec(self):
        """The local lab's catalog entry: datastores, secrets, liveness / readiness / deep checks (as the profile)."""
        return CATALOG[self.service]


LAYOUT = {
    LEGO: Layout(LEGO, "lego-mcp-dashboard", 8000, "/var/log/lego-mcp", "lego-mcp.log"),
    LOYALTY: Layout(LOYALTY, "loyalty-api", 3000, "/var/log/loyalty-api", "loyalty-api.log"),
    CONNECTOR: Layout(CONNECTOR, "connectormcp-backend", 8000, "/var/log/connectormcp", "app.log"),
}
UNIT = {s: LAYOUT[s].unit for s in SERVICES}
PORT = {s: LAYOUT[s].port for s in SERVICES}

# Restart and start limits as the gateway's and cctelegram-mcp's units: a crash loop ends in "failed" after 3 starts.
_UNIT_TEXT = """[Unit]
Description={unit} (the mcpops reference {service})
After=network.target
StartLimitIntervalSec=30
StartLimitBurst=3

[Service]
Type=simple
Environment=PYTHONPATH={src} PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
Restart=on-failure
RestartSec=1
TimeoutStopSec=15
Environment=MCPOPS_SERVICE_LISTEN={address}:{port}
Environment=MCPOPS_SERVICE_STATE_DIR={state}
{environment}# DATABASE_URL (it carries the password) and REDIS_URL: a 0600 file, never this unit.
EnvironmentFile={env_file}
StateDirectory={state_name}
{output}StandardError=journal
ExecStart=/usr/bin/python3 -m mcpops.lab.services {service}

[Install]
WantedBy=multi-user.target
"""


def layout(service):
    return LAYOUT[service]


def datastore_kinds(service):
    """The datastore kinds service runs on (none for the 1C gateway and cctelegram-mcp)."""
    return tuple(d.kind for d in LAYOUT[service].spec.datastores) if service in LAYOUT else ()


# ---------------------------------------------------------------------------------------------- host files

def etc_dir(host):
    """<fleet state dir>/hosts/<name>/etc-<service>: bind-mounted read-only at /etc/<service>."""
    return host.dir / f"etc-{host.service}"


def log_dir(host):
    """<fleet state dir>/hosts/<name>/log-<service>: bind-mounted at the service's log dir."""
    return host.dir / f"log-{host.service}"


def env_file(host):
    return etc_dir(host) / f"{host.service}.env"


def secret_file(host, name):
    """A per-host secret of the service (loyalty-api's metrics_token), 0600 in etc_dir(host)."""
    return etc_dir(host) / name


def host_secrets(service):
    """The catalog's secrets of service that each host holds (the db password is the fleet's, lab.py)."""
    return tuple(s for s in LAYOUT[service].spec.secrets if s.name != "db_password")


def unit_text(service, address):
    lay = LAYOUT[service]
    environment = ""
    if service == LOYALTY:
        environment = (f"Environment=METRICS_TOKEN_FILE={lay.etc}/metrics_token\n"
                       "Environment=MAINTENANCE_MODE=0 READ_ONLY_MODE=0\n")
    if service == CONNECTOR:
        environment = f"Environment=CONNECTOR_LOG={lay.log_path}\n"
        output = ""
    else:
        output = f"StandardOutput=append:{lay.log_path}\n"
    return _UNIT_TEXT.format(unit=lay.unit, service=service, src=image.MCPOPS_SRC, address=address,
                             port=lay.port, state=lay.state_dir, state_name=lay.state_dir.rsplit("/", 1)[1],
                             environment=environment, env_file=lay.env_file, output=output)


def prepare(host, new_secret):
    """A host's unit file, its etc and log dirs, and its own secrets (made once with new_secret(), then kept)."""
    units = host.fleet_etc / "units"
    for d, mode in ((units, 0o755), (etc_dir(host), 0o700), (log_dir(host), 0o750)):
        d.mkdir(mode=mode, parents=True, exist_ok=True)
        d.chmod(mode)
    atomic_write(units / f"{LAYOUT[host.service].unit}.service", unit_text(host.service, host.address), 0o644)
    for secret in host_secrets(host.service):
        path = secret_file(host, secret.name)
        if not path.exists():
            atomic_write(path, new_secret() + "\n", 0o600)
        path.chmod(0o600)


def write_env(host, env):
    """The unit's EnvironmentFile (0600): the datastore URLs, passwords in them."""
    text = "".join(f"{k}={v}\n" for k, v in sorted(env.items()))
    path = env_file(host)
    if not path.exists() or path.read_text() != text:
        atomic_write(path, text, 0o600)
    path.chmod(0o600)


def nspawn_binds(host):
    lay = LAYOUT[host.service]
    return [f"--bind-ro={etc_dir(host)}:{lay.etc}", f"--bind={log_dir(host)}:{lay.log_dir}"]


def activate(host, pid, restart=False):
    """After a boot, and at every `up` of a running host: the 1C gateway disabled and stopped; the lab's faults
    cleared (crash-loop drop-in, faults.json); the unit linked, enabled and started (restarted: its environment
    changed), not waited for."""
    lay = LAYOUT[host.service]
    unit = f"{lay.unit}.service"
    host.run(pid, ["systemctl", "disable", "--now", "--no-block", f"{image.SERVICE_NAME}.service"], check=False)
    host.run(pid, ["rm", "-f", lay.crash_loop_dropin, f"{lay.state_dir}/faults.json"])
    host.run(pid, ["systemctl", "daemon-reload"])  # a removed drop-in
    host.run(pid, ["systemctl", "enable", f"{UNITS_DIR}/{unit}"])
    host.run(pid, ["systemctl", "reset-failed", unit], check=False)
    host.run(pid, ["systemctl", "restart" if restart else "start", "--no-block", unit])


# ---------------------------------------------------------------------------------------------- checks

def check(host, role, timeout=3.0):
    """(status, JSON body) of the host's liveness, readiness or deep check (the profile's path; no auth)."""
    return http_json(host.api_url + LAYOUT[host.service].spec.checks[role].path, timeout=timeout)


def passes(host, role, answer):
    return LAYOUT[host.service].spec.checks[role].passes(*answer)


def health_status(host, timeout=3.0):
    """The liveness check's status unless it is 200, else the readiness check's (200: both answer 200)."""
    status = check(host, "liveness", timeout)[0]
    return check(host, "readiness", timeout)[0] if status == 200 else status


def health_paths(service):
    spec = LAYOUT[service].spec
    return spec.liveness.path if spec.liveness.path == spec.readiness.path else \
        f"{spec.liveness.path} and {spec.readiness.path}"


def _poll(fn, done, timeout=WAIT, interval=0.3):
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if done(result) or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def _said(host, role, answer):
    status, body = answer
    text = "no answer" if status is None else f"{status} {_json(body)}"
    return f"{LAYOUT[host.service].spec.checks[role].path} answers {text}"


def _json(body):
    import json

    return json.dumps(body, sort_keys=True)[:300]


def _checks_said(host):
    answers = {}
    for role in ("liveness", "readiness"):
        path = LAYOUT[host.service].spec.checks[role].path
        if path not in answers:
            answers[path] = check(host, role)[0]
    return ", ".join(f"{path} {status}" for path, status in answers.items())


# ---------------------------------------------------------------------------------------------- faults
# Each gets the FleetLab and the host (a running one), applies the fault, and returns one line. The datastore faults
# act on the fleet's shared datastores (FleetLab.stop_datastore / start_datastores): every host of the fleet sees them.

_WRITE_FAULTS = """
import json, os, sys
path = os.path.join(sys.argv[1], "faults.json")
if sys.argv[2] == "remove":
    existed = os.path.exists(path)
    if existed:
        os.unlink(path)
    print(path if existed else "")
    sys.exit(0)
os.makedirs(sys.argv[1], exist_ok=True)
with open(path + ".tmp", "w") as fh:
    fh.write(sys.argv[2])
os.replace(path + ".tmp", path)
print(path)
"""


def _running_pid(fleet, host):
    pid = fleet.pid(host)
    if not pid:
        raise FleetError(f"{host.name} is not running; `mcpops fleet up` first")
    return pid


def unhealthy(fleet, host):
    pid = _running_pid(fleet, host)
    lay = LAYOUT[host.service]
    faults = '{"unhealthy": true, "reason": "mcpops fleet break unhealthy"}'
    path = host.run(pid, ["python3", "-c", _WRITE_FAULTS, lay.state_dir, faults]).stdout.strip()
    _poll(lambda: check(host, "readiness")[0], lambda status: status == 503, timeout=10)
    return f"unhealthy: {faults} in {host.name}:{path}; now {_checks_said(host)}"


def healthy(fleet, host):
    """Undo every fault of the host, start the fleet's shared datastores that are down, wait for health."""
    pid = _running_pid(fleet, host)
    lay = LAYOUT[host.service]
    unit = f"{lay.unit}.service"
    did = []
    removed = host.run(pid, ["python3", "-c", _WRITE_FAULTS, lay.state_dir, "remove"]).stdout.strip()
    if removed:
        did.append(f"removed {host.name}:{removed}")
    if host.run(pid, ["test", "-e", lay.crash_loop_dropin], check=False).returncode == 0:
        host.run(pid, ["rm", "-f", lay.crash_loop_dropin])
        host.run(pid, ["systemctl", "daemon-reload"])
        did.append(f"removed {host.name}:{lay.crash_loop_dropin}")
    for kind, started in fleet.start_datastores().items():
        did.append(f"started the fleet's shared {kind} again (pid {started}; every host of the fleet uses it)")
    state = host.unit_state(pid, lay.unit).get("ActiveState")
    if state not in ("active", "activating", "reloading"):
        host.run(pid, ["systemctl", "reset-failed", unit], check=False)
        host.run(pid, ["systemctl", "start", unit], timeout=WAIT)
        did.append(f"started {lay.unit} (was {state})")
    _poll(lambda: health_status(host), lambda status: status == 200)
    return f"healthy: {'; '.join(did) or 'no fault was set'}; now {_checks_said(host)}"


def stop(fleet, host):
    pid = _running_pid(fleet, host)
    unit = LAYOUT[host.service].unit
    before = host.unit_state(pid, unit)
    host.run(pid, ["systemctl", "stop", f"{unit}.service"])
    return (f"stop: systemctl stop {unit} on {host.name} (was {before.get('ActiveState')}, "
            f"pid {before.get('MainPID')})")


def crash_loop(fleet, host):
    pid = _running_pid(fleet, host)
    lay = LAYOUT[host.service]
    dropin = (f"# mcpops fleet break {host.name} crash-loop: the environment file is no longer read; `mcpops fleet up`"
              f" or `mcpops fleet break {host.name} healthy` removes this\n[Service]\nEnvironmentFile=\n")
    host.run(pid, ["sh", "-c", 'mkdir -p "$1" && printf "%s" "$2" > "$3"', "sh", lay.dropin_dir, dropin,
                   lay.crash_loop_dropin])
    host.run(pid, ["systemctl", "daemon-reload"])
    host.run(pid, ["systemctl", "reset-failed", f"{lay.unit}.service"], check=False)
    host.run(pid, ["systemctl", "restart", "--no-block", f"{lay.unit}.service"])
    state = host.wait_unit(pid, ("failed",), timeout=WAIT, unit=lay.unit)
    return (f"crash-loop: {lay.crash_loop_dropin} on {host.name} empties {lay.unit}'s EnvironmentFile= (no "
            f"DATABASE_URL); restarted, it exited 2 at every start until systemd gave up: {state['ActiveState']} "
            f"({state.get('Result')}, {state.get('NRestarts')} restarts)")


def _datastore_down(fault, kinds):
    def down(fleet, host):
        _running_pid(fleet, host)
        did = []
        for kind in kinds:
            if kind not in datastore_kinds(host.service):
                continue
            record = fleet.datastore_records()[kind]
            stopped = fleet.stop_datastore(kind)
            did.append(f"stopped the fleet's shared {kind} (pid {stopped}, 127.0.0.1:{record['port']})" if stopped
                       else f"the fleet's shared {kind} was not running")
        answer = _poll(lambda: check(host, "deep"), lambda a: not passes(host, "deep", a), timeout=15)
        return (f"{fault}: {'; '.join(did)}: every host of the fleet loses it; on {host.name} "
                f"{_said(host, 'deep', answer)}")
    return down


db_down = _datastore_down("db-down", (POSTGRES, MYSQL))
redis_down = _datastore_down("redis-down", (REDIS,))


def datastores_up(fleet, host):
    _running_pid(fleet, host)
    started = fleet.start_datastores()
    did = "; ".join(f"started the fleet's shared {kind} again (pid {pid})" for kind, pid in started.items()) or \
        "every shared datastore of the fleet was running"
    answer = _poll(lambda: check(host, "deep"), lambda a: passes(host, "deep", a))
    return f"datastores-up: {did} (every host of the fleet uses them); on {host.name} {_said(host, 'deep', answer)}"


def faults(service):
    """{fault: fn} of a host running service (beside the host faults, faults.py)."""
    table = {"unhealthy": unhealthy, "healthy": healthy, "stop": stop, "crash-loop": crash_loop}
    kinds = datastore_kinds(service)
    if POSTGRES in kinds or MYSQL in kinds:
        table["db-down"] = db_down
    if REDIS in kinds:
        table["redis-down"] = redis_down
    table["datastores-up"] = datastores_up
    return table
