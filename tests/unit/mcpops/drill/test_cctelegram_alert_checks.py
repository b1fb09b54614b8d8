"""CCTelegram's last four alerts (issue 21) without a fleet: the scenarios that drill them, the faults' rates against
the rules' thresholds over the lab's window, the steady client the traffic faults run inside a host, the repairs the
drill makes itself, and the pure checks of triage's bundle (mcpops.drill.checks). tests/fleet/
test_cctelegram_alert_drill.py runs the four drills on the session's stack."""

import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from mcpops.drill import checks, scenarios
from mcpops.drill.alert_chain import LAB_RANGE
from mcpops.drill.alert_drill import approval_inputs, plan_alert_drill
from mcpops.drill.lab_adapters import FleetDrillLab, Target
from mcpops.drill.scenarios import CCTELEGRAM, FIRST, FLEET, DrillError, choose
from mcpops.lab.fixtures.alerting_config import RULES_DIR
from mcpops.lab.fleet import client_traffic, services
from mcpops.lab.fleet.faults import faults_for
from mcpops.run.runbooks import discover

RUNBOOKS = {r.id: r for r in discover()}
RULES = {rule["alert"]: rule for group in yaml.safe_load((RULES_DIR / "cctelegram-mcp.rules.yml").read_text())["groups"]
         for rule in group["rules"]}
WINDOW = int(LAB_RANGE.rstrip("s"))  # the chain's rule copies look back this many seconds


def threshold(alert):
    return float(re.search(r">\s*([0-9.]+)\s*$", RULES[alert]["expr"].strip()).group(1))


@pytest.mark.parametrize("runbook_id, fault, alert", [
    ("triage", "server-errors", "CctelegramServerErrors"),
    ("triage", "auth-failures", "CctelegramSecurityEvents"),
    ("cctelegram-p1-response", "wedged", "ConsecutiveErrors"),
    ("cctelegram-p1-response", "memory-leak", "MemoryLeakDetection"),
])
def test_each_alert_has_a_scenario_of_a_fault_of_one_cctelegram_host(runbook_id, fault, alert):
    s = choose(runbook_id, fault, FLEET, CCTELEGRAM)
    assert s.alert == alert and RULES[alert]["labels"]["runbook"] == runbook_id
    assert s.labs == (FLEET,) and s.services == (CCTELEGRAM,) and s.targets == FIRST and s.healthy_after is True
    assert fault in faults_for(CCTELEGRAM) and s.symptom in checks.SYMPTOMS and s.why
    runbook = RUNBOOKS[runbook_id]
    if runbook.changes:  # P1: a check run, then the approver's inputs (resolve=restart: an alert cannot choose)
        with pytest.raises(DrillError, match="drill it with --approval"):
            plan_alert_drill(runbook, s, FLEET, CCTELEGRAM)
        plan_alert_drill(runbook, s, FLEET, CCTELEGRAM, "approve")
        plan_alert_drill(runbook, s, FLEET, CCTELEGRAM, "deny")
        assert approval_inputs(s)[:2] == ["-e", "resolve=restart"] and s.symptom == "unit_restarted"
    else:  # triage: at once, it ends green (0) naming the fault in its bundle, there is nothing to approve
        plan_alert_drill(runbook, s, FLEET, CCTELEGRAM)
        with pytest.raises(DrillError, match="is read-only"):
            plan_alert_drill(runbook, s, FLEET, CCTELEGRAM, "approve")
        assert s.expect_exit == 0 and s.symptom in checks.CCTELEGRAM_BUNDLE_SYMPTOMS and not s.extra_vars


def test_via_alert_without_a_fault_drills_triage_s_first_cctelegram_alert_and_p1_s_memory_leak():
    assert scenarios.alerted_scenario("triage", FLEET, CCTELEGRAM).fault == "server-errors"
    assert scenarios.alerted_scenario("cctelegram-p1-response", FLEET, CCTELEGRAM).fault == "memory-leak"


