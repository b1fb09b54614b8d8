"""What the fleet tests share: a playbook or `mcpops run` on a fleet, a host's gateway unit as its own systemd
sees it (read over ssh or nsenter, so that "restarted" and "untouched" never rest on what a playbook printed),
its health, its data dir's checksums, index.discover jobs, and the check that no secret leaked into an output."""

import contextlib
import hashlib
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from mcpops.lab.fleet import faults as fleet_faults, image, services as fleet_services
from mcpops.lab.http_client import http_json

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
UNIT = image.SERVICE_NAME
WAIT = 120.0  # generous: the machine is shared and loaded
PROPERTIES = ("MainPID", "ActiveState", "SubState", "ActiveEnterTimestamp", "ActiveExitTimestamp")


# -- running things on a fleet ----------------------------------------------------------------------------

def run_playbook(fleet, playbook, *args):
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
               ANSIBLE_NOCOLOR="1", PATH="%s:%s" % (BIN, env.get("PATH", "")), no_proxy="127.0.0.1,localhost")
    cmd = [str(BIN / "ansible-playbook"), playbook, "-i", str(fleet.inventory_dir)] + list(args)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def mcpops_run(fleet, runbook, runs_dir, *args):
    """`mcpops run RUNBOOK -i <fleet inventory> --yes ...` with its run dirs under runs_dir."""
    env = dict(os.environ, MCPOPS_RUNS_DIR=str(runs_dir), PATH="%s:%s" % (BIN, os.environ.get("PATH", "")),
               no_proxy="127.0.0.1,localhost")
    cmd = [str(BIN / "mcpops"), "run", runbook, "-i", str(fleet.inventory_dir), "--yes"] + list(args)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def out(proc):
    return (proc.stdout + proc.stderr)[-6000:]


def nspawn_processes(fleet):
    """PIDs of every process in every host's PID namespace, and the systemd-nspawn PIDs themselves."""
    leaders = {}
    for host in fleet.hosts():
        pid = fleet.pid(host)
        if pid:
            leaders[pid] = os.readlink("/proc/%d/ns/pid" % host.leader_pid(pid))
    namespaces = set(leaders.values())
    inside = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink("/proc/%s/ns/pid" % entry) in namespaces:
                    inside.add(int(entry))
            except OSError:
                pass
    return set(leaders), inside


# -- a host's gateway unit ----------------------------------------------------------------------------------

def unit(fleet, host):
    """systemctl show's ActiveState, SubState, MainPID, NRestarts, Result of the gateway unit (nsenter)."""
    return host.unit_state(fleet.pid(host))


def timestamp(value):
    """systemctl show --timestamp=us+utc's `Tue 2026-11-24 19:40:01.123456 UTC` as an aware datetime."""
    return datetime.strptime(value, "%a %Y-%m-%d %H:%M:%S.%f UTC").replace(tzinfo=timezone.utc)


def unit_show(fleet, host):
    """The gateway unit's main PID, state and timestamps (microseconds, UTC), over ssh."""
    proc = fleet.ssh(host, "systemctl", "show", UNIT, "--timestamp=us+utc",
                     *("--property=%s" % p for p in PROPERTIES))
    assert proc.returncode == 0, (host.name, proc.stderr)
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def snapshot(fleet, hosts=None):
    return {host.name: unit_show(fleet, host) for host in (hosts or fleet.hosts())}


def same_process(before, after):
    """The same gateway process: same main PID and the same time the unit became active."""
    keys = ("MainPID", "ActiveEnterTimestamp")
    return {k: after[k] for k in keys} == {k: before[k] for k in keys}


def healthy(host):
    return all(http_json(host.api_url + path, timeout=10)[0] == 200 for path in ("/healthz", "/readyz"))


def wait_healthy(host, timeout=WAIT):
    """/healthz and /readyz answer 200 within timeout."""
    deadline = time.monotonic() + timeout
    while not healthy(host):
        assert time.monotonic() < deadline, "%s: /healthz and /readyz not 200 within %.0fs" % (host.name, timeout)
        time.sleep(1)


def restart_unit(fleet, host):
    """Put a host's gateway back after a test broke it: clear the failed state, restart, wait for health."""
    fleet.run(host, ["systemctl", "reset-failed", UNIT], check=False)
    fleet.run(host, ["systemctl", "restart", UNIT], check=False, timeout=120)
    wait_healthy(host)


def kill_main(fleet, host, signal_name="TERM"):
    """Kill the gateway's main process (not `systemctl stop`): SIGTERM is a clean exit for Restart=on-failure,
    so systemd leaves it down, as after an OOM kill of a unit without Restart=. Returns the PID killed."""
    before = unit(fleet, host)
    fleet.run(host, ["systemctl", "kill", "--kill-whom=main", "--signal=" + signal_name, UNIT])
    host.wait_unit(fleet.pid(host), ("inactive", "failed"), timeout=WAIT)
    return int(before["MainPID"])


# -- a host's data and API ----------------------------------------------------------------------------------

def data_checksums(host):
    """sha256 of every file in the host's data dir (backups included), without the lock: each start attempt
    of the production unit rewrites .gateway.lock with its PID, which is the service's doing, not a debug run's."""
    sums = {}
    for root, dirs, files in os.walk(host.data_dir):
        dirs.sort()
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, host.data_dir)
            if rel != ".gateway.lock":
                with open(path, "rb") as fh:
                    sums[rel] = hashlib.sha256(fh.read()).hexdigest()
    return sums


def scratch_dirs(fleet, host):
    """The foreground debug's scratch copies left in the host's /tmp (INC-001 removes its own)."""
    proc = fleet.run(host, ["sh", "-c", "ls -d /tmp/inc001-debug-* 2>/dev/null || true"])
    return proc.stdout.split()


