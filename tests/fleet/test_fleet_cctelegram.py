"""`mcpops fleet up --service cctelegram-mcp`: three Debian hosts, each running the reference cctelegram-mcp and
cctelegram-bridge as systemd units on its own loopback address, the API key in a 0600 file; the fleet's
CCTelegram faults (unhealthy, healthy, bridge-down, crash-loop, stop; bad-release, bridge-hung, memory-leak,
error-storm), each seen by systemd and over HTTP and cleared by `up`; the releases a rollback uses, the metrics
listener's Bearer key (Prometheus's), a standby host, and the Telegram Bot API client side (a loopback receiver).

One fleet for the module (booting one costs most of the time); the tests run in file order and each leaves
the fleet healthy again for the next."""

import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mcpops.lab.fleet import cctelegram_releases as releases, services
from mcpops.lab.fleet.errors import FleetError
from mcpops.lab.fleet.lab import FleetLab
from fleet_helpers import BIN, REPO, cctelegram_fleet, cctelegram_health, journal, out, wait_cctelegram_health

MCPOPS = str(Path(sys.executable).parent / "mcpops")
UNITS = (services.MCP_UNIT, services.BRIDGE_UNIT)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with cctelegram_fleet(tmp_path_factory.mktemp("cctelegram"), 3) as fleet:
        yield fleet


def active(fleet, host, unit):
    return fleet.run(host, ["systemctl", "is-active", unit], check=False).stdout.strip()


def mcpops_fleet(fleet, *args):
    return subprocess.run([MCPOPS, "fleet", "--dir", str(fleet.state_dir), *args], capture_output=True, text=True,
                          timeout=300)


