"""playbooks/cctelegram-auto-recovery.yml on a real cctelegram-mcp host under systemd (`mcpops fleet up --service
cctelegram-mcp`): the seed's auto-recovery.sh as mcpops-auto-recovery.timer, here every 2 s (the default is 5 min).

- --check installs nothing; the install then runs twice and the second run changes nothing;
- `fleet break fleet1 stop`: the timer's run restarts cctelegram-mcp, /health is 200 again, the service's own
  send_telegram_message delivered "Auto-recovery successful" (to the fleet's Telegram stand-in, or the outbox
  file of a fleet without one), the textfile says restarts_total 1;
- broken again past max_restarts (2 here): the flap guard escalates once to a loopback receiver, restarts nothing
  more, and the unit stays down while the timer keeps running;
- the host's API key is in no journal line of the runs and no property of the units; the webhook's token is in no
  journal line and no playbook output;
- auto_recovery_state=absent removes the timer, the service, the program, its config, state and metrics.
Everything "restarted" or "down" is read from the host's systemd and files, never from what the playbook printed.
The tests run in file order on one fleet (each starts where the one before left off).
"""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mcpops.lab.fleet import services, telegram_standin
from mcpops.lab.fleet.errors import FleetError
from fleet_helpers import (cctelegram_fleet, cctelegram_health, journal, out, run_playbook, wait_cctelegram_health)

NET = "127.0.23"
MCP = services.MCP_UNIT
NAME = "mcpops-auto-recovery"
METRICS = "/var/lib/node_exporter/textfile/mcpops_auto_recovery.prom"
OUTBOX = services.STATE_DIR + "/telegram_outbox.jsonl"
WEBHOOK_TOKEN = "hook-tok3n-never-printed"
INSTALLED = ["/etc/systemd/system/%s.timer" % NAME, "/etc/systemd/system/%s.service" % NAME,
             "/usr/local/lib/%s/mcpops_auto_recovery.py" % NAME, "/etc/%s/config.json" % NAME,
             "/var/lib/%s/state.json" % NAME, METRICS]
WAIT = 60.0
OUTPUTS = []


class Receiver(BaseHTTPRequestHandler):
    """The escalation webhook: each POST's path and JSON body."""

    received = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/escalate/%s" % (server.server_address[1], WEBHOOK_TOKEN), Receiver.received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("cctelegram-auto-recovery")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MCPOPS_FLEET_NET", NET)
        mp.setenv("MCPOPS_RUNS_DIR", str(root / "runs"))
        with cctelegram_fleet(root, 1) as fleet:
            assert fleet.net == NET
            [host] = fleet.hosts()
            wait_cctelegram_health(host, 200)
            yield fleet


def playbook(fleet, *args):
    proc = run_playbook(fleet, "playbooks/cctelegram-auto-recovery.yml", *args)
    OUTPUTS.append(proc.stdout + proc.stderr)
    return proc


def install_args(webhook, *more):
    return ["-e", "interval=2s", "-e", "auto_recovery_accuracy=1s", "-e", "max_restarts=2", "-e", "verify_seconds=20",
            "-e", "escalation_webhook=" + webhook] + list(more)


def recap_changed(proc):
    [changed] = re.findall(r"fleet1\s*:\s*ok=\d+\s+changed=(\d+)", proc.stdout)
    return int(changed)


def exists(fleet, host, path):
    return fleet.run(host, ["test", "-e", path], check=False).returncode == 0


def metrics(fleet, host):
    text = fleet.run(host, ["cat", METRICS]).stdout
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[s.name if "result" not in s.labels else (s.name, s.labels["result"])] = s.value
    return found


def wait_for(what, condition, timeout=WAIT):
    """Poll condition() (a truthy value) until it holds, within timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "not within %.0fs: %s" % (timeout, what)
        time.sleep(0.5)


def active(fleet, host, unit):
    return fleet.run(host, ["systemctl", "is-active", unit], check=False).stdout.strip()


def notifications(fleet, host):
    """The texts send_telegram_message delivered: to the fleet's Telegram Bot API stand-in (messages.jsonl, on the
    controller) when the fleet runs one, else to the host's outbox file."""
    texts = []
    standin = telegram_standin.messages_file(fleet.state_dir)
    if standin.exists():
        texts += [json.loads(line)["text"] for line in standin.read_text().splitlines() if line.strip()]
    local = fleet.run(host, ["sh", "-c", "cat %s 2>/dev/null || true" % OUTBOX]).stdout
    texts += [json.loads(line)["message"] for line in local.splitlines() if line.strip()]
    return [t for t in texts if t.startswith("Auto-recovery")]


def stop(fleet, host):
    """`mcpops fleet break HOST stop`. With a 2 s timer a run may catch the unit while it stops and restart it: systemd
    then replaces the stop job with the run's restart (a stop and a start), and the fault reports the stop job
    "canceled". The service was stopped either way, and the run counted its restart."""
    try:
        return fleet.break_(host.name, "stop")
    except FleetError as exc:
        if "Job for %s.service canceled" % MCP not in str(exc):
            raise
        return str(exc)


def state(fleet, host):
    return json.loads(fleet.run(host, ["cat", "/var/lib/%s/state.json" % NAME]).stdout)


