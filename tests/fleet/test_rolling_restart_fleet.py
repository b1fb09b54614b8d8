"""playbooks/rolling-restart.yml on four real systemd hosts over SSH: a clean rollout restarts them one at a time
in inventory order, each healthy before the next; a host that does not come back stops the rollout there, the
hosts after it untouched; with batches, max_fail_percentage decides whether the next batch runs.

Every "restarted" / "untouched" is read over ssh from systemd itself (`systemctl show`: the unit's main PID and
ActiveEnterTimestamp), never from the playbook's own output. One fleet serves the whole module (a boot is the slow
part on a loaded machine); each test puts back what it broke and starts from a healthy fleet.
"""

import json
import os
import re
import time
from datetime import datetime, timezone

import pytest

from mcpops.lab.fleet.lab import FleetLab
from mcpops.lab.http_client import http_json
from fleet_helpers import UNIT, assert_no_secret, out, restart_unit, run_playbook, same_process, snapshot, timestamp


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the fleet lab boots hosts with systemd-nspawn, which needs root")
    root = tmp_path_factory.mktemp("rolling-fleet")
    lab = FleetLab(root / "fleet", inventory_dir=root / "inventory")
    try:
        lab.up(4)
        yield lab
    finally:
        lab.down()


@pytest.fixture
def healthy_fleet(fleet):
    """The module's fleet, every host healthy before the test (a test that broke one has put it back)."""
    status = fleet.status()
    assert status["healthy"], status
    return fleet


def gate_passed_at(fleet, host, since):
    """When the health gate's last check (GET /api/system/storage-meta, 200) first reached the gateway after
    `since`, from the host's journal (the gateway logs one line per request)."""
    proc = fleet.ssh(host, "journalctl", "-u", UNIT, "-o", "json", "--no-pager", "--since",
                     "@%d" % int(since.timestamp() - 1))
    assert proc.returncode == 0, (host.name, proc.stderr)
    for line in proc.stdout.splitlines():
        entry = json.loads(line)
        message = entry.get("MESSAGE")
        if isinstance(message, str) and re.search(r" GET /api/system/storage-meta 200$", message):
            at = datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6, timezone.utc)
            if at > since:
                return at
    raise AssertionError("%s: no GET /api/system/storage-meta 200 in its journal after %s" % (host.name, since))


class corrupt_tokens:
    """fleet2's tokens.json made invalid JSON behind the running gateway's back (the bind-mounted data dir): it
    keeps serving, but a restart cannot load its store and crash-loops. Put back and restarted on exit."""

    def __init__(self, fleet, host):
        self.fleet, self.host, self.path = fleet, host, host.data_dir / "tokens.json"

    def __enter__(self):
        self.good = self.path.read_bytes()
        self.path.write_bytes(b'{"tokens": [ {"id": "tok_broken", \n')
        return self

    def __exit__(self, *exc):
        self.path.write_bytes(self.good)
        restart_unit(self.fleet, self.host)


class index_missing:
    """The lab's not-ready fault on a fleet host: index/ moved aside; the gateway runs and answers /healthz, but
    /readyz says 503, before and after any restart. Moved back and restarted on exit."""

    def __init__(self, fleet, host):
        self.fleet, self.host = fleet, host
        self.index, self.aside = host.data_dir / "index", host.dir / "index.moved"

    def __enter__(self):
        os.rename(self.index, self.aside)
        assert http_json(self.host.api_url + "/readyz", timeout=10)[0] == 503
        return self

    def __exit__(self, *exc):
        os.rename(self.aside, self.index)
        restart_unit(self.fleet, self.host)


