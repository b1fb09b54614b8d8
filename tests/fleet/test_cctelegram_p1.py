"""cctelegram-p1-response.yml (seed 002, P1) and cctelegram-lb-recovery.yml (seed 002, Load Balancer Recovery) with
ansible-playbook over SSH on the session's CCTelegram stack (tests/fleet/conftest.py cctelegram_stack). Each result is
read back from the things themselves: nginx's confs (bytes) and access log, the answers nginx gives a client, systemd's
MainPID; never from what the playbook printed alone (but for the investigation, whose product is its summary).

- a traffic spike from 127.0.0.66: the investigation names it; containment rate-limits it (429 beyond the low rate)
  and not 127.0.0.1, and lowers the concurrent connections a client may hold (limit_conn 2: a client holding two
  requests open gets 429 for a third); contain_revert puts the confs back byte for byte (a third request is served
  again); --check changes no conf, restarts nothing;
- a memory leak on fleet2 and a stopped bridge on fleet3: the investigation names both, resolve=restart restarts fleet2
  only, the circuit breaker (POST /tools/restart_bridge) goes to fleet3 only;
- load balancer recovery: drain fleet1 with new health check settings (the site conf; nginx sends it nothing), then
  restore it (nginx sends it traffic again); --check changes nothing;
- no API key or bot token in any output.
Each test starts from a healthy stack and leaves one (`fleet.up(3)` clears faults, drains, offenders).
"""

import http.client
import json
import re
import socket
import time
import urllib.parse

import pytest

from fleet_helpers import out, run_playbook, service_unit_show
from mcpops.lab.fleet import cctelegram_controller, services
from mcpops.lab.http_client import http_json

P1 = "playbooks/cctelegram-p1-response.yml"
LB = "playbooks/cctelegram-lb-recovery.yml"
SPIKE = cctelegram_controller.SPIKE_SOURCE
CROWD = "127.0.0.67"  # the client that holds connections open (not the spike's: its rate limit is another matter)
OUTPUTS = []  # every ansible-playbook output of the module, for the secrets test at the end


@pytest.fixture(scope="module", autouse=True)
def restored_at_the_end(cctelegram_stack):
    yield
    cctelegram_stack.up(3)  # nothing left limited, drained or leaking for the next module


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MCPOPS_RUNS_DIR", str(tmp_path / "runs"))


@pytest.fixture
def stack(cctelegram_stack, runs_dir):
    cctelegram_stack.up(3)
    for host in cctelegram_stack.serving_hosts():
        assert services.wait_health(host, (200,)) == 200, host.name
    return cctelegram_stack


def play(fleet, playbook, *args):
    proc = run_playbook(fleet, playbook, *args)
    OUTPUTS.append(proc.stdout + proc.stderr)
    return proc


def api_key(fleet):
    return (fleet.state_dir / "secrets" / "cctelegram_api_key").read_text().strip()


def confs(fleet):
    """The load balancer's confs, name -> bytes."""
    return {p.name: p.read_bytes() for p in sorted((fleet.state_dir / "lb" / "conf").glob("*.conf"))}


def site_conf(fleet):
    return (fleet.state_dir / "lb" / "conf" / "cctelegram.conf").read_text()


def main_pids(fleet):
    return {h.name: service_unit_show(fleet, h, services.MCP_UNIT)["MainPID"] for h in fleet.serving_hosts()}


def through_lb(fleet, source, requests):
    """requests GETs of /health through nginx from source, one at a time, with the API key: {status: count}."""
    return cctelegram_controller.traffic_spike(fleet, requests=requests, concurrency=1, source=source,
                                               api_key=api_key(fleet))["statuses"]


def upstreams_served(fleet, requests):
    """The upstream addresses nginx sent `requests` new requests from 127.0.0.1 to (its access log)."""
    log = fleet.state_dir / "lb" / "logs" / "access.log"
    seen = len(log.read_text().splitlines())
    assert through_lb(fleet, "127.0.0.1", requests) == {"200": requests}
    lines = [json.loads(line) for line in log.read_text().splitlines()[seen:]]
    return {addr.strip() for line in lines for addr in line["upstream_addr"].split(",") if addr.strip()}