def test_three_hosts_serve_cctelegram_with_the_fleets_one_key(fleet):
    hosts = fleet.hosts()
    assert [h.address for h in hosts] == ["%s.%d" % (fleet.net, 11 + i) for i in range(3)]
    keys = {h.name: h.api_key() for h in hosts}
    # One key for the fleet, as instances behind one load balancer share theirs: the one in secrets/ (0600).
    fleet_key = (fleet.state_dir / "secrets" / "cctelegram_api_key").read_text().strip()
    assert set(keys.values()) == {fleet_key} and len(fleet_key) > 16
    assert stat.S_IMODE((fleet.state_dir / "secrets" / "cctelegram_api_key").stat().st_mode) == 0o600
    for host in hosts:
        for unit in UNITS:
            assert active(fleet, host, unit) == "active", (host.name, unit)
            assert fleet.run(host, ["systemctl", "is-enabled", unit], check=False).stdout.strip() == "enabled"
        assert active(fleet, host, "onec-mcp-gateway") != "active"
        assert cctelegram_health(host) == 200
        assert cctelegram_health(host, api_key="") == 401
        assert cctelegram_health(host, api_key=fleet_key[:-1] + ("x" if fleet_key[-1] != "x" else "y")) == 401
        # The key file: 0600 in a 0700 dir on this side, named (not held) by the unit.
        assert stat.S_IMODE(host.api_key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(host.cctelegram_etc.stat().st_mode) == 0o700
        shown = fleet.run(host, ["systemctl", "show", services.MCP_UNIT, "--property=Environment"]).stdout
        assert "CCTELEGRAM_API_KEY_FILE=/etc/cctelegram/api_key" in shown and keys[host.name] not in shown
        # The service's own log dir and state dir, as the profile names them.
        assert fleet.run(host, ["test", "-f", services.LOG_DIR + "/application.log"], check=False).returncode == 0
    status = fleet.status()
    assert status["healthy"], status
    assert {(h["unit"], h["gateway"], h["healthz"]) for h in status["hosts"]} == {("cctelegram-mcp", "active", 200)}
    cli = mcpops_fleet(fleet, "status")
    assert cli.returncode == 0 and cli.stdout.count("cctelegram-mcp active  health 200") == 3, out(cli)


def test_the_inventory_names_the_service_and_reads_the_key_from_its_file(fleet):
    group_vars = (fleet.inventory_dir / "group_vars" / "gateways.yml").read_text()
    for line in ("mcp_service: cctelegram-mcp", "gateway_platform: systemd", "gateway_service_name: cctelegram-mcp",
                 'gateway_api_url: "http://{{ ansible_host }}:8080"'):
        assert line in group_vars
    assert "lookup('ansible.builtin.file', mcpops_fleet_dir ~ '/hosts/' ~ inventory_hostname ~ " \
           "'/etc-cctelegram/api_key')" in group_vars
    keys = [h.api_key() for h in fleet.hosts()]
    for path in fleet.inventory_dir.rglob("*"):
        if path.is_file() and any(k in path.read_text() for k in keys):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # What Ansible makes of it, over SSH with the fleet's key: each host's URL and key answer 200. (no_target_syslog:
    # a module logs its arguments to the target's journal, and uri's headers are not no_log; the collection's
    # service_health takes the key as a no_log option instead.)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_NO_TARGET_SYSLOG="1",
               no_proxy="127.0.0.1,localhost")
    proc = subprocess.run(
        [str(BIN / "ansible"), "gateways", "-i", str(fleet.inventory_dir), "-m", "ansible.builtin.uri", "-a",
         "url={{ gateway_api_url }}/health headers={{ {'X-API-Key': cctelegram_api_key} }}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and len(re.findall(r'"?status"?: 200', proc.stdout)) == 3, out(proc)
    for key in keys:
        assert key not in proc.stdout + proc.stderr


def test_unhealthy_on_one_host_only_then_healthy(fleet):
    one, two, three = fleet.hosts()
    said = fleet.break_(one.name, "unhealthy")
    assert "answers 503" in said, said
    assert cctelegram_health(one) == 503
    assert cctelegram_health(two) == 200 and cctelegram_health(three) == 200
    assert active(fleet, one, services.MCP_UNIT) == "active"  # unhealthy, not down
    said = fleet.break_(one.name, "healthy")
    assert "answers 200" in said, said
    assert cctelegram_health(one) == 200


def test_bridge_down_makes_health_503_and_a_restart_brings_the_bridge_back(fleet):
    two = fleet.hosts()[1]
    said = fleet.break_(two.name, "bridge-down")
    assert "answers 503" in said, said
    assert active(fleet, two, services.BRIDGE_UNIT) == "inactive"
    assert active(fleet, two, services.MCP_UNIT) == "active"
    assert cctelegram_health(two) == 503
    # What a restart remedy does: cctelegram-mcp Wants= the bridge, so restarting it starts the bridge too.
    fleet.run(two, ["systemctl", "restart", services.MCP_UNIT], timeout=120)
    wait_cctelegram_health(two, 200)
    assert active(fleet, two, services.BRIDGE_UNIT) == "active"


def test_crash_loop_ends_failed_and_up_repairs_it(fleet):
    three = fleet.hosts()[2]
    said = fleet.break_(three.name, "crash-loop")
    state = three.unit_state(fleet.pid(three))
    assert state["ActiveState"] == "failed" and state["Result"] in ("exit-code", "start-limit-hit"), (state, said)
    assert cctelegram_health(three) is None  # nothing listens
    assert active(fleet, three, services.BRIDGE_UNIT) == "active"
    # The unit says why in the journal, as a real misconfiguration would (the key file's name, not a key).
    assert "api_key.missing" in journal(fleet, three, services.MCP_UNIT)
    # `up` on the running fleet clears the lab's faults and starts the units again, without a reboot.
    before = fleet.pid(three)
    result = fleet.up(3)
    assert result["started"] == [] and fleet.pid(three) == before
    assert cctelegram_health(three) == 200


def test_stop_and_an_unknown_fault(fleet):
    one = fleet.hosts()[0]
    said = fleet.break_(one.name, "stop")
    assert said.startswith("stop: systemctl stop cctelegram-mcp")
    assert active(fleet, one, services.MCP_UNIT) == "inactive"
    assert cctelegram_health(one) is None
    cli = mcpops_fleet(fleet, "break", one.name, "corrupt-store")  # a 1C gateway fault, not this fleet's
    assert cli.returncode == 4 and "faults of a cctelegram-mcp fleet: " in cli.stderr, out(cli)
    assert "crash-loop" in cli.stderr
    cli = mcpops_fleet(fleet, "up", "--hosts", "3", "--inventory", str(fleet.inventory_dir))  # keeps its service
    assert cli.returncode == 0 and "cctelegram-mcp :8080" in cli.stdout, out(cli)
    assert cctelegram_health(one) == 200


def test_a_running_fleet_is_not_rebooted_as_another_service(fleet):
    with pytest.raises(FleetError, match="runs cctelegram-mcp; `mcpops fleet down` first"):
        FleetLab(fleet.state_dir, inventory_dir=fleet.inventory_dir, service="onec-gateway").up(3)
    assert all(cctelegram_health(h) == 200 for h in fleet.hosts())


def test_the_key_is_in_no_journal_and_no_log(fleet):
    for host in fleet.hosts():
        key = host.api_key()
        assert key not in journal(fleet, host)  # the whole journal of the host, every field
        logs = fleet.run(host, ["sh", "-c", "cat %s/*.log" % services.LOG_DIR]).stdout
        assert "401" in logs or "auth" in logs.lower()  # the refused requests above were logged ...
        assert key not in logs  # ... without the key


# -- issue 19, the host side: releases, the metrics listener's Bearer key, the new faults, standby, the Bot API ----

def links(host):
    return {name: releases.link_target(services.releases_dir(host), name) for name in ("current", "previous")}


def process_state(fleet, host, pid):
    """The state letter of a process inside the host (/proc/<pid>/stat): T is stopped."""
    return fleet.run(host, ["cat", f"/proc/{pid}/stat"]).stdout.rsplit(")", 1)[1].split()[0]


def test_each_host_runs_release_2_4_0_from_its_releases_dir_and_says_so(fleet):
    for host in fleet.hosts():
        assert links(host) == {"current": "2.4.0", "previous": "2.3.0"}
        assert os.readlink(services.releases_dir(host) / "current") == "2.4.0"  # relative, as release_link's
        inside = fleet.run(host, ["readlink", "-f", releases.RELEASES + "/current"]).stdout.strip()
        assert inside == releases.RELEASES + "/2.4.0"  # the bind mount, seen from inside the host
        exec_start = fleet.run(host, ["systemctl", "show", services.MCP_UNIT, "--property=ExecStart"]).stdout
        assert releases.RELEASES + "/current/bin/cctelegram-mcp" in exec_start
        status, body = services.health(host)
        assert status == 200 and body["version"] == "2.4.0"
        # The metrics listener takes the key as Prometheus sends it, a Bearer token; a wrong one is refused.
        status, raw = services.request(host, "/metrics", port=services.METRICS_PORT, bearer=True)
        assert status == 200 and 'cctelegram_build_info{version="2.4.0"} 1' in raw.decode()
        assert services.request(host, "/metrics", port=services.METRICS_PORT, bearer=True, api_key="wrong")[0] == 401
        assert services.request(host, "/metrics", port=services.METRICS_PORT, api_key="")[0] == 401


def test_bad_release_crash_loops_to_failed(fleet):
    one = fleet.hosts()[0]
    said = fleet.break_(one.name, "bad-release")
    assert "2.4.0 -> 2.5.0 (previous -> 2.4.0)" in said, said
    state = one.unit_state(fleet.pid(one))
    assert state["ActiveState"] == "failed", (state, said)
    assert links(one) == {"current": "2.5.0", "previous": "2.4.0"}  # what release_link's rolled_back undoes
    assert cctelegram_health(one) is None
    assert "cctelegram-mcp 2.5.0: failed to start" in journal(fleet, one, services.MCP_UNIT)
    log = fleet.run(one, ["cat", services.LOG_DIR + "/application.log"]).stdout
    assert '"error_type": "ReleaseStartupError"' in log


def test_bridge_hung_is_active_for_systemd_but_health_is_503(fleet):
    two = fleet.hosts()[1]
    said = fleet.break_(two.name, "bridge-hung")
    assert "answers 503" in said, said
    bridge = two.unit_state(fleet.pid(two), services.BRIDGE_UNIT)
    assert bridge["ActiveState"] == "active" and process_state(fleet, two, bridge["MainPID"]) == "T"
    status, body = services.health(two)
    assert status == 503 and body["bridge"].startswith("unreachable: timed out")


def test_memory_leak_grows_the_rss_seen_in_metrics(fleet):
    three = fleet.hosts()[2]
    said = fleet.break_(three.name, "memory-leak")
    before, after = (float(n) for n in re.search(r"process_memory_bytes (\d+) -> (\d+) MB", said).groups())
    assert after - before >= services.LEAK_SEEN_MB, said
    # The seed's MemoryLeakDetection metric sees it too (the line rounds to whole MB).
    assert services.metric(three, "process_memory_heap_used_bytes") >= (after - 1) * 1024 * 1024


def test_error_storm_fails_half_the_tool_calls_with_error_lines(fleet):
    three = fleet.hosts()[2]
    said = fleet.break_(three.name, "error-storm")
    assert f"{services.ERROR_PROBES // 2} of {services.ERROR_PROBES} requests" in said, said
    assert cctelegram_health(three) == 200  # degraded, not down
    log = fleet.run(three, ["cat", services.LOG_DIR + "/application.log"]).stdout
    storm = [json.loads(line) for line in log.splitlines() if '"error_type": "TelegramAPIError"' in line]
    assert len(storm) >= services.ERROR_PROBES // 2 and {r["level"] for r in storm} == {"ERROR"}


def test_up_clears_every_new_fault_without_a_reboot(fleet):
    one, two, three = fleet.hosts()
    nspawn = {h.name: fleet.pid(h) for h in fleet.hosts()}
    bridge_pid = two.unit_state(fleet.pid(two), services.BRIDGE_UNIT)["MainPID"]
    mcp_pid = two.unit_state(fleet.pid(two))["MainPID"]
    leaky_pid = three.unit_state(fleet.pid(three))["MainPID"]
    leaked_rss = services.metric(three, "process_memory_bytes")
    result = fleet.up(3)
    assert result["started"] == [] and {h.name: fleet.pid(h) for h in fleet.hosts()} == nspawn
    # memory-leak: `up` queues the restart (--no-block); until it has run, /health still answers from the leaky process
    deadline = time.monotonic() + 60
    while three.unit_state(fleet.pid(three))["MainPID"] in (leaky_pid, "0"):
        assert time.monotonic() < deadline, "up did not restart the leaking cctelegram-mcp within 60 s"
        time.sleep(0.5)
    for host in (one, two, three):
        wait_cctelegram_health(host, 200)
    # bad-release: current back on 2.4.0 (and previous on 2.3.0), which answers.
    assert links(one) == {"current": "2.4.0", "previous": "2.3.0"} and services.health(one)[1]["version"] == "2.4.0"
    # bridge-hung: the same bridge process, running again (SIGCONT, not a restart).
    assert two.unit_state(fleet.pid(two), services.BRIDGE_UNIT)["MainPID"] == bridge_pid
    assert process_state(fleet, two, bridge_pid) != "T"
    assert two.unit_state(fleet.pid(two))["MainPID"] == mcp_pid  # nothing to restart there: `up` did not
    # memory-leak: a restart gave the memory back; error-storm: faults.json is gone.
    assert three.unit_state(fleet.pid(three))["MainPID"] != leaky_pid
    assert services.metric(three, "process_memory_bytes") < leaked_rss - 8 * 1024 * 1024
    assert {services.request(three, "/tools/get_bridge_status", method="POST")[0] for _ in range(6)} == {200}


def test_a_standby_host_has_its_units_installed_but_disabled_and_stopped(fleet):
    three = fleet.hosts()[2]
    pid = fleet.pid(three)
    try:
        services.prepare(three, standby=True)
        services.activate(three, pid)
        services.activate(three, pid)  # a second `up`: the same
        for unit in UNITS:
            assert active(fleet, three, unit) == "inactive", unit
            assert fleet.run(three, ["systemctl", "is-enabled", unit], check=False).stdout.strip() == "linked"
        assert cctelegram_health(three) is None
        # What a scale-up does with it: start by name.
        fleet.run(three, ["systemctl", "start", f"{services.MCP_UNIT}.service"], timeout=120)
        wait_cctelegram_health(three, 200)
    finally:
        services.prepare(three)
        services.activate(three, pid)
    wait_cctelegram_health(three, 200)
    assert fleet.run(three, ["systemctl", "is-enabled", services.MCP_UNIT], check=False).stdout.strip() == "enabled"


class BotApiReceiver:
    """A loopback stand-in of the Bot API's sendMessage, in this process: records (path, body), answers ok."""

    def __init__(self):
        self.received = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
                data = json.dumps({"ok": True, "result": {"message_id": len(received)}}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_send_telegram_message_reaches_the_bot_api_without_the_token_in_any_log(fleet):
    one = fleet.hosts()[0]
    pid = fleet.pid(one)
    token = "424242:fleet-canary-token-Jk3"
    receiver = BotApiReceiver()
    try:
        services.prepare(one, telegram_url=receiver.url, bot_token=token)
        before = one.unit_state(pid)["MainPID"]
        services.activate(one, pid)  # the unit file changed: cctelegram-mcp restarts with it
        deadline = time.monotonic() + 60
        while one.unit_state(pid)["MainPID"] in (before, "0"):
            assert time.monotonic() < deadline, "cctelegram-mcp was not restarted with its new unit file"
            time.sleep(0.5)
        wait_cctelegram_health(one, 200)
        req = {"message": "Auto-recovery successful", "source": "monitoring"}
        status, raw = services.request(one, "/tools/send_telegram_message", method="POST", timeout=10,
                                       data=json.dumps(req).encode())
        assert status == 200 and json.loads(raw)["simulated"] is False, raw
        assert receiver.received == [(f"/bot{token}/sendMessage",
                                      {"chat_id": "@cctelegram_ops", "text": "Auto-recovery successful"})]
        shown = fleet.run(one, ["systemctl", "show", services.MCP_UNIT, "--property=Environment"]).stdout
        assert f"CCTELEGRAM_TELEGRAM_API_URL={receiver.url}" in shown and token not in shown
        assert stat.S_IMODE(services.bot_token_file(one).stat().st_mode) == 0o600
        logs = fleet.run(one, ["sh", "-c", "cat %s/*.log" % services.LOG_DIR]).stdout
        assert "/tools/send_telegram_message 200" in logs and token not in logs
        assert token not in journal(fleet, one)
    finally:
        receiver.close()
    fleet.up(3)  # back to the fleet's own stand-in (or none), which restarts the unit again
    wait_cctelegram_health(one, 200)
    token_file = services.bot_token_file(one)
    assert not token_file.exists() or token not in token_file.read_text()
