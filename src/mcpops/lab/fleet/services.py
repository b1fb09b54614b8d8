"""What a fleet host serves: the 1C reference gateway (the default, baked into the image) or CCTelegram MCP
(`mcpops fleet up --service cctelegram-mcp`): the reference cctelegram-mcp and cctelegram-bridge
(`python3 -m mcpops.lab.services ...`) as two systemd units, and their faults; or one of lego-mcp, loyalty-api and
connector-mcp on the fleet's shared datastores (reference_services.py).

A CCTelegram host, on its own loopback address A:

    cctelegram-bridge.service   A:8091                 state /var/lib/cctelegram-bridge
    cctelegram-mcp.service      A:8080 (API, X-API-Key), A:9090 (metrics: X-API-Key or Bearer, for Prometheus)
                                runs /opt/cctelegram/releases/current/bin/cctelegram-mcp (cctelegram_releases.py)
                                state /var/lib/cctelegram (faults.json), logs /var/log/cctelegram
                                Wants= and After= the bridge: a restart of cctelegram-mcp starts a stopped bridge

With a Telegram Bot API stand-in (prepare's telegram_url and bot_token), the unit names its URL and the token's
0600 file /etc/cctelegram/bot_token; a standby host (prepare's standby=True: the marker file
fleet/cctelegram.standby) has its units installed but disabled and stopped, until a scale-up starts them.

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

from mcpops.lab.fleet import cctelegram_releases as releases, client_traffic, image, reference_services as reference
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
# wedged and memory-leak: what the fault put in faults.json goes at the next start (a restart clears the process's
# state, as a real one does)
RESTART_CLEARS_DROPIN = DROPIN_DIR + "/60-mcpops-restart-clears.conf"
MISSING_KEY_FILE = ETC + "/api_key.missing"  # the crash-loop fault points the unit here
BOT_TOKEN_FILE = ETC + "/bot_token"
STANDBY_MARKER = "cctelegram.standby"       # in host.fleet_etc: prepare(standby=True) writes it
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
{telegram}StateDirectory={state_name}
LogsDirectory={logs_name}
# The release's launcher (a sh script; run by sh, so a noexec state dir does not matter).
ExecStart=/bin/sh {releases}/current/{launcher}

[Install]
WantedBy=multi-user.target
"""


def check(service):
    """service, or FleetError naming the services a fleet can run."""
    if service not in SERVICES:
        raise FleetError(f"--service {service!r}: a fleet runs one of {', '.join(SERVICES)}")
    return service


def unit_texts(address, telegram_url=None):
    """{unit file name: content} of a CCTelegram host on address; with telegram_url, cctelegram-mcp sends through
    the Bot API stand-in there (its token in BOT_TOKEN_FILE, never in the unit)."""
    telegram = (f"Environment=CCTELEGRAM_TELEGRAM_API_URL={telegram_url}\n"
                f"Environment=CCTELEGRAM_BOT_TOKEN_FILE={BOT_TOKEN_FILE}\n") if telegram_url else ""
    fields = dict(address=address, api_port=API_PORT, metrics_port=METRICS_PORT, bridge_port=BRIDGE_PORT,
                  bridge=BRIDGE_UNIT, state=STATE_DIR, state_name=STATE_DIR.rsplit("/", 1)[1],
                  bridge_state=BRIDGE_STATE_DIR, bridge_state_name=BRIDGE_STATE_DIR.rsplit("/", 1)[1],
                  logs=LOG_DIR, logs_name=LOG_DIR.rsplit("/", 1)[1], etc=ETC, limits=_LIMITS, common=_COMMON,
                  telegram=telegram, releases=releases.RELEASES, launcher=releases.LAUNCHER)
    return {f"{BRIDGE_UNIT}.service": BRIDGE_UNIT_TEXT.format(**fields),
            f"{MCP_UNIT}.service": MCP_UNIT_TEXT.format(**fields)}


def opt_dir(host):
    """<fleet state dir>/hosts/<name>/opt-cctelegram: the host's /opt/cctelegram (its releases)."""
    return host.dir / "opt-cctelegram"


