"""What the INC-001 and gateway_service fleet tests share: a host's unit state and health, checksums of its
data dir, an index.discover job on a host, `mcpops run` on a fleet."""

import hashlib
import os
import subprocess
import time

from mcpops.lab.fleet import faults as fleet_faults, image
from mcpops.lab.local_lab import http_json
from fleet_helpers import BIN, REPO

UNIT = image.SERVICE_NAME
WAIT = 120.0  # generous: the machine is shared and loaded


def unit(fleet, host):
    """systemctl show's ActiveState, SubState, MainPID, NRestarts, Result of the gateway unit."""
    return host.unit_state(fleet.pid(host))


def healthy(host):
    return all(http_json(host.api_url + path, timeout=10)[0] == 200 for path in ("/healthz", "/readyz"))


def wait_healthy(host, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not healthy(host):
        assert time.monotonic() < deadline, "%s: /healthz and /readyz not 200 within %ss" % (host.name, timeout)
        time.sleep(1)


def kill_main(fleet, host, signal_name="TERM"):
    """Kill the gateway's main process (not `systemctl stop`): SIGTERM is a clean exit for Restart=on-failure,
    so systemd leaves it down, as after an OOM kill of a unit without Restart=. Returns the PID killed."""
    before = unit(fleet, host)
    fleet.run(host, ["systemctl", "kill", "--kill-whom=main", "--signal=" + signal_name, UNIT])
    host.wait_unit(fleet.pid(host), ("inactive", "failed"), timeout=WAIT)
    return int(before["MainPID"])


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


def start_index_job(fleet, host, seconds):
    """The fleet's index-job fault with a discover of `seconds`; returns the job it started."""
    said = fleet_faults.index_job(fleet, host, seconds)
    [job] = [j for j in jobs(host) if j["state"] == "running"]
    assert job["id"] in said, said
    return job


def jobs(host):
    return admin(host, "GET", "/api/system/jobs")["jobs"]


def mcpops_run(fleet, runbook, runs_dir, *args):
    """`mcpops run RUNBOOK -i <fleet inventory> --yes ...` with its run dirs under runs_dir."""
    env = dict(os.environ, MCPOPS_RUNS_DIR=str(runs_dir), PATH="%s:%s" % (BIN, os.environ.get("PATH", "")),
               no_proxy="127.0.0.1,localhost")
    cmd = [str(BIN / "mcpops"), "run", runbook, "-i", str(fleet.inventory_dir), "--yes"] + list(args)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def assert_no_secret(hosts, *texts):
    for host in hosts:
        for secret in (host.admin_token(), host.mcp_token()):
            assert len(secret) > 16
            for text in texts:
                assert secret not in text, host.name