def test_check_mode_installs_nothing_then_install_is_idempotent(fleet, receiver):
    [host] = fleet.hosts()
    webhook, _ = receiver
    proc = playbook(fleet, "--check", *install_args(webhook))
    assert proc.returncode == 0, out(proc)
    assert "would be installed or updated (check mode)" in proc.stdout, out(proc)
    assert not any(exists(fleet, host, p) for p in INSTALLED)
    proc = playbook(fleet, *install_args(webhook))
    assert proc.returncode == 0, out(proc)
    assert recap_changed(proc) > 0
    assert fleet.run(host, ["systemctl", "is-enabled", NAME + ".timer"]).stdout.strip() == "enabled"
    assert active(fleet, host, NAME + ".timer") == "active"
    config = fleet.run(host, ["stat", "-c", "%a %U", "/etc/%s/config.json" % NAME]).stdout.split()
    assert config == ["600", "root"]
    # The timer runs it: a healthy run writes the textfile.
    wait_for("a first run", lambda: exists(fleet, host, METRICS) and metrics(fleet, host).get(
        ("mcpops_auto_recovery_last_result", "healthy")) == 1)
    proc = playbook(fleet, *install_args(webhook))
    assert proc.returncode == 0, out(proc)
    assert recap_changed(proc) == 0, out(proc)
    assert "auto-recovery of cctelegram-mcp already as configured" in proc.stdout, out(proc)


def test_a_stopped_service_is_restarted_verified_and_notified(fleet):
    [host] = fleet.hosts()
    stop(fleet, host)
    wait_for("the timer restarted it", lambda: state(fleet, host)["restarts_total"] == 1)
    wait_cctelegram_health(host, 200)
    assert active(fleet, host, MCP) == "active"
    found = wait_for("restarts_total 1 and last result recovered in the textfile", lambda: (
        (m := metrics(fleet, host))["mcpops_auto_recovery_restarts_total"] == 1
        and m[("mcpops_auto_recovery_last_result", "recovered")] == 1 and m))
    assert found["mcpops_auto_recovery_escalations_total"] == 0
    assert notifications(fleet, host) == ["Auto-recovery successful: cctelegram-mcp on fleet1 restarted and healthy"], \
        fleet.run(host, ["journalctl", "--no-pager", "-u", NAME + ".service"]).stdout[-3000:]


def test_past_max_restarts_the_flap_guard_escalates_once_and_leaves_it_down(fleet, receiver):
    [host] = fleet.hosts()
    _, received = receiver
    stop(fleet, host)  # restart 2 of 2
    wait_for("the second restart", lambda: state(fleet, host)["restarts_total"] == 2)
    wait_cctelegram_health(host, 200)
    assert received == []
    stop(fleet, host)  # past the guard
    wait_for("the flap guard's escalation", lambda: received)
    [(path, body)] = received
    assert path == "/escalate/" + WEBHOOK_TOKEN
    assert body["event"] == "flap_guard" and body["host"] == "fleet1" and body["unit"] == MCP
    assert "flap guard: already 2 restarts in 30 minutes, not restarting it" in body["text"]
    tripped = state(fleet, host)["last_run"]
    # Two more timer runs: the guard holds, nothing restarted, no second escalation.
    wait_for("two more runs", lambda: sum(
        1 for line in journal(fleet, host, NAME + ".service").splitlines() if "flap guard holds" in line) >= 2)
    assert state(fleet, host)["last_run"] > tripped
    assert active(fleet, host, MCP) in ("inactive", "failed") and cctelegram_health(host) is None
    m = metrics(fleet, host)
    assert m["mcpops_auto_recovery_restarts_total"] == 2 and m["mcpops_auto_recovery_escalations_total"] == 1
    assert m["mcpops_auto_recovery_flap_guard_tripped"] == 1
    assert len(received) == 1
    assert "ESCALATION: cctelegram-mcp on fleet1 unhealthy" in journal(fleet, host, NAME + ".service")


def test_no_api_key_in_the_journal_or_unit_properties_no_webhook_token_in_output(fleet):
    [host] = fleet.hosts()
    key = host.api_key()
    assert len(key) > 16
    runs = journal(fleet, host, NAME + ".service")
    assert "restarting it" in runs and "recovered after a restart" in runs  # the runs are there to search
    assert key not in journal(fleet, host)
    for unit in (NAME + ".service", NAME + ".timer"):
        props = fleet.run(host, ["systemctl", "show", unit]).stdout
        assert "ExecStart=" in props or unit.endswith(".timer")
        assert key not in props and WEBHOOK_TOKEN not in props
    assert WEBHOOK_TOKEN not in runs
    for text in OUTPUTS:
        assert key not in text and WEBHOOK_TOKEN not in text


def test_absent_removes_everything(fleet):
    [host] = fleet.hosts()
    proc = playbook(fleet, "-e", "auto_recovery_state=absent")
    assert proc.returncode == 0, out(proc)
    assert "fleet1: auto-recovery removed" in proc.stdout, out(proc)
    assert [p for p in INSTALLED + ["/var/lib/" + NAME] if exists(fleet, host, p)] == []
    listed = fleet.run(host, ["systemctl", "list-units", "--all", "--no-legend", NAME + "*"]).stdout
    assert NAME not in listed, listed
    # The service is left as the flap guard left it: down, for a person to look at.
    assert active(fleet, host, MCP) in ("inactive", "failed")