def releases_dir(host):
    return opt_dir(host) / "releases"


def bot_token_file(host):
    return host.cctelegram_etc / "bot_token"


def is_standby(host):
    """prepare(standby=True) made host a standby: activate installs its units but neither enables nor starts them."""
    return (host.fleet_etc / STANDBY_MARKER).exists()


def prepare(host, telegram_url=None, bot_token=None, standby=False, api_key=None):
    """A CCTelegram host's files in the fleet's state dir: its unit files, its API key (api_key: the fleet's one,
    which every instance behind the load balancer shares, as a real deployment's do; without it a key of its own,
    kept once made), its releases (cctelegram_releases.ensure: an existing `current` is never moved), the bot token
    (0600) when the fleet has a Telegram Bot API stand-in, and the standby marker."""
    if bool(telegram_url) != bool(bot_token):
        raise FleetError("prepare: telegram_url and bot_token go together (give both or neither)")
    units = host.fleet_etc / "units"
    for d, mode in ((units, 0o755), (host.cctelegram_etc, 0o700), (opt_dir(host), 0o755)):
        d.mkdir(mode=mode, parents=True, exist_ok=True)
        os.chmod(d, mode)
    for name, text in unit_texts(host.address, telegram_url).items():
        releases.write_if_changed(units / name, text, 0o644)  # a new mtime would restart the unit at `up`
    if api_key:
        releases.write_if_changed(host.api_key_file, api_key.strip() + "\n", 0o600)
    elif not host.api_key_file.exists():
        atomic_write(host.api_key_file, "cctg_" + secrets.token_urlsafe(32) + "\n", 0o600)
    os.chmod(host.api_key_file, 0o600)
    if bot_token:
        atomic_write(bot_token_file(host), bot_token.strip() + "\n", 0o600)
    else:  # no stand-in this time: no token left lying about
        bot_token_file(host).unlink(missing_ok=True)
    releases.ensure(releases_dir(host))
    marker = host.fleet_etc / STANDBY_MARKER
    if standby:
        atomic_write(marker, "standby: `mcpops fleet up` installs the units, disabled and stopped\n", 0o644)
    else:
        marker.unlink(missing_ok=True)


def nspawn_binds(host):
    if host.service in reference.SERVICES:
        return reference.nspawn_binds(host)
    return [f"--bind={host.cctelegram_etc}:{ETC}", f"--bind={opt_dir(host)}:{releases.OPT}"]