def lb_port(fleet):
    return urllib.parse.urlsplit(cctelegram_controller.load_balancer(fleet).url).port


def held_open(fleet, source, count):
    """count connections from source whose request nginx has read and whose body never comes: each holds one of
    the client's limit_conn slots until it is closed."""
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", lb_port(fleet)), timeout=10, source_address=(source, 0))
        sock.sendall(b"POST /health HTTP/1.1\r\nHost: lb\r\nContent-Length: 64\r\n\r\n")
        held.append(sock)
    return held


def one_more_status(fleet, source):
    conn = http.client.HTTPConnection("127.0.0.1", lb_port(fleet), timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", "/health", headers={"X-API-Key": api_key(fleet)})
        return conn.getresponse().status
    finally:
        conn.close()


def third_request_while_two_are_held(fleet, wanted):
    """The status of a third request from CROWD while it holds two open, asked until it is wanted (nginx counts a
    held connection once it has read its request line and headers) or 20 s passed."""
    held = held_open(fleet, CROWD, 2)
    try:
        deadline = time.monotonic() + 20
        while (status := one_more_status(fleet, CROWD)) != wanted and time.monotonic() < deadline:
            time.sleep(0.2)
        return status
    finally:
        for sock in held:
            sock.close()


def test_traffic_spike_named_then_contained_and_reverted_byte_for_byte(stack):
    fleet = stack
    before_confs, before_pids = confs(fleet), main_pids(fleet)
    fleet.break_("lb", "traffic-spike")
    contain = ("-e", json.dumps({"contain_clients": [SPIKE]}), "-e", "contain_connections=2")
    # Check mode: the investigation names the client; no conf touched, nothing restarted.
    proc = play(fleet, P1, *contain, "-e", "resolve=restart", "-e", "resolve_hosts=fleet1", "--check")
    assert proc.returncode == 0, out(proc)
    named = r"^localhost: Suspect clients \(over 100 refused\): %s$" % re.escape(SPIKE)
    assert re.search(named, proc.stdout, re.M), out(proc)
    assert confs(fleet) == before_confs
    assert main_pids(fleet) == before_pids
    # For real: the client is marked, nginx (reloaded) holds it to the offenders' rate; 127.0.0.1 is not limited.
    proc = play(fleet, P1, *contain)
    assert proc.returncode == 0, out(proc)
    offenders = (fleet.state_dir / "lb" / "conf" / "cctelegram_offenders.conf").read_text()
    assert re.search(r"^\s*%s 1;$" % re.escape(SPIKE), offenders, re.M), offenders
    limited = through_lb(fleet, SPIKE, 30)
    assert limited.get("429", 0) >= 10, limited  # a burst of 5 at 2r/s: most of 30 back-to-back requests are refused
    assert through_lb(fleet, "127.0.0.1", 20) == {"200": 20}
    # Resource limits: two concurrent connections a client; nginx turns a third away (the lab's limit_conn_status 429).
    assert re.search(r"^\s*limit_conn cctelegram_conn 2; # mcpops nginx_client_limit: was connections=64$",
                     site_conf(fleet), re.M), site_conf(fleet)
    assert "localhost: Containment: concurrent connections a client at nginx 64 -> 2\n" in proc.stdout, out(proc)
    assert third_request_while_two_are_held(fleet, 429) == 429
    # Reverted: the confs are what they were, byte for byte, and nginx lets the client through again.
    proc = play(fleet, P1, *contain, "-e", "contain_revert=true")
    assert proc.returncode == 0, out(proc)
    assert confs(fleet) == before_confs
    assert through_lb(fleet, SPIKE, 10) == {"200": 10}
    assert third_request_while_two_are_held(fleet, 200) == 200
    assert main_pids(fleet) == before_pids


def memory_growth(fleet, instance):
    """Prometheus' delta(process_memory_bytes[10m]) of the instance, in bytes (None: no series yet)."""
    port = cctelegram_controller.records(fleet)["prometheus"]["port"]
    query = 'delta(process_memory_bytes{job="cctelegram-mcp",instance="%s"}[10m])' % instance
    status, body = http_json("http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": query})),
                             timeout=10)
    assert status == 200, body
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def bridge_restart_requests(fleet):
    """Each serving host's last POST /tools/restart_bridge record (the file's text; "" when none)."""
    path = services.STATE_DIR + "/bridge_restart_request.json"
    return {h.name: fleet.ssh(h, "cat", path).stdout for h in fleet.serving_hosts()}


