"""Faults for one fleet host (`mcpops fleet break HOST FAULT`), applied inside the host.

Host faults: `unreachable` stops the host's sshd and ends its open ssh sessions (the gateway keeps
running), `poweroff` shuts the host down. Data and service faults are the local lab's, done the systemd
way inside the host: the store faults rewrite a file in the data dir and restart the unit, which then
crash-loops until systemd gives up ("failed"), the crash loop INC-001 and INC-003 start from; `index-job`
starts a long index.discover job, which a restart must not cut short.

A fleet booted with `--service cctelegram-mcp` has CCTelegram's faults instead (services.FAULTS: unhealthy,
healthy, bridge-down, crash-loop, stop) beside the host faults; one booted with `--service lego-mcp|loyalty-api|
connector-mcp` has that service's (reference_services.faults: unhealthy, healthy, stop, crash-loop, and db-down,
redis-down, datastores-up on the fleet's shared datastores, which every host of the fleet uses).
"""

import time

from mcpops.lab.fleet import image, reference_services as reference, services
from mcpops.lab.fleet.errors import FleetError, UnknownFault
from mcpops.lab.fleet.host import HostError
from mcpops.lab.gateway.fsutil import atomic_write
from mcpops.lab.http_client import http_json
from mcpops.lab.local import faults as lab_faults

UNIT = image.SERVICE_NAME
WAIT = 60.0
# Python run by the host's own python3: a local-lab fault's file edit, on the host's data dir.
_CORRUPT_STORE = f"""
import os
path = "{image.GATEWAY_DATA}/tokens.json"
with open(path + ".fault", "w") as fh:
    fh.write('{{"tokens": [ {{"id": "tok_broken", \\n')
os.chmod(path + ".fault", 0o600)
os.replace(path + ".fault", path)
print(path)
"""
_BAD_MIGRATION = f"""
import json, os
path = "{image.GATEWAY_DATA}/storage-meta.json"
try:
    meta = json.load(open(path))
    meta = meta if isinstance(meta, dict) else {{}}
except (OSError, ValueError):
    meta = {{}}
applied = list(meta.get("appliedMigrations") or ["001_init", "002_tokens_org", "003_rate_limits"])
if "099_future" not in applied:
    applied.append("099_future")
meta.update(schemaVersion=99, appliedMigrations=applied)
with open(path + ".fault", "w") as fh:
    json.dump(meta, fh)
os.replace(path + ".fault", path)
print(path)
"""


def _running_pid(fleet, host):
    pid = fleet.pid(host)
    if not pid:
        raise FleetError(f"{host.name} is not running; `mcpops fleet up` first")
    return pid


def _restart_into_crash_loop(host, pid):
    host.run(pid, ["systemctl", "reset-failed", UNIT], check=False)
    host.run(pid, ["systemctl", "restart", "--no-block", UNIT])
    state = host.wait_unit(pid, ("failed",), timeout=WAIT)
    return f"{state['ActiveState']} ({state.get('Result')})"


def _store_fault(script, what):
    def fault(fleet, host):
        pid = _running_pid(fleet, host)
        path = host.run(pid, ["python3", "-c", script]).stdout.strip()
        state = _restart_into_crash_loop(host, pid)
        return f"{what} in {host.name}:{path} and restarted {UNIT}; now {state}"
    return fault


corrupt_store = _store_fault(_CORRUPT_STORE, "corrupt-store: wrote invalid JSON")
bad_migration = _store_fault(_BAD_MIGRATION, "bad-migration: set schemaVersion 99 and appliedMigrations += 099_future")


def stop(fleet, host):
    pid = _running_pid(fleet, host)
    before = host.unit_state(pid)
    host.run(pid, ["systemctl", "stop", UNIT])
    return f"stop: systemctl stop {UNIT} on {host.name} (was {before.get('ActiveState')}, pid {before.get('MainPID')})"


def crash(fleet, host):
    pid = _running_pid(fleet, host)
    before = host.unit_state(pid)
    if before.get("ActiveState") != "active" or before.get("MainPID") in (None, "0"):
        raise FleetError(f"crash: {UNIT} on {host.name} is {before.get('ActiveState')}; nothing to crash")
    # The main process only: signalling the whole control group fails (EIO) on a host whose cgroup
    # hierarchy nspawn could not delegate (a hybrid one), and the gateway is a single process anyway.
    host.run(pid, ["systemctl", "kill", "--kill-whom=main", "--signal=KILL", UNIT])
    # Restart=on-failure brings it back: wait for a new main PID that answers /healthz.
    deadline = time.monotonic() + WAIT
    state = before
    while time.monotonic() < deadline:
        state = host.unit_state(pid)
        if state.get("ActiveState") == "active" and state.get("MainPID") not in ("0", before["MainPID"]):
            if http_json(host.api_url + "/healthz", timeout=2)[0] == 200:
                return (f"crash: SIGKILL to {UNIT} pid {before['MainPID']} on {host.name}; systemd restarted it "
                        f"as pid {state['MainPID']}, healthy")
        time.sleep(0.5)
    return f"crash: SIGKILL to {UNIT} pid {before['MainPID']} on {host.name}; now {state.get('ActiveState')}"