def request(host, path, port=API_PORT, method="GET", api_key=None, bearer=False, timeout=3.0, data=None):
    """(status, body bytes) of one request to host's cctelegram-mcp; status None when nothing answered. With api_key
    None, the host's own key; with "", no key at all; bearer sends it as `Authorization: Bearer` (Prometheus's way).
    A POST sends data (JSON), {} when None."""
    key = host.api_key() if api_key is None else api_key
    data = (data if data is not None else b"{}") if method == "POST" else None
    req = urllib.request.Request(f"http://{host.address}:{port}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if key:
        req.add_header(*(("Authorization", f"Bearer {key}") if bearer else ("X-API-Key", key)))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return None, None


def health(host, api_key=None, timeout=3.0):
    """(status, parsed JSON or None) of GET /health on host's cctelegram-mcp; status None when nothing answered.
    With api_key None, the host's own key; with api_key "", no X-API-Key header at all."""
    status, raw = request(host, "/health", api_key=api_key, timeout=timeout)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def metric(host, name, timeout=3.0):
    """The value of the unlabelled sample `name` on host's metrics listener (:9090, read with a Bearer key, as
    Prometheus does), or None."""
    status, raw = request(host, "/metrics", port=METRICS_PORT, bearer=True, timeout=timeout)
    if status != 200:
        return None
    for line in raw.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == name:
            return float(parts[1])
    return None


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
    cleared (crash-loop drop-in, faults.json, a bad release, a hung bridge, a leak); both units linked, enabled and
    started (not waited for), cctelegram-mcp restarted when a fault or a changed unit file needs it. A standby host:
    its units linked, disabled and stopped. A host of lego-mcp, loyalty-api or connector-mcp:
    reference_services.activate."""
    if host.service in reference.SERVICES:
        return reference.activate(host, pid, restart=restart)
    mcp, bridge = f"{MCP_UNIT}.service", f"{BRIDGE_UNIT}.service"
    units = [f"{UNITS_DIR}/{BRIDGE_UNIT}.service", f"{UNITS_DIR}/{MCP_UNIT}.service"]
    # What only a restart undoes: a unit file prepare rewrote (a new stand-in URL; asked before any enable or
    # disable, which reload systemd), leaked memory, a bad release.
    changed = _needs_reload(host, pid, mcp)
    leaked = "leak_mb" in host.run(pid, ["cat", f"{STATE_DIR}/faults.json"], check=False).stdout
    moved = releases.clear_bad(releases_dir(host))
    host.run(pid, ["systemctl", "disable", "--now", "--no-block", f"{image.SERVICE_NAME}.service"], check=False)
    _stop_client(host, pid)  # the steady client of server-errors, wedged, auth-failures
    host.run(pid, ["rm", "-f", CRASH_LOOP_DROPIN, RESTART_CLEARS_DROPIN, f"{STATE_DIR}/faults.json",
                   f"{BRIDGE_STATE_DIR}/faults.json"])
    host.run(pid, ["systemctl", "kill", "--signal=SIGCONT", bridge], check=False)  # bridge-hung; harmless else
    host.run(pid, ["systemctl", "daemon-reload"])  # a removed drop-in, a rewritten unit file
    if is_standby(host):
        # Stopped and disabled first (disable also drops a link), then linked: installed, not enabled.
        host.run(pid, ["systemctl", "disable", "--now", mcp, bridge], check=False)
        host.run(pid, ["systemctl", "link", *units])
        host.run(pid, ["systemctl", "reset-failed", bridge, mcp], check=False)
        return
    host.run(pid, ["systemctl", "enable", *units])  # links them into /etc/systemd/system, enables them
    host.run(pid, ["systemctl", "reset-failed", bridge, mcp], check=False)
    host.run(pid, ["systemctl", "start", "--no-block", bridge])
    host.run(pid, ["systemctl", "restart" if restart or leaked or changed or moved else "start", "--no-block", mcp])


def _needs_reload(host, pid, unit):
    """Whether the unit's file changed since systemd loaded it (before the daemon-reload that hides it)."""
    proc = host.run(pid, ["systemctl", "show", unit, "--property=NeedDaemonReload"], check=False)
    return proc.stdout.strip() == "NeedDaemonReload=yes"


# ---------------------------------------------------------------------------------------------------- faults
# Each gets the FleetLab and the host (a running one), applies the fault inside the host, and returns one line.

# Merges a JSON object into faults.json (the service reads it on every request), atomically.
_MERGE_FAULTS = """
import json, os, sys
path = sys.argv[1] + "/faults.json"
os.makedirs(sys.argv[1], exist_ok=True)
try:
    faults = json.load(open(path))
    faults = faults if isinstance(faults, dict) else {}
except (OSError, ValueError):
    faults = {}
faults.update(json.loads(sys.argv[2]))
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


def _merge_faults(host, pid, faults):
    """faults merged into the host's faults.json; its path."""
    return host.run(pid, ["python3", "-c", _MERGE_FAULTS, STATE_DIR, json.dumps(faults)]).stdout.strip()


def _set_unhealthy(fleet, host, value):
    pid = _running_pid(fleet, host)
    path = _merge_faults(host, pid, {"unhealthy": bool(value)})
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


def bad_release(fleet, host):
    """Deploy the bad release as release_link would (previous -> the old current, current -> 2.5.0), restart: its
    launcher exits 1 at every start until systemd gives up."""
    pid = _running_pid(fleet, host)
    before, after = releases.deploy(releases_dir(host), releases.BAD_VERSION)
    host.run(pid, ["systemctl", "reset-failed", f"{MCP_UNIT}.service"], check=False)
    host.run(pid, ["systemctl", "restart", "--no-block", f"{MCP_UNIT}.service"])
    state = host.wait_unit(pid, ("failed",), timeout=WAIT, unit=MCP_UNIT)
    return (f"bad-release: {releases.RELEASES}/current on {host.name} {before['current']} -> {after['current']} "
            f"(previous -> {after['previous']}) and restarted {MCP_UNIT}; it exits 1 at start: "
            f"{state['ActiveState']} ({state.get('Result')}, {state.get('NRestarts')} restarts)")


def bridge_hung(fleet, host):
    """SIGSTOP the bridge's main process: systemd still says active (running), its port still takes connections,
    nothing answers; cctelegram-mcp's bridge probe times out and /health answers 503."""
    pid = _running_pid(fleet, host)
    main_pid = host.unit_state(pid, BRIDGE_UNIT).get("MainPID", "0")
    if main_pid in ("", "0"):
        raise FleetError(f"{host.name}: {BRIDGE_UNIT} has no main process to hang (is it running?)")
    host.run(pid, ["kill", "-STOP", main_pid])
    status = wait_health(host, (503,), timeout=15)
    return (f"bridge-hung: SIGSTOP to {BRIDGE_UNIT}'s main pid {main_pid} on {host.name} (still active for "
            f"systemd); {host.api_url}/health answers {status} (`mcpops fleet up` sends SIGCONT)")


# 8 MB/s: MemoryLeakDetection's growth of over 100 MiB within the lab's 30 s window (mcpops.drill.alert_chain's
# LAB_RANGE), with room for a loaded machine's slower ticks
LEAK_MB_PER_SECOND = 8
LEAK_MAX_MB = 192
LEAK_SEEN_MB = 16  # the growth the fault waits to see before it says so


def _cleared_by_restart(host, pid, fault):
    """A runtime drop-in whose ExecStartPre removes faults.json at cctelegram-mcp's next start: the fault lives in the
    process, and a restart starts a clean one."""
    dropin = (f"# mcpops fleet break {host.name} {fault}: a restart clears it; `mcpops fleet up` removes this\n"
              f"[Service]\nExecStartPre=/bin/rm -f {STATE_DIR}/faults.json\n")
    host.run(pid, ["sh", "-c", 'mkdir -p "$1" && printf "%s" "$2" > "$3"', "sh", DROPIN_DIR, dropin,
                   RESTART_CLEARS_DROPIN])
    host.run(pid, ["systemctl", "daemon-reload"])


def memory_leak(fleet, host):
    """cctelegram-mcp's RSS grows LEAK_MB_PER_SECOND a second up to LEAK_MAX_MB more, kept until a restart (which
    starts a process that does not leak: _cleared_by_restart)."""
    pid = _running_pid(fleet, host)
    before = metric(host, "process_memory_bytes") or 0.0
    _cleared_by_restart(host, pid, "memory-leak")
    path = _merge_faults(host, pid, {"leak_mb_per_second": LEAK_MB_PER_SECOND, "leak_max_mb": LEAK_MAX_MB})
    deadline = time.monotonic() + 30
    rss = before
    while time.monotonic() < deadline and rss - before < LEAK_SEEN_MB * 1024 * 1024:
        time.sleep(0.5)
        rss = metric(host, "process_memory_bytes") or rss
    mb = 1024 * 1024
    return (f"memory-leak: {{\"leak_mb_per_second\": {LEAK_MB_PER_SECOND}, \"leak_max_mb\": {LEAK_MAX_MB}}} in "
            f"{host.name}:{path}; process_memory_bytes {before / mb:.0f} -> {rss / mb:.0f} MB and growing "
            f"(only a restart gives it back)")


ERROR_RATE = 0.5
ERROR_TYPE = "TelegramAPIError"
ERROR_PROBES = 20


def error_storm(fleet, host):
    """Half the /tools/* requests answer 500 with an ERROR line naming the error_type; the fault sends a few itself,
    so the log and the metrics show the storm at once."""
    pid = _running_pid(fleet, host)
    path = _merge_faults(host, pid, {"error_rate": ERROR_RATE, "error_type": ERROR_TYPE})
    statuses = [request(host, "/tools/get_bridge_status", method="POST")[0] for _ in range(ERROR_PROBES)]
    failed = statuses.count(500)
    return (f"error-storm: {{\"error_rate\": {ERROR_RATE}, \"error_type\": \"{ERROR_TYPE}\"}} in {host.name}:{path}; "
            f"{failed} of {ERROR_PROBES} requests to {host.api_url}/tools/get_bridge_status answered 500")


# Faults whose symptom shows only under traffic (the alerts of issue 21 count 5xx and refused requests): the host's own
# steady client (client_traffic.UNIT, a transient unit inside the host, RuntimeMaxSec-bounded) calls it.
SERVER_ERROR_TYPE = "TelegramConnectionError"
SERVER_ERRORS_RATE = 1    # 5xx a second: CctelegramServerErrors' share (over 5 %), and under ConsecutiveErrors' 50 in
                          # the lab's 30 s window (docs/alerting.md)
WEDGED_RATE = 3           # 5xx a second: over ConsecutiveErrors' 50 in the lab's window
WEDGED_PROBES = 20        # the wedged fault's own calls at once, as P1's default error threshold (20)
AUTH_FAILURES_RATE = 2    # refused requests a second: over CctelegramSecurityEvents' 20 in the lab's window
OFFENDER_SOURCE = "127.0.0.66"  # the auth-failures client's own address: the client_ip of its SECURITY lines

_DROP_FAULTS = """
import json, os, sys
path = sys.argv[1] + "/faults.json"
try:
    faults = json.load(open(path))
except (OSError, ValueError):
    faults = {}
faults = {k: v for k, v in (faults if isinstance(faults, dict) else {}).items() if k not in sys.argv[2:]}
with open(path + ".tmp", "w") as fh:
    json.dump(faults, fh)
os.replace(path + ".tmp", path)
"""


def _stop_client(host, pid):
    host.run(pid, ["systemctl", "stop", f"{client_traffic.UNIT}.service"], check=False)


def _start_client(host, pid, rate, path, method="GET", wrong_key=False, source=None):
    """The host's steady client started anew (client_traffic); the words that say what it does."""
    _stop_client(host, pid)
    argv = client_traffic.argv(f"http://{host.address}:{API_PORT}{path}", rate, method,
                               key_file=None if wrong_key else f"{ETC}/api_key", wrong_key=wrong_key, source=source)
    host.run(pid, client_traffic.systemd_run(argv, image.MCPOPS_SRC))
    host.wait_unit(pid, ("active",), timeout=15, unit=client_traffic.UNIT)
    who = f"a client with a wrong key from {source}" if wrong_key else "a client with the host's key"
    return (f"{who} calls {method} {path} {rate:g} times a second ({client_traffic.UNIT} on {host.name}, "
            f"{client_traffic.LIFETIME_SECONDS}s at most)")


def _drop_faults(host, pid, keys):
    host.run(pid, ["python3", "-c", _DROP_FAULTS, STATE_DIR, *keys])


def server_errors(fleet, host):
    """Every /tools/* request answers 500 (an ERROR line with SERVER_ERROR_TYPE) while the host's client calls one a
    second; /health and /metrics answer as before."""
    pid = _running_pid(fleet, host)
    path = _merge_faults(host, pid, {"error_rate": 1, "error_type": SERVER_ERROR_TYPE})
    client = _start_client(host, pid, SERVER_ERRORS_RATE, "/tools/get_bridge_status", "POST")
    status = request(host, "/tools/get_bridge_status", method="POST")[0]
    return (f"server-errors: {{\"error_rate\": 1, \"error_type\": \"{SERVER_ERROR_TYPE}\"}} in {host.name}:{path}; "
            f"{client}; POST /tools/get_bridge_status answers {status}")


def wedged(fleet, host):
    """The process is wedged: every /tools/* request answers 500 (TelegramAPIError) while the host's client calls three
    a second, until the process restarts. The lab's stand-in for a state only a restart clears (a stuck connection
    pool): _cleared_by_restart."""
    pid = _running_pid(fleet, host)
    _cleared_by_restart(host, pid, "wedged")
    path = _merge_faults(host, pid, {"error_rate": 1, "error_type": ERROR_TYPE})
    client = _start_client(host, pid, WEDGED_RATE, "/tools/get_bridge_status", "POST")
    # as many at once as P1's default error threshold: its investigation right after the fault names the host
    failed = [request(host, "/tools/get_bridge_status", method="POST")[0] for _ in range(WEDGED_PROBES)].count(500)
    return (f"wedged: {{\"error_rate\": 1, \"error_type\": \"{ERROR_TYPE}\"}} in {host.name}:{path} until "
            f"{MCP_UNIT} restarts ({RESTART_CLEARS_DROPIN}); {client}; {failed} of {WEDGED_PROBES} probes answered "
            "500")


def auth_failures(fleet, host):
    """A client with a stale API key calls /health twice a second from OFFENDER_SOURCE: each request 401 and a SECURITY
    line in security.log (cctelegram_security_events_total{event="SECURITY"})."""
    pid = _running_pid(fleet, host)
    client = _start_client(host, pid, AUTH_FAILURES_RATE, "/health", wrong_key=True, source=OFFENDER_SOURCE)
    return f"auth-failures: {client}; each answered 401 (a SECURITY line in {LOG_DIR}/security.log)"


# What undoes a fault without `mcpops fleet up` (a drill that repairs its own fault: an alert drill of a read-only
# runbook, or after a denial); each returns one line.

def _undo_storm(fleet, host, fault, dropin=None):
    pid = _running_pid(fleet, host)
    _stop_client(host, pid)
    _drop_faults(host, pid, ("error_rate", "error_type"))
    if dropin:
        host.run(pid, ["rm", "-f", dropin])
        host.run(pid, ["systemctl", "daemon-reload"])
    status = request(host, "/tools/get_bridge_status", method="POST")[0]
    return (f"{fault} undone on {host.name}: {client_traffic.UNIT} stopped, the error storm out of faults.json; "
            f"POST /tools/get_bridge_status answers {status}")


def repair_auth_failures(fleet, host):
    _stop_client(host, _running_pid(fleet, host))
    return f"auth-failures undone on {host.name}: {client_traffic.UNIT} (the client with the wrong key) stopped"


def repair_memory_leak(fleet, host):
    """The leak out of faults.json, then a restart: only a restart gives the memory back."""
    pid = _running_pid(fleet, host)
    _drop_faults(host, pid, ("leak_mb_per_second", "leak_max_mb"))
    host.run(pid, ["rm", "-f", RESTART_CLEARS_DROPIN])
    host.run(pid, ["systemctl", "daemon-reload"])
    host.run(pid, ["systemctl", "restart", f"{MCP_UNIT}.service"], timeout=WAIT)
    return f"memory-leak undone on {host.name}: {MCP_UNIT} restarted; /health {wait_health(host, (200,))}"


REPAIRS = {
    "server-errors": lambda fleet, host: _undo_storm(fleet, host, "server-errors"),
    "wedged": lambda fleet, host: _undo_storm(fleet, host, "wedged", RESTART_CLEARS_DROPIN),
    "auth-failures": repair_auth_failures,
    "memory-leak": repair_memory_leak,
}


FAULTS = {
    "unhealthy": unhealthy,
    "healthy": healthy,
    "bridge-down": bridge_down,
    "crash-loop": crash_loop,
    "stop": stop,
    "bad-release": bad_release,
    "bridge-hung": bridge_hung,
    "memory-leak": memory_leak,
    "error-storm": error_storm,
    "server-errors": server_errors,
    "wedged": wedged,
    "auth-failures": auth_failures,
}