def test_clean_rolling_restart_restarts_each_host_in_order_each_healthy_before_the_next(healthy_fleet):
    fleet = healthy_fleet
    hosts = fleet.hosts()
    before = snapshot(fleet)
    proc = run_playbook(fleet, "playbooks/rolling-restart.yml")
    assert proc.returncode == 0, out(proc)
    after = snapshot(fleet)
    assert fleet.status()["healthy"], fleet.status()
    for host in hosts:
        assert after[host.name]["MainPID"] != before[host.name]["MainPID"], host.name
        assert after[host.name]["ActiveState"] == "active"
        assert re.search(r"%s: restarted \(pid %s -> %s\), healthy" % (
            host.name, before[host.name]["MainPID"], after[host.name]["MainPID"]), proc.stdout), host.name
        # and passed the post-recovery validation (its MCP tools) before the next host
        # (the YAML callback may fold the long message: compare with whitespace collapsed)
        assert "healthy; Post-incident validation on %s: passed" % host.name in " ".join(proc.stdout.split()), host.name
    # One at a time, in inventory order: host N's restart began (its old instance left "active"), it came back
    # (new instance "active"), passed the health gate, and only then did host N+1's restart begin.
    steps = []
    for host in hosts:
        began = timestamp(after[host.name]["ActiveExitTimestamp"])
        back = timestamp(after[host.name]["ActiveEnterTimestamp"])
        assert timestamp(before[host.name]["ActiveEnterTimestamp"]) < began, host.name
        steps += [(host.name, "restart began", began), (host.name, "active again", back),
                  (host.name, "health gate passed", gate_passed_at(fleet, host, back))]
    assert [s[2] for s in steps] == sorted(s[2] for s in steps), steps
    assert_no_secret(fleet.hosts(), proc.stdout, proc.stderr)


def test_rolling_restart_stops_at_the_second_host_that_fails_its_health_gate(healthy_fleet):
    """Issue 7: four hosts, serial 1; the second does not come back after its restart: hosts 3 and 4 untouched."""
    fleet = healthy_fleet
    one, two, three, four = fleet.hosts()
    with corrupt_tokens(fleet, two):
        before = snapshot(fleet)
        proc = run_playbook(fleet, "playbooks/rolling-restart.yml", "-e", "health_retries=5")
        after = snapshot(fleet)
        # fleet2 was restarted and did not come back: its store does not load (crash loop or failed).
        assert after["fleet2"]["ActiveEnterTimestamp"] != before["fleet2"]["ActiveEnterTimestamp"] \
            or after["fleet2"]["ActiveState"] != "active", after["fleet2"]
        assert http_json(two.api_url + "/readyz", timeout=10)[0] != 200
    assert proc.returncode != 0, out(proc)
    said = " ".join(proc.stdout.split())  # the callback wraps long messages
    assert "Rolling restart stopped at fleet2 (batch 2):" in said, out(proc)
    assert "Restarted and healthy before this batch: fleet1." in said
    assert "StoreMigrationRunner" in said  # why: the crash loop systemd reported, from the journal
    assert "Untouched (not restarted): fleet3, fleet4." in said
    assert re.search(r"fleet2\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=1", proc.stdout), out(proc)
    assert not re.search(r"fleet[34]\s+: ok=", proc.stdout), out(proc)  # never even contacted
    # fleet1 restarted (new PID) and healthy; fleet3 and fleet4: same main PID, same start time as before.
    assert after["fleet1"]["MainPID"] != before["fleet1"]["MainPID"] and after["fleet1"]["ActiveState"] == "active"
    assert http_json(one.api_url + "/readyz", timeout=10)[0] == 200
    for host in (three, four):
        assert same_process(before[host.name], after[host.name]), (host.name, before[host.name], after[host.name])
        assert after[host.name]["ActiveState"] == "active"
    assert_no_secret(fleet.hosts(), proc.stdout, proc.stderr)


