"""The fleet tests' view of a host's gateway unit, read over ssh from the host's own systemd (`systemctl show`),
so that "restarted" and "untouched" never rest on what a playbook printed."""

import time
from datetime import datetime, timezone

from mcpops.lab.fleet import image
from mcpops.lab.local_lab import http_json

UNIT = image.SERVICE_NAME
PROPERTIES = ("MainPID", "ActiveState", "SubState", "ActiveEnterTimestamp", "ActiveExitTimestamp")


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


def wait_healthy(host, timeout=120.0):
    """/readyz answers 200 (generous: the machine is shared and loaded)."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status, _ = http_json(host.api_url + "/readyz", timeout=5)
        if status == 200:
            return
        time.sleep(1)
    raise AssertionError("%s: %s/readyz answers %s after %.0fs" % (host.name, host.api_url, status, timeout))


def restart_unit(fleet, host):
    """Put a host's gateway back after a test broke it: clear the failed state, restart, wait for ready."""
    fleet.run(host, ["systemctl", "reset-failed", UNIT], check=False)
    fleet.run(host, ["systemctl", "restart", UNIT], check=False, timeout=120)
    wait_healthy(host)


def assert_no_secret(fleet, *texts):
    for host in fleet.hosts():
        for secret in (host.admin_token(), host.mcp_token()):
            for text in texts:
                assert secret not in text, host.name


def out(proc):
    return (proc.stdout + proc.stderr)[-6000:]
