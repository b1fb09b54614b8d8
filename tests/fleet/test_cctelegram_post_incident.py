"""cctelegram-post-incident-validation.yml (seed 002, Immediate Post-Incident: 1. Service Validation) and its module
http_latency_probe, on the session's CCTelegram stack (tests/fleet/conftest.py cctelegram_stack: 3 serving hosts behind
nginx). What was sent is read back from nginx's own access log, never from what the playbook printed alone.

- a healthy stack passes: 100 timed requests and 100 at concurrency 10 through the load balancer, no failure,
  percentiles present and ordered, the JSON and the diagnostics archive in the run dir; nginx logged exactly 200;
- an error storm on fleet2 fails the verdict, naming the 500s and the URL that answered them;
- the load test never exceeds its bounds: exactly N requests (nginx logged N), and a time limit stops it (nginx logged
  what it says it sent, fewer than asked);
- bad input is refused before any request (nginx logged nothing);
- no API key in any output or file.
Each test starts from a healthy stack (`fleet.up(3)`); the one that floods the load balancer waits until it serves
this client again.
"""

import json
import os
import subprocess
import tarfile
import time
import urllib.error
import urllib.request

import pytest
import yaml

from fleet_helpers import BIN, REPO, out, run_playbook
from mcpops.lab.fleet import services

PLAYBOOK = "playbooks/cctelegram-post-incident-validation.yml"
# The machine is shared with other test suites: the latency threshold is not what these tests judge.
LAX = ("-e", "max_p99_ms=30000")
OUTPUTS = []  # every output of the module's runs, for the secrets test at the end
FILES = []    # every findings dir written, for the same


@pytest.fixture
def stack(cctelegram_stack, tmp_path, monkeypatch):
    monkeypatch.setenv("MCPOPS_RUNS_DIR", str(tmp_path / "runs"))
    FILES.append(tmp_path)
    cctelegram_stack.up(3)
    for host in cctelegram_stack.serving_hosts():
        assert services.wait_health(host, (200,)) == 200, host.name
    return cctelegram_stack


def lb_vars(fleet):
    return yaml.safe_load((fleet.inventory_dir / "group_vars" / "all.yml").read_text())


def api_key(fleet):
    return (fleet.state_dir / "secrets" / "cctelegram_api_key").read_text().strip()


def access_log(fleet):
    return fleet.state_dir / "lb" / "logs" / "access.log"


def log_size(fleet):
    path = access_log(fleet)
    return path.stat().st_size if path.exists() else 0


def logged_since(fleet, offset, expected, timeout=15.0):
    """nginx's access-log lines after offset, once at least `expected` are there (nginx writes a line after it has
    answered) or the deadline passed; then a moment more would add none, since the client has stopped."""
    deadline = time.monotonic() + timeout
    while True:
        with open(access_log(fleet), "rb") as fh:
            fh.seek(offset)
            lines = [json.loads(line) for line in fh.read().decode().splitlines() if line.strip()]
        if len(lines) >= expected or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def validate(fleet, output_dir, *args):
    proc = run_playbook(fleet, PLAYBOOK, "-e", "output_dir=%s" % output_dir, *LAX, *args)
    OUTPUTS.append(proc.stdout + proc.stderr)
    return proc


def findings(output_dir):
    return json.loads((output_dir / "post-incident-validation.json").read_text())


def probe(fleet, **args):
    """The module alone, as `ansible localhost -m`, through the load balancer; its JSON result."""
    params = dict(urls=[lb_vars(fleet)["cctelegram_lb_url"] + "/health"], api_key=api_key(fleet), timed_requests=0,
                  max_p99_ms=30000)
    params.update(args)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), no_proxy="127.0.0.1,localhost")
    proc = subprocess.run([str(BIN / "ansible"), "localhost", "-m", "mcpops.runbooks.http_latency_probe",
                           "-a", json.dumps(params)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    OUTPUTS.append(proc.stdout + proc.stderr)
    assert proc.returncode == 0, out(proc)
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def wait_lb_serves(fleet, timeout=30.0):
    """Poll until the load balancer answers this client 200 again (its per-client burst has refilled)."""
    url = lb_vars(fleet)["cctelegram_lb_url"] + "/health"
    key = api_key(fleet)
    deadline = time.monotonic() + timeout
    while True:
        status = lb_status(url, key)
        if status == 200:
            return
        assert time.monotonic() < deadline, "the load balancer still answers %s" % status
        time.sleep(0.5)


def lb_status(url, key):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"X-API-Key": key}), timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def test_a_healthy_stack_passes_with_both_phases_and_nginx_saw_exactly_them(stack, tmp_path):
    fleet = stack
    output_dir = tmp_path / "out"
    offset = log_size(fleet)
    proc = validate(fleet, output_dir)
    assert proc.returncode == 0, out(proc)
    result = findings(output_dir)
    assert result["verdict"] == "PASS" and result["problems"] == []
    assert set(result["instances"]) == {"fleet1", "fleet2", "fleet3"}
    assert all(v["healthy"] for v in result["instances"].values())
    perf, load = result["phases"]["performance"], result["phases"]["load"]
    assert (perf["sent"], perf["ok"], perf["failures"], perf["concurrency"]) == (100, 100, 0, 1)
    assert (load["sent"], load["ok"], load["failures"], load["concurrency"]) == (100, 100, 0, 10)
    for phase in (perf, load):
        lat = phase["latency_ms"]
        assert lat["count"] == 100 and 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
        assert phase["requests_per_second"] > 0
    # nginx logged exactly the 200 requests, the two paths in turn, every one answered 200.
    lines = logged_since(fleet, offset, 200)
    assert len(lines) == 200
    assert {line["uri"] for line in lines} == {"/health", "/tools/get_bridge_status"}
    assert {line["status"] for line in lines} == {200}
    # The comprehensive health check's diagnostics bundle sits beside the findings.
    assert (output_dir / "cctelegram-diagnostics.tar.gz").is_file()
    assert "Verdict: PASS" in proc.stdout