@pytest.mark.parametrize("max_fail, goes_on", [(50, True), (0, False)])
def test_batches_of_two_max_fail_percentage_decides_whether_the_second_batch_runs(healthy_fleet, max_fail, goes_on):
    """batch_size=2, fleet2 (first batch) fails its health gate: 1 of 2 = 50%; Ansible stops when more than
    max_fail_percentage of a batch failed, so 50 goes on to fleet3 and fleet4 and 0 leaves them untouched."""
    fleet = healthy_fleet
    with index_missing(fleet, fleet.host("fleet2")):
        before = snapshot(fleet)
        proc = run_playbook(fleet, "playbooks/rolling-restart.yml", "-e", "batch_size=2",
                            "-e", "max_fail_percentage=%d" % max_fail, "-e", "health_retries=3")
        after = snapshot(fleet)
    assert proc.returncode != 0, out(proc)  # a host failed either way
    said = " ".join(proc.stdout.split())  # the callback wraps long messages
    # The first batch ran in both cases: fleet1 and fleet2 restarted (fleet2 came up, but not ready).
    for name in ("fleet1", "fleet2"):
        assert after[name]["MainPID"] != before[name]["MainPID"], name
    assert "This batch (restarted together): fleet1, fleet2; 1 of 2 did not come back (fleet2), " \
           "max_fail_percentage %d%%." % max_fail in said, out(proc)
    if goes_on:
        assert "fleet2 did not come back (batch 1):" in said, out(proc)
        assert "Within max_fail_percentage: the rollout goes on with fleet3, fleet4." in said
        for name in ("fleet3", "fleet4"):
            assert after[name]["MainPID"] != before[name]["MainPID"], name
            assert after[name]["ActiveState"] == "active"
            assert re.search(r"%s: restarted \(pid %s -> %s\), healthy" % (
                name, before[name]["MainPID"], after[name]["MainPID"]), proc.stdout), name
    else:
        assert "Rolling restart stopped at fleet2 (batch 1):" in said, out(proc)
        assert "Untouched (not restarted): fleet3, fleet4." in said
        for name in ("fleet3", "fleet4"):
            assert same_process(before[name], after[name]), (name, before[name], after[name])
    assert_no_secret(fleet.hosts(), proc.stdout, proc.stderr)


class sshd_stopped:
    """A host made unreachable (the fleet's `unreachable` fault: sshd stopped, the gateway runs on). sshd is
    started again on exit, from inside the host."""

    def __init__(self, fleet, host):
        self.fleet, self.host = fleet, host

    def __enter__(self):
        self.fleet.break_(self.host.name, "unreachable")
        return self

    def __exit__(self, *exc):
        self.fleet.run(self.host, ["systemctl", "start", "ssh.service"], timeout=60)
        deadline = time.monotonic() + 60
        while not self.fleet.status()["healthy"] and time.monotonic() < deadline:
            time.sleep(1)


def test_an_unreachable_host_stops_the_rollout_and_the_report_names_the_hosts_left_alone(healthy_fleet):
    """fleet2's sshd stopped when its turn comes: it is unreachable, which no rescue catches, so the playbook's
    own "untouched" message cannot run; the incident report names fleet3 and fleet4, which no task reached."""
    fleet = healthy_fleet
    before = snapshot(fleet)
    with sshd_stopped(fleet, fleet.host("fleet2")):
        proc = run_playbook(fleet, "playbooks/rolling-restart.yml", "-e", "health_retries=5")
    after = snapshot(fleet)
    assert proc.returncode == 4, out(proc)  # ansible-playbook's status for "a host was unreachable"
    assert re.search(r"fleet2\s+: ok=\d+\s+changed=0\s+unreachable=1\s+failed=0", proc.stdout), out(proc)
    assert 'incident_report: no task ran on fleet3, fleet4: the play "Rolling restart' in proc.stdout, out(proc)
    report_path = re.search(r"^incident report: (.+)$", proc.stdout, re.M).group(1)
    report = json.loads(open(os.path.join(os.path.dirname(report_path), "report.json")).read())
    assert report["status"] == "unreachable"
    assert [play["hosts"] for play in report["not_reached"]] == [["fleet3", "fleet4"]]
    # fleet1 restarted; fleet2 (its gateway ran on behind the stopped sshd), fleet3 and fleet4: the same process.
    assert after["fleet1"]["MainPID"] != before["fleet1"]["MainPID"] and after["fleet1"]["ActiveState"] == "active"
    for name in ("fleet2", "fleet3", "fleet4"):
        assert same_process(before[name], after[name]), (name, before[name], after[name])
    assert_no_secret(fleet.hosts(), proc.stdout, proc.stderr)