# Run inside the host after sshd stopped: the sessions it had forked (sshd, or sshd-session on newer OpenSSH) live
# on, and an ssh master that ControlPersist keeps on the controller would still reach the host through them.
_END_SSH_SESSIONS = """
import os, signal
ended = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open("/proc/%s/comm" % pid) as fh:
            if fh.read().strip().startswith("sshd"):
                os.kill(int(pid), signal.SIGTERM)
                ended += 1
    except OSError:
        pass
print(ended)
"""


RELEASE_NAME = "index-job.release"


def index_job(fleet, host, seconds=None):
    """A long index.discover job, as the local lab's index-job fault: the host's gateway env file (bind-mounted from
    the fleet's state dir) gets ONEC_MCP_DISCOVER_SECONDS, the unit restarts to read it, a job starts over the API."""
    pid = _running_pid(fleet, host)
    seconds = int(seconds or lab_faults.INDEX_JOB_SECONDS)
    env_file = host.gateway_etc / "gateway.env"
    (host.gateway_etc / RELEASE_NAME).unlink(missing_ok=True)
    lab_faults.set_env_line(env_file, lab_faults.DISCOVER_KEY, seconds)
    # the job also ends once release_index_job makes this file (in the bind-mounted etc dir the host sees)
    lab_faults.set_env_line(env_file, lab_faults.RELEASE_KEY, f"{image.GATEWAY_ETC}/{RELEASE_NAME}")
    host.run(pid, ["systemctl", "restart", UNIT], timeout=WAIT)
    deadline = time.monotonic() + WAIT
    while http_json(host.api_url + "/readyz", timeout=2)[0] != 200:
        if time.monotonic() > deadline:
            raise FleetError(f"index-job: {UNIT} on {host.name} not ready within {WAIT:.0f}s after its restart")
        time.sleep(0.5)
    status, answer = http_json(host.api_url + "/api/system/index/discover", method="POST", token=host.admin_token(),
                               body={}, timeout=30)
    if status not in (200, 201, 202) or not isinstance(answer, dict) or "job" not in answer:
        raise FleetError(f"index-job: POST /api/system/index/discover on {host.name} answered {status}")
    return (f"index-job: started index.discover job {answer['job']['id']} on {host.name} that runs {seconds}s "
            f"({lab_faults.DISCOVER_KEY} in {env_file})")


def release_index_job(fleet, host):
    """End the index-job fault's job on host now (its gateway polls for the release file)."""
    atomic_write(host.gateway_etc / RELEASE_NAME, "released\n", 0o600)


def unreachable(fleet, host):
    pid = _running_pid(fleet, host)
    host.run(pid, ["systemctl", "stop", "ssh.service"])
    ended = host.run(pid, ["python3", "-c", _END_SSH_SESSIONS]).stdout.strip()
    return (f"unreachable: stopped sshd on {host.name} ({host.address}:22) and ended its {ended} open ssh "
            f"session(s); its gateway keeps running")


def poweroff(fleet, host):
    pid = _running_pid(fleet, host)
    host.stop(pid)
    fleet.record_pid(host, None)
    return f"poweroff: {host.name} shut down (systemd-nspawn pid {pid}); `mcpops fleet up` boots it again"


_FAULTS = {
    "unreachable": unreachable,
    "poweroff": poweroff,
    "corrupt-store": corrupt_store,
    "bad-migration": bad_migration,
    "stop": stop,
    "crash": crash,
    "index-job": index_job,
}
FAULTS = tuple(_FAULTS)
_CCTELEGRAM_FAULTS = {"unreachable": unreachable, "poweroff": poweroff, **services.FAULTS}
CCTELEGRAM_FAULTS = tuple(_CCTELEGRAM_FAULTS)
_REFERENCE_FAULTS = {service: {"unreachable": unreachable, "poweroff": poweroff, **reference.faults(service)}
                     for service in reference.SERVICES}
REFERENCE_FAULTS = {service: tuple(table) for service, table in _REFERENCE_FAULTS.items()}


def _table(service):
    if service == services.CCTELEGRAM:
        return _CCTELEGRAM_FAULTS
    return _REFERENCE_FAULTS.get(service, _FAULTS)


def faults_for(service):
    """The faults of a fleet that runs service."""
    return tuple(_table(service))


def inject(fleet, host, fault):
    table = _table(host.service)
    fn = table.get(fault)
    if fn is None:
        of = f" of a {host.service} fleet" if table is not _FAULTS else ""
        raise UnknownFault(f"unknown fault {fault!r}; faults{of}: {', '.join(table)}")
    try:
        return fn(fleet, host)
    except HostError as exc:
        raise FleetError(f"{fault} on {host.name}: {exc}") from exc