def test_an_error_storm_on_fleet2_fails_the_verdict_naming_the_500s(stack, tmp_path):
    fleet = stack
    fleet.break_("fleet2", "error-storm")
    output_dir = tmp_path / "out"
    proc = validate(fleet, output_dir, "--skip-tags", "diagnostics")
    assert proc.returncode == 2, out(proc)
    result = findings(output_dir)
    assert result["verdict"] == "FAIL"
    bridge = lb_vars(fleet)["cctelegram_lb_url"] + "/tools/get_bridge_status"
    for name in ("performance", "load"):
        phase = result["phases"][name]
        assert phase["status_counts"].get("500", 0) > 0, phase
        assert phase["by_url"][bridge]["failures"] == phase["failures"] > 0
        assert any(p.startswith(name + ": ") and "HTTP 500" in p and bridge in p for p in result["problems"])
    assert "Service validation FAILED" in proc.stdout


def test_the_load_test_never_exceeds_its_count_nor_its_time(stack):
    fleet = stack
    offset = log_size(fleet)
    result = probe(fleet, load_requests=37, concurrency=7)
    load = result["phases"]["load"]
    assert (load["requests"], load["sent"], load["not_started"], load["concurrency"]) == (37, 37, 0, 7)
    assert len(logged_since(fleet, offset, 37)) == 37
    # A time limit of 1 s on 10,000 requests: it stops sending; nginx saw what it says it sent, fewer than asked.
    offset = log_size(fleet)
    result = probe(fleet, load_requests=10000, concurrency=4, time_limit=1, timeout=5)
    load = result["phases"]["load"]
    assert load["stopped_by_time_limit"] and 0 < load["sent"] < 10000
    assert load["sent"] + load["not_started"] == 10000
    assert load["elapsed_seconds"] <= 1 + 5 + 1  # the limit, one request's timeout, the threads' end
    assert len(logged_since(fleet, offset, load["sent"])) == load["sent"]
    assert not result["passed"] and any("requests not sent" in p for p in result["problems"])
    wait_lb_serves(fleet)


def test_bad_input_is_refused_before_any_request(cctelegram_stack, tmp_path):
    fleet = cctelegram_stack  # nothing is broken or requested: no fleet.up(3) needed
    offset = log_size(fleet)
    for bad in ("load_concurrency=0", "load_requests=10001"):
        proc = validate(fleet, tmp_path / "out", "-e", bad)
        assert proc.returncode == 2 and "Nothing was requested" in proc.stdout, (bad, out(proc))
        assert "Comprehensive health check" not in proc.stdout
    assert log_size(fleet) == offset
    assert not (tmp_path / "out").exists()


def test_no_api_key_in_any_output_or_file(cctelegram_stack):
    fleet = cctelegram_stack  # read only: no fleet.up(3) needed
    secret = api_key(fleet)
    assert len(OUTPUTS) >= 4
    for text in OUTPUTS:
        assert secret not in text
    checked = 0
    for root in FILES:
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = os.path.join(dirpath, name)
                if name.endswith(".tar.gz"):
                    with tarfile.open(path) as tar:
                        for member in tar.getmembers():
                            if member.isfile():
                                assert secret.encode() not in tar.extractfile(member).read(), member.name
                else:
                    with open(path, "rb") as fh:
                        assert secret.encode() not in fh.read(), path
                checked += 1
    assert checked >= 3
