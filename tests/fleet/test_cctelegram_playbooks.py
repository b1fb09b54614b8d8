"""rolling-restart.yml and service-outage.yml run with ansible-playbook over SSH on three real cctelegram-mcp hosts
under systemd (`mcpops fleet up --service cctelegram-mcp`): the inventory sets mcp_service: cctelegram-mcp, so the
playbooks restart the cctelegram-mcp unit and gate on the profile's checks (health: /health behind X-API-Key;
bridge: /tools/get_bridge_status). test_drill_cctelegram.py runs the same playbooks through `mcpops drill`; here
every "restarted" / "untouched" is read from systemd itself (`systemctl show`: MainPID, InvocationID, timestamps)
and every "passed the gate" from the service's own request log, never from what the playbook printed.

- a clean rolling restart: every host restarted, in inventory order, each passing the gate before the next;
- a host a restart does not cure (faults.json unhealthy, or a crash loop): the rollout stops there, naming the
  failed check or the unit's state; the host before it restarted, the one after it untouched;
- service-outage with remedy=restart cures a stopped bridge (cctelegram-mcp Wants= it); --check changes nothing;
- no host's API key in any ansible-playbook output (one run with -v), run dir or host journal.

One fleet for the module, on 127.0.9.x (NET) beside any other fleet; each test starts from a healthy fleet
(`up` on the running fleet clears the lab's faults and starts what is stopped, without a reboot).
"""

import json
import re
from datetime import datetime, timezone

import pytest

from mcpops.lab.fleet import services
from fleet_helpers import (cctelegram_fleet, cctelegram_health, journal, out, run_playbook, service_unit_show,
                           timestamp, wait_cctelegram_health)

NET = "127.0.9"
HOSTS = ["fleet1", "fleet2", "fleet3"]
MCP, BRIDGE = services.MCP_UNIT, services.BRIDGE_UNIT
# Every ansible-playbook run of the module, for the secrets test at the end.
OUTPUTS = []


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("cctelegram-playbooks")
    with pytest.MonkeyPatch.context() as mp:
        # The fleet's addresses, and the incident reports of the playbooks run here (not the checkout's runs/).
        mp.setenv("MCPOPS_FLEET_NET", NET)
        mp.setenv("MCPOPS_RUNS_DIR", str(root / "runs"))
        with cctelegram_fleet(root, 3) as fleet:
            assert fleet.net == NET and [h.name for h in fleet.hosts()] == HOSTS
            fleet.runs_dir = root / "runs"
            yield fleet


@pytest.fixture
def healthy_fleet(fleet):
    """The module's fleet with no fault left: both units active and /health 200 with its key on every host."""
    fleet.up(3)
    for host in fleet.hosts():
        wait_cctelegram_health(host, 200)
        for unit in (MCP, BRIDGE):
            assert active(fleet, host, unit) == "active", (host.name, unit)
    return fleet


def playbook(fleet, name, *args):
    proc = run_playbook(fleet, "playbooks/%s" % name, *args)
    OUTPUTS.append(proc.stdout + proc.stderr)
    return proc


def flat(proc):
    """The run's output with every run of whitespace made one space (the yaml result format folds long lines)."""
    return " ".join((proc.stdout + proc.stderr).split())


def active(fleet, host, unit):
    return fleet.run(host, ["systemctl", "is-active", unit], check=False).stdout.strip()


def units(fleet, unit=MCP):
    return {host.name: service_unit_show(fleet, host, unit) for host in fleet.hosts()}


def same_process(before, after):
    return all(after[k] == before[k] for k in ("MainPID", "InvocationID"))


def restarted(before, after):
    """A new process of the unit: another main PID and another invocation, active now."""
    return (after["MainPID"] not in ("0", before["MainPID"]) and after["InvocationID"] != before["InvocationID"]
            and after["ActiveState"] == "active")