def test_memory_leak_named_and_resolve_restarts_that_instance_only(stack):
    fleet = stack
    fleet.break_("fleet2", "memory-leak")
    fleet.break_("fleet3", "bridge-down")  # the circuit breaker's target; no reason to restart it
    requests_before = bridge_restart_requests(fleet)
    # Prometheus scrapes every 2 s: wait, with a deadline, until the growth it sees passes the threshold given below.
    deadline = time.monotonic() + 90
    while (grown := memory_growth(fleet, "fleet2")) is None or grown < 40 * 1024 * 1024:
        assert time.monotonic() < deadline, "fleet2's memory growth never showed in Prometheus: %r" % grown
        time.sleep(1)
    before = main_pids(fleet)
    # The session's hosts keep earlier modules' ERROR lines for 15 minutes: only the memory criterion here.
    proc = play(fleet, P1, "-e", "resolve=restart", "-e", "memory_growth_mb=32", "-e", "error_threshold=1000000",
                "-e", "contain_circuit_breaker=true")
    assert proc.returncode == 0, out(proc)
    assert "Suspect instances, failing bridge: fleet3\n" in proc.stdout, out(proc)
    requests_after = bridge_restart_requests(fleet)
    assert requests_after["fleet3"] != requests_before["fleet3"] and "requested_at" in requests_after["fleet3"]
    others = ("fleet1", "fleet2")
    assert [requests_after[n] for n in others] == [requests_before[n] for n in others]
    assert "Suspect instances, memory growth (over 32 MB in 10 min): fleet2\n" in proc.stdout, out(proc)
    assert "Resolution: restarted one at a time: fleet2\n" in proc.stdout, out(proc)
    after = main_pids(fleet)
    assert after["fleet2"] != before["fleet2"]
    assert {n: p for n, p in after.items() if n != "fleet2"} == {n: p for n, p in before.items() if n != "fleet2"}


def test_lb_recovery_drain_health_checks_restore(stack):
    fleet = stack
    fleet1 = fleet.serving_hosts()[0]
    server = f"{fleet1.address}:{services.API_PORT}"
    args = ("-e", "drain=fleet1", "-e", "health_check=true", "-e", "max_fails=3", "-e", "fail_timeout=15s")
    before = confs(fleet)
    proc = play(fleet, LB, *args, "--check")
    assert proc.returncode == 0, out(proc)
    assert confs(fleet) == before
    proc = play(fleet, LB, *args)
    assert proc.returncode == 0, out(proc)
    servers = re.findall(r"^\s*server (\S+) ([^;]*);", site_conf(fleet), re.M)
    assert len(servers) == 3 and all(p.startswith("max_fails=3 fail_timeout=15s") for _, p in servers), servers
    assert [s for s, p in servers if p.endswith(" down")] == [server], servers
    assert server not in upstreams_served(fleet, 12)
    proc = play(fleet, LB, "-e", "restore=fleet1", "-e", "redistribute=true")
    assert proc.returncode == 0, out(proc)
    assert not re.search(r"^\s*server \S+ [^;]* down;", site_conf(fleet), re.M)
    assert server in upstreams_served(fleet, 12)


def test_bad_input_is_refused_before_anything(cctelegram_stack, runs_dir):
    fleet = cctelegram_stack
    proc = play(fleet, P1, "-e", "resolve=reboot")
    assert proc.returncode == 2 and "Nothing was changed" in proc.stdout, out(proc)
    assert "get_bridge_status" not in proc.stdout
    proc = play(fleet, LB, "-e", "drain=nosuchhost:80")
    assert proc.returncode == 2 and "Not in the upstream" in proc.stdout, out(proc)


def test_no_api_key_or_bot_token_in_any_output(cctelegram_stack):
    fleet = cctelegram_stack
    secrets = [(fleet.state_dir / "secrets" / name).read_text().strip()
               for name in ("cctelegram_api_key", "telegram_bot_token")]
    assert len(OUTPUTS) >= 7
    for text in OUTPUTS:
        for secret in secrets:
            assert secret not in text