def admin(host, method, path, body=None):
    status, answer = http_json(host.api_url + path, method=method, token=host.admin_token(), body=body, timeout=30)
    assert status in (200, 201, 202), (path, status, answer)
    return answer


def jobs(host):
    return admin(host, "GET", "/api/system/jobs")["jobs"]


def start_index_job(fleet, host, seconds):
    """The fleet's index-job fault with a discover of `seconds`; returns the job it started."""
    said = fleet_faults.index_job(fleet, host, seconds)
    [job] = [j for j in jobs(host) if j["state"] == "running"]
    assert job["id"] in said, said
    return job


def release_index_job(fleet, host):
    """End the job start_index_job started (as a real job ends when it is done)."""
    fleet_faults.release_index_job(fleet, host)


def assert_no_secret(hosts, *texts):
    """No host's admin token or MCP token appears in any of texts."""
    for host in hosts:
        for secret in (host.admin_token(), host.mcp_token()):
            assert len(secret) > 16
            for text in texts:
                assert secret not in text, host.name


# -- a CCTelegram fleet (`mcpops fleet up --service cctelegram-mcp`) ----------------------------------------

@contextlib.contextmanager
def cctelegram_fleet(base_dir, count=3, standby=0, net=None):
    """A running fleet of `count` cctelegram-mcp hosts (and `standby` more, units stopped) with its controller side
    (nginx, Prometheus, the Telegram stand-in): state in base_dir/fleet, inventory in base_dir/inventory, hosts on
    net (default $MCPOPS_FLEET_NET); powered off at the end. One fleet for a whole test module:

        @pytest.fixture(scope="module")
        def fleet(tmp_path_factory):
            with cctelegram_fleet(tmp_path_factory.mktemp("cctelegram")) as fleet:
                yield fleet

    or the session's `cctelegram_stack` (tests/fleet/conftest.py): 3 hosts and a standby, shared by the modules.
    """
    from mcpops.lab.fleet.lab import FleetLab

    base_dir = Path(base_dir)
    fleet = FleetLab(base_dir / "fleet", inventory_dir=base_dir / "inventory", service=fleet_services.CCTELEGRAM,
                     net=net)
    try:
        fleet.up(count, standby=standby)
        yield fleet
    finally:
        fleet.down()


def cctelegram_health(host, api_key=None):
    """The status of GET /health on host's cctelegram-mcp: with its key (api_key None), another key, or none ("")."""
    return fleet_services.health(host, api_key=api_key, timeout=10)[0]


def wait_cctelegram_health(host, wanted, timeout=WAIT):
    """/health (with the key) answers `wanted` within timeout."""
    deadline = time.monotonic() + timeout
    while (status := cctelegram_health(host)) != wanted:
        assert time.monotonic() < deadline, "%s: /health is %s, not %s after %.0fs" % (
            host.name, status, wanted, timeout)
        time.sleep(0.5)


def journal(fleet, host, *units):
    """Everything the host's journal holds for units (all fields, every message), as text."""
    argv = ["journalctl", "--no-pager", "-o", "verbose"] + ["--unit=%s" % u for u in units]
    return fleet.run(host, argv, timeout=120).stdout


SERVICE_PROPERTIES = ("MainPID", "InvocationID", "ActiveState", "SubState", "NRestarts", "ActiveEnterTimestamp",
                      "ActiveExitTimestamp")


def service_unit_show(fleet, host, unit, properties=SERVICE_PROPERTIES):
    """unit_show for any unit of a host (a CCTelegram host's cctelegram-mcp or cctelegram-bridge): its main PID,
    invocation id, state, restart count and timestamps (microseconds, UTC), over ssh."""
    proc = fleet.ssh(host, "systemctl", "show", unit, "--timestamp=us+utc", *("--property=%s" % p for p in properties))
    assert proc.returncode == 0, (host.name, unit, proc.stderr)
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


# -- a fleet of lego-mcp, loyalty-api or connector-mcp (`mcpops fleet up --service <name>`) --------------------

@contextlib.contextmanager
def reference_fleet(base_dir, service, count=1):
    """A running fleet of `count` hosts of service (lego-mcp, loyalty-api, connector-mcp) with its shared datastores:
    state in base_dir/fleet, inventory in base_dir/inventory; hosts and datastores stopped at the end and their dirs
    removed (PostgreSQL's is in /tmp when the postgres user cannot reach pytest's temp dir). One fleet for a module:

        @pytest.fixture(scope="module")
        def fleet(tmp_path_factory):
            with reference_fleet(tmp_path_factory.mktemp("loyalty"), "loyalty-api") as fleet:
                yield fleet
    """
    from mcpops.lab.fleet.lab import FleetLab

    base_dir = Path(base_dir)
    fleet = FleetLab(base_dir / "fleet", inventory_dir=base_dir / "inventory", service=service)
    try:
        fleet.up(count)
        yield fleet
    finally:
        fleet.down(purge=True)


def service_check(host, role):
    """(status, JSON body) of the host's liveness, readiness or deep check, as its service's profile names them."""
    from mcpops.lab.fleet import reference_services

    return reference_services.check(host, role, timeout=10)


def wait_service_check(host, role, wanted, timeout=WAIT):
    """The host's liveness, readiness or deep check answers `wanted` within timeout; returns its body."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = service_check(host, role)
        if status == wanted:
            return body
        assert time.monotonic() < deadline, "%s: %s answers %s, not %s after %.0fs: %s" % (
            host.name, role, status, wanted, timeout, body)
        time.sleep(0.5)


def process_tree(roots):
    """roots and every live process descended from them (a datastore's server and its workers)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as fh:
                    ppid = int(fh.read().rsplit(")", 1)[-1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [int(p) for p in roots if p]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found
