"""docs/scheduling.md's systemd timer, as the doc shows it, under a real systemd on a fleet host.

fleet1 is made a management host (tests/fleet/controller_on_host.py: the checkout at /opt/mcpops-runbooks
with its .venv, a `mcpops` user, inventories/production reaching the fleet's gateways over SSH with the
fleet's key). docs/scheduling/mcpops-backup.service and .timer are installed byte for byte, then:
- `systemd-analyze verify` passes and `systemctl list-timers` shows the timer, its next elapse at the next
  02:00 (OnCalendar=*-*-* 02:00:00) within RandomizedDelaySec=5min;
- `systemctl start mcpops-backup.service` (the doc's "a run now") runs `mcpops run backup-scheduled ... --yes`
  as User=mcpops: a backup taken on the gateway (here fleet1's own, over SSH as root), both .prom files in
  /var/lib/node_exporter/textfile parsed by prometheus_client, the run's report.json under runs/;
- Persistent=true: with the timer's stamp put back two days (a run missed while the host was off), starting
  the timer fires the service by itself, and the backup runs again. For this part only a drop-in sets
  RandomizedDelaySec=0 (the doc's 5min is asserted above; waiting out a random 0-5 min proves nothing more);
  Persistent= stays the doc's own, and without it the timer would not fire until the next 02:00.
What it does not prove: the 02:00 firing itself (no clock is moved), the random delay's effect on the catch-up,
and a management host separate from the gateways (fleet1 is both; the run still goes over SSH as it would to
another host).
"""

import datetime as dt
import json
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from controller_on_host import CHECKOUT, make_management_host

REPO = Path(__file__).resolve().parents[2]
UNITS = ("mcpops-backup.service", "mcpops-backup.timer")
STAMP = "/var/lib/systemd/timers/stamp-mcpops-backup.timer"
NO_DELAY = "/etc/systemd/system/mcpops-backup.timer.d/zz-test-no-random-delay.conf"
METRICS = "/var/lib/node_exporter/textfile"


def show(host_root, unit, *props):
    out = host_root.run("systemctl", "show", unit, "--property=" + ",".join(props)).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def wait_run_finished(host_root, after_start, timeout):
    """Wait until the service has started after `after_start` (ExecMainStartTimestampMonotonic) and is
    inactive again; returns its properties."""
    deadline = time.monotonic() + timeout
    state = {}
    while time.monotonic() < deadline:
        state = show(host_root, UNITS[0], "ActiveState", "Result", "ExecMainStatus", "ExecMainStartTimestampMonotonic")
        if int(state.get("ExecMainStartTimestampMonotonic") or 0) > after_start and state["ActiveState"] in ("inactive", "failed"):
            return state
        time.sleep(1)
    raise AssertionError("mcpops-backup.service did not run to its end: %s" % state)


def samples(path):
    return {s.name: s.value for family in text_string_to_metric_families(path.read_text()) for s in family.samples}


def run_dirs(host_root):
    runs = host_root.path(CHECKOUT + "/runs")
    return sorted(p for p in runs.iterdir() if p.is_dir()) if runs.exists() else []


def backups(host):
    return sorted(p.name for p in (host.data_dir / "backups").iterdir() if not p.name.startswith("."))