def log_ts(value):
    """application.log's `2025-01-15T10:30:00.123Z` as an aware datetime."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def requests_logged(fleet, host, path, status, since):
    """When cctelegram-mcp on host answered `GET path` with status after since, from its application.log."""
    text = fleet.run(host, ["cat", services.LOG_DIR + "/application.log"]).stdout
    found = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "http_request" and entry.get("path") == path and entry.get("status") == status:
            at = log_ts(entry["ts"])
            if at >= since:
                found.append(at)
    return found


# -- 1. a clean rolling restart --------------------------------------------------------------------------------

def test_rolling_restart_restarts_every_host_in_order_each_through_the_gate(healthy_fleet):
    fleet = healthy_fleet
    before, bridges_before = units(fleet), units(fleet, BRIDGE)
    proc = playbook(fleet, "rolling-restart.yml")
    assert proc.returncode == 0, out(proc)
    after, bridges_after = units(fleet), units(fleet, BRIDGE)
    text = flat(proc)
    for name in HOSTS:
        assert restarted(before[name], after[name]), (name, before[name], after[name])
        # The bridge is a dependency, not a target: Wants= does not restart a running bridge.
        assert same_process(bridges_before[name], bridges_after[name]), name
        assert "%s: restarted (pid %s -> %s), healthy" % (
            name, before[name]["MainPID"], after[name]["MainPID"]) in text
    for host in fleet.hosts():
        assert cctelegram_health(host) == 200
    # In inventory order, one at a time: each host's new process started, and passed both of the gate's checks
    # (its request log, with the server's own clock), before the next host's old process was stopped.
    started = {n: timestamp(after[n]["ActiveEnterTimestamp"]) for n in HOSTS}
    stopped = {n: timestamp(after[n]["ActiveExitTimestamp"]) for n in HOSTS}  # the old process's end
    for name, host in zip(HOSTS, fleet.hosts()):
        assert stopped[name] <= started[name]
        gate = {}
        for path in ("/health", "/tools/get_bridge_status"):
            seen = requests_logged(fleet, host, path, 200, started[name])
            assert seen, "%s: no GET %s 200 after its restart at %s" % (name, path, started[name])
            gate[path] = min(seen)
        nxt = HOSTS.index(name) + 1
        if nxt < len(HOSTS):
            assert max(gate.values()) < stopped[HOSTS[nxt]], (name, gate, HOSTS[nxt], stopped[HOSTS[nxt]])
    assert started["fleet1"] < stopped["fleet2"] < started["fleet2"] < stopped["fleet3"] < started["fleet3"]
    assert [m.group(1) for m in re.finditer(r"(fleet\d): restarted \(pid", text)] == HOSTS


# -- 2. a host a restart does not cure stops the rollout -------------------------------------------------------

@pytest.mark.parametrize("fault", ["unhealthy", "crash-loop"])
def test_rolling_restart_stops_at_a_host_a_restart_does_not_cure(healthy_fleet, fault):
    fleet = healthy_fleet
    one, two, three = fleet.hosts()
    said = fleet.break_(two.name, fault)
    before = units(fleet)
    proc = playbook(fleet, "rolling-restart.yml", "-e", "health_retries=3")
    assert proc.returncode != 0, out(proc)
    after = units(fleet)
    text = flat(proc)
    # (said twice: ansible-core's error line, then the task's result)
    stops = set(re.findall(r"Rolling restart stopped at (fleet\d) \(batch (\d)\)", text))
    assert stops == {("fleet2", "2")}, out(proc)
    message = text[text.index("Rolling restart stopped at fleet2"):]
    assert "Restarted and healthy before this batch: fleet1." in message, message[:2000]
    assert "Untouched (not restarted): fleet3." in message, message[:2000]
    # What systemd says: fleet1 restarted and healthy, fleet2 tried, fleet3 the same process as before.
    assert restarted(before["fleet1"], after["fleet1"]), (before["fleet1"], after["fleet1"])
    assert cctelegram_health(one) == 200
    assert after["fleet2"]["InvocationID"] != before["fleet2"]["InvocationID"], (said, after["fleet2"])
    assert same_process(before["fleet3"], after["fleet3"]) and after["fleet3"]["ActiveState"] == "active"
    assert after["fleet3"]["ActiveEnterTimestamp"] == before["fleet3"]["ActiveEnterTimestamp"]
    assert cctelegram_health(three) == 200
    assert "fleet3: restarted" not in text
    if fault == "unhealthy":
        # Up and running, but its /health says 503: the gate names the failed check, and only that one.
        assert after["fleet2"]["ActiveState"] == "active" and cctelegram_health(two) == 503
        assert "check health (GET http://%s:8080/health): HTTP 503, expected 200" % two.address in message, \
            message[:2000]
        assert "check bridge (" not in message[:message.index("Restarted and healthy before")]
        assert "Now active" in message, message[:2000]
    else:
        # Restarted into the same crash loop: the message says the unit's state, as systemd has it now. (The new
        # process lives for a moment, so either the restart's own check fails, or, having seen it active, the gate
        # does, naming both checks, and the state read after it.)
        assert after["fleet2"]["ActiveState"] in ("failed", "activating"), after["fleet2"]
        head = message[:message.index("Restarted and healthy before")]
        assert re.search(r"Now (failed|activating)|is (failed|activating) after restart", head), head
        assert "crash loop: " in head, head
        if "Now " in head:
            assert "check health (GET http://%s:8080/health): no answer" % two.address in head, head
        assert cctelegram_health(two) is None


# -- 3. and 4. service-outage ----------------------------------------------------------------------------------

def test_service_outage_restart_brings_back_a_stopped_bridge(healthy_fleet):
    fleet = healthy_fleet
    one, two, three = fleet.hosts()
    said = fleet.break_(two.name, "bridge-down")
    assert active(fleet, two, BRIDGE) == "inactive" and cctelegram_health(two) == 503, said
    before = units(fleet)
    proc = playbook(fleet, "service-outage.yml", "-e", "remedy=restart")
    assert proc.returncode == 0, out(proc)
    after = units(fleet)
    for host in fleet.hosts():
        assert restarted(before[host.name], after[host.name]), host.name  # the remedy restarts every instance
        assert cctelegram_health(host) == 200, host.name  # with its own key
        assert active(fleet, host, BRIDGE) == "active", host.name
    text = flat(proc)
    # The assessment, before the remedy: fleet2 unhealthy, naming both failed checks; the other two healthy.
    assessed = dict(re.findall(
        r"(fleet\d): active \(running True, restarts \d+, uptime [\d.]+ s\), healthy: (\w+)", text))
    assert assessed == {"fleet1": "True", "fleet2": "False", "fleet3": "True"}, out(proc)
    # (the yaml result format quotes the line in '...', doubling the quotes inside)
    [why] = re.findall(r"fleet2: active \(running True[^)]*\), healthy: False -- (.*?)' - Load ", text)
    why = why.replace("''", "'")
    assert "check health (GET http://%s:8080/health): HTTP 503, expected 200" % two.address in why, why
    assert "check bridge (GET http://%s:8080/tools/get_bridge_status): condition 'bridge.running == true' failed" \
        % two.address in why, why
    for name in HOSTS:
        assert "%s: restart done; active, healthy" % name in text


def test_service_outage_in_check_mode_restarts_nothing(healthy_fleet):
    fleet = healthy_fleet
    two = fleet.hosts()[1]
    fleet.break_(two.name, "bridge-down")
    before, bridges_before = units(fleet), units(fleet, BRIDGE)
    proc = playbook(fleet, "service-outage.yml", "-e", "remedy=restart", "--check")
    assert proc.returncode == 0, out(proc)
    after, bridges_after = units(fleet), units(fleet, BRIDGE)
    for name in HOSTS:
        assert same_process(before[name], after[name]), name
        assert after[name]["NRestarts"] == before[name]["NRestarts"], name
        assert after[name]["ActiveEnterTimestamp"] == before[name]["ActiveEnterTimestamp"], name
        assert "Check mode: would restart cctelegram-mcp on %s (systemctl restart cctelegram-mcp)" % name in flat(proc)
        assert "Check mode: would restart on %s; nothing was changed" % name in flat(proc)
    for name in ("fleet1", "fleet3"):
        assert same_process(bridges_before[name], bridges_after[name]), name
    # fleet2 stays broken: nothing started its bridge.
    assert active(fleet, two, BRIDGE) == "inactive" and cctelegram_health(two) == 503


# -- 5. the API keys stay secret -------------------------------------------------------------------------------

def test_no_api_key_in_any_output_run_dir_or_journal(healthy_fleet):
    fleet = healthy_fleet
    fleet.break_("fleet3", "unhealthy")  # a failing check's answer is printed too
    proc = playbook(fleet, "service-outage.yml", "-e", "remedy=none", "-v")
    assert proc.returncode == 0, out(proc)
    assert "healthy: False" in flat(proc)
    proc = playbook(fleet, "rolling-restart.yml", "-v", "-e", "health_retries=1")
    assert "Rolling restart stopped at fleet3" in flat(proc), out(proc)
    keys = {host.name: host.api_key() for host in fleet.hosts()}
    assert len(keys) == 3 and all(len(k) > 16 for k in keys.values())  # one key, the fleet's
    # ansible-playbook's stdout and stderr, of every run in this module.
    assert len(OUTPUTS) >= 2
    for text in OUTPUTS:
        for name, key in keys.items():
            assert key not in text, name
    # The incident reports those runs wrote (report.md, report.json), every byte.
    files = [p for p in fleet.runs_dir.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for name, key in keys.items():
            assert key.encode() not in data, (name, path)
    # Each host's whole journal (every unit, every field: the modules log their arguments there) and its
    # service logs.
    for host in fleet.hosts():
        whole = journal(fleet, host)
        assert "ansible" in whole.lower()  # the modules' own journal lines are there to search
        logs = fleet.run(host, ["sh", "-c", "cat %s/*.log" % services.LOG_DIR]).stdout
        for name, key in keys.items():
            assert key not in whole, (host.name, name)
            assert key not in logs, (host.name, name)