def test_the_faults_pass_their_rule_s_threshold_in_the_lab_s_window_and_only_theirs():
    # server-errors: 5xx over 5 % of fleet1's requests (beside the two Prometheus scrapes a second and a half), but
    # fewer than ConsecutiveErrors' 50 in the window: triage alone starts
    scrapes = 1 + 0.5
    share = services.SERVER_ERRORS_RATE / (services.SERVER_ERRORS_RATE + scrapes)
    assert share > threshold("CctelegramServerErrors")
    assert services.SERVER_ERRORS_RATE * WINDOW < threshold("ConsecutiveErrors") * 0.8
    # wedged: well over ConsecutiveErrors' 50 (it fires CctelegramServerErrors as well: triage runs beside P1)
    assert services.WEDGED_RATE * WINDOW > threshold("ConsecutiveErrors") * 1.5
    # auth-failures: well over 20 security events in the window
    assert services.AUTH_FAILURES_RATE * WINDOW > threshold("CctelegramSecurityEvents") * 2
    # memory-leak: over 100 MiB within the window, even at three quarters of its rate (a loaded machine's ticks)
    assert services.LEAK_MB_PER_SECOND * 0.75 * WINDOW * 2 ** 20 > threshold("MemoryLeakDetection")
    assert services.LEAK_MAX_MB * 2 ** 20 > threshold("MemoryLeakDetection")


def test_the_steady_client_reads_the_host_s_key_from_its_file_or_makes_up_a_wrong_one():
    argv = client_traffic.argv("http://127.0.9.11:8080/tools/get_bridge_status", 1, "POST", key_file="/etc/k")
    assert argv[1:3] == ["-m", "mcpops.lab.fleet.client_traffic"] and argv[-2:] == ["--key-file", "/etc/k"]
    wrong = client_traffic.argv("http://127.0.9.11:8080/health", 2, wrong_key=True, source="127.0.0.66")
    assert wrong[-3:] == ["--wrong-key", "--source", "127.0.0.66"]
    for bad in ({}, {"key_file": "/etc/k", "wrong_key": True}):
        with pytest.raises(ValueError):
            client_traffic.argv("http://x/", 1, **bad)
    unit = client_traffic.systemd_run(wrong, "/opt/mcpops/src")
    assert unit[:2] == ["systemd-run", "--unit=" + client_traffic.UNIT] and "--collect" in unit
    assert "--property=RuntimeMaxSec=%d" % client_traffic.LIFETIME_SECONDS in unit and unit[-len(wrong):] == wrong


def test_a_request_of_the_client_carries_its_key_from_its_own_address():
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append((self.client_address[0], self.headers["X-API-Key"], self.rfile.read(2)))
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = "http://127.0.0.1:%d/tools/get_bridge_status" % server.server_port
        assert client_traffic.request(url, "POST", "k-1", source="127.0.0.66") == 500
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [("127.0.0.66", "k-1", b"{}")]
    assert client_traffic.request("http://127.0.0.1:1/health", "GET", "k") is None  # nothing answers