def test_documented_timer_runs_backup_scheduled_under_systemd(make_fleet):
    fleet = make_fleet(1)
    [host] = fleet.hosts()
    image_python = fleet.run(host, ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout.strip()
    if image_python != "%d.%d" % sys.version_info[:2]:
        pytest.skip("the host's venv is this venv's packages copied over: needs the image's python3 (%s) to be "
                    "this Python (%d.%d)" % ((image_python,) + sys.version_info[:2]))
    host_root = make_management_host(fleet, host)
    for unit in UNITS:
        host_root.copy(REPO / "docs" / "scheduling" / unit, "/etc/systemd/system/" + unit, 0o644)
    host_root.run("mkdir", "-p", METRICS)

    verify = host_root.run("systemd-analyze", "verify", *("/etc/systemd/system/" + u for u in UNITS))
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    host_root.run("systemctl", "daemon-reload")
    host_root.run("systemctl", "enable", "--now", UNITS[1])
    listed = host_root.run("systemctl", "list-timers", "--all", "--no-pager", UNITS[1]).stdout
    assert UNITS[1] in listed and UNITS[0] in listed, listed
    timer = show(host_root, UNITS[1], "ActiveState", "NextElapseUSecRealtime", "Persistent", "RandomizedDelayUSec",
                 "TimersCalendar")
    assert timer["ActiveState"] == "active" and timer["Persistent"] == "yes", timer
    assert timer["RandomizedDelayUSec"] == "5min" and "02:00:00" in timer["TimersCalendar"], timer
    # The next elapse: the next 02:00 (the host's clock is this one; its zone UTC), plus at most 5 min.
    host_now = dt.datetime.fromtimestamp(int(host_root.run("date", "+%s").stdout), dt.timezone.utc)
    next_2am = host_now.replace(hour=2, minute=0, second=0, microsecond=0)
    if next_2am <= host_now:
        next_2am += dt.timedelta(days=1)
    elapse = dt.datetime.strptime(timer["NextElapseUSecRealtime"].rsplit(" ", 1)[0], "%a %Y-%m-%d %H:%M:%S")
    assert next_2am <= elapse.replace(tzinfo=dt.timezone.utc) <= next_2am + dt.timedelta(minutes=5), timer

    # "a run now"
    before = backups(host)
    started = host_root.run("systemctl", "start", UNITS[0], timeout=1800)
    assert started.returncode == 0
    state = show(host_root, UNITS[0], "Result", "ExecMainStatus", "User")
    journal = host_root.run("journalctl", "--no-pager", "-u", UNITS[0]).stdout
    assert state["Result"] == "success" and state["ExecMainStatus"] == "0", (state, journal[-3000:])
    assert "fleet1" in journal and host.admin_token() not in journal
    [first] = run_dirs(host_root)
    report = json.loads((first / "report.json").read_text())
    assert report["status"] == "ok" and report["runbook"]["id"] == "backup-scheduled", report["status"]
    assert (host_root.path(CHECKOUT + "/runs") / first.name).stat().st_uid != 0  # written as User=mcpops
    after = backups(host)
    [taken] = sorted(set(after) - set(before))
    metrics = samples(host_root.path(METRICS + "/mcpops_backup_scheduled.prom"))
    assert 0 <= metrics["mcpops_last_backup_age_seconds"] < 3600
    assert samples(host_root.path(METRICS + "/mcpops_backup_scheduled_run.prom"))["mcpops_runbook_last_run_ok"] == 1

    # Persistent=true: a 02:00 missed while the host was off is made up when the timer starts again.
    mark = int(show(host_root, UNITS[0], "ExecMainStartTimestampMonotonic")["ExecMainStartTimestampMonotonic"])
    host_root.run("systemctl", "stop", UNITS[1])
    host_root.write(NO_DELAY, "[Timer]\nRandomizedDelaySec=0\n")
    host_root.run("systemctl", "daemon-reload")
    timer = show(host_root, UNITS[1], "Persistent", "RandomizedDelayUSec", "DropInPaths")
    assert timer["Persistent"] == "yes" and timer["RandomizedDelayUSec"] == "0", timer
    assert NO_DELAY in timer["DropInPaths"], timer
    host_root.run("mkdir", "-p", str(Path(STAMP).parent))
    host_root.run("touch", "-d", "2 days ago", STAMP)
    host_root.run("systemctl", "start", UNITS[1])
    state = wait_run_finished(host_root, mark, timeout=300)  # the run only: no random delay now
    assert state["Result"] == "success" and state["ExecMainStatus"] == "0", state
    assert show(host_root, UNITS[1], "LastTriggerUSec")["LastTriggerUSec"] not in ("", "n/a")  # the timer fired it
    assert len(run_dirs(host_root)) == 2
    assert len(set(backups(host)) - set(after)) == 1, (taken, backups(host))