def test_the_client_calls_steadily_with_the_key_of_its_file_until_sigterm(tmp_path):
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers["X-API-Key"])
            self.send_response(401 if self.headers["X-API-Key"] != "k-file" else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    key_file = tmp_path / "api_key"
    key_file.write_text("k-file\n")
    url = "http://127.0.0.1:%d/health" % server.server_port
    try:
        for key_args in (["--key-file", str(key_file)], ["--wrong-key"]):
            before = len(seen)
            argv = client_traffic.argv(url, 20, key_file=key_file if key_args[0] == "--key-file" else None,
                                       wrong_key=key_args[0] == "--wrong-key", python=sys.executable)
            proc = subprocess.Popen(argv, env=dict(os.environ, PYTHONPATH=str(Path(client_traffic.__file__)
                                                                             .resolve().parents[3])))
            deadline = time.monotonic() + 20
            while len(seen) < before + 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            sent = set(seen[before:])
            assert len(seen) >= before + 3 and len(sent) == 1, seen
            assert sent == {"k-file"} if key_args[0] == "--key-file" else sent.pop().startswith("cctg_wrong_")
    finally:
        server.shutdown()
        server.server_close()


def test_a_repair_drops_only_the_fault_s_keys_from_faults_json(tmp_path):
    (tmp_path / "faults.json").write_text(json.dumps({"error_rate": 1, "error_type": "X", "unhealthy": True}))
    subprocess.run([sys.executable, "-c", services._DROP_FAULTS, str(tmp_path), "error_rate", "error_type"], check=True)
    assert json.loads((tmp_path / "faults.json").read_text()) == {"unhealthy": True}
    (tmp_path / "faults.json").unlink()  # no file: an empty one, nothing fails
    subprocess.run([sys.executable, "-c", services._DROP_FAULTS, str(tmp_path), "leak_mb_per_second"], check=True)
    assert json.loads((tmp_path / "faults.json").read_text()) == {}


def test_the_drill_repairs_the_traffic_faults_and_the_leak_through_the_fleet_s_repairs(monkeypatch):
    assert set(services.REPAIRS) == {"server-errors", "wedged", "auth-failures", "memory-leak"}
    done = []
    monkeypatch.setitem(services.REPAIRS, "auth-failures", lambda fleet, host: done.append(host) or "undone")
    lab = FleetDrillLab.__new__(FleetDrillLab)
    lab.service = CCTELEGRAM
    host = object()
    lab.fleet = type("Fleet", (), {"host": lambda self, name: host, "pid": lambda self, h: 4242})()
    assert lab.repair(Target("fleet1", "http://127.0.9.11:8080", service=CCTELEGRAM), "auth-failures") == "undone"
    assert done == [host]
    with pytest.raises(DrillError, match="cannot repair bad-release itself"):
        lab.repair(Target("fleet1", "http://127.0.9.11:8080", service=CCTELEGRAM), "bad-release")


# -- the pure checks of triage's bundle --------------------------------------------------------------------------

def bundle(errors=None, auth=None):
    return {"host": "fleet1", "app_log": {"errors": errors, "auth_failures": auth}}


def test_the_5xx_must_be_counted_by_the_fault_s_error_type():
    named = checks.check_cctelegram_bundle_5xx("fleet1", "/r/fleet1.json", bundle(
        {"total": 40, "by_type": [{"key": "TelegramConnectionError", "count": 38}, {"key": "ERROR", "count": 2}]}),
        "TelegramConnectionError")
    assert named.ok and "38 TelegramConnectionError" in named.detail and named.target == "fleet1"
    other = checks.check_cctelegram_bundle_5xx("fleet1", "/r/fleet1.json", bundle(
        {"total": 2, "by_type": [{"key": "ERROR", "count": 2}]}), "TelegramConnectionError")
    assert not other.ok and "0 TelegramConnectionError" in other.detail
    assert not checks.check_cctelegram_bundle_5xx("fleet1", "/r/fleet1.json", bundle(None), "TelegramConnectionError"
                                                  ).ok
    assert "names no triage bundle" in checks.check_cctelegram_bundle_5xx("fleet1", None, None, "X").detail
    assert "could not be read" in checks.check_cctelegram_bundle_5xx("fleet1", "/r/fleet1.json", None, "X").detail


def test_the_auth_failures_must_be_counted_for_the_client_s_address():
    auth = {"total": 61, "by_client_ip": [{"key": "127.0.0.66", "count": 60}, {"key": "127.0.0.1", "count": 1}]}
    named = checks.check_cctelegram_bundle_auth_failures("fleet1", "/r/fleet1.json", bundle(auth=auth),
                                                         "127.0.0.66")
    assert named.ok and "60 from 127.0.0.66" in named.detail
    for other in (bundle(auth=auth), "127.0.0.99"), (bundle(), "127.0.0.66"):
        assert not checks.check_cctelegram_bundle_auth_failures("fleet1", "/r/fleet1.json", *other).ok


def test_the_bundle_is_the_one_the_run_names_for_that_host(tmp_path):
    run = tmp_path / "20261206T061500-triage"
    run.mkdir()
    (run / "fleet1.json").write_text(json.dumps(bundle(auth={"total": 3, "by_client_ip": [
        {"key": services.OFFENDER_SOURCE, "count": 3}]})))
    (run / "fleet2.json").write_text(json.dumps(bundle()))
    output = ("ok: [fleet1] => fleet1 (cctelegram-mcp): active, healthy True, 0 error lines, no audit log; bundle "
              f"{run}/fleet1.json\nok: [fleet2] => fleet2 (cctelegram-mcp): ...; bundle {run}/fleet2.json\n")
    target = Target("fleet1", "http://127.0.9.11:8080", service=CCTELEGRAM)
    found = checks.symptom_check(None, target, "bundle_cctelegram_auth_failures", {}, output)
    assert found.ok and str(run / "fleet1.json") in found.detail
    assert not checks.symptom_check(None, target, "bundle_cctelegram_5xx", {}, output).ok
    # a run that said nothing of this host's bundle names nothing
    assert not checks.symptom_check(None, target, "bundle_cctelegram_auth_failures", {}, output.split("\n")[1]).ok
