"""The loyalty_quick_check module for real: ansible-playbook runs it on the shared compose lab (a private Docker Engine,
the Loyalty project: api, worker, postgres, redis), its options from the play's module_defaults (the service profile's
base_url, health, auth and the metrics token looked up from the inventory) and the inventory's compose names. Check
mode with mutations asked for changes nothing (containers, env file, rows) and finds nothing on a healthy lab, the
containers and log lines read through the Engine API's socket and through the compose CLI alike; a stopped worker is named, and a real run earns and redeems one point (two transaction rows). The metrics token and the
database password never appear in ansible-playbook's output (-v, the json callback: every returned value)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_loyalty_playbooks_symptoms import snapshot

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]
READY_TIMEOUT = 60  # seconds for the lab to be ready again on a loaded 2-core machine

PLAY = """\
- hosts: loyalty-compose
  gather_facts: false
  vars_files: [%(root)s/playbooks/vars/module_defaults.yml, %(root)s/playbooks/vars/service_profile.yml]
  module_defaults:
    group/mcpops.runbooks.service: "{{ mcpops_service_defaults }}"
  environment: {DOCKER_CONFIG: "{{ gateway_compose_docker_config }}"}
  tasks:
    - name: Load the service profile
      ansible.builtin.include_role: {name: mcpops.runbooks.service_profile}
    - name: "Quick check: containers, smoke of health/ready/live/metrics, integration smoke, last log lines"
      mcpops.runbooks.loyalty_quick_check:
        project_src: "{{ gateway_compose_project_src }}"
        files: "{{ gateway_compose_files }}"
        env_files: "{{ gateway_compose_env_files }}"
        docker_host: "{{ gateway_compose_docker_host }}"
        docker_cli: "{{ gateway_compose_docker_cli }}"
        read_via: "{{ read_via }}"
        smoke_customer_id: "{{ customer }}"
        allow_mutations: true
        log_lines: 30
        mask: ["{{ loyalty_db_password }}"]
"""


@pytest.fixture
def lab(loyalty_lab):
    loyalty_lab.wait_ready(timeout=READY_TIMEOUT)
    return loyalty_lab


def quick_check(lab, tmp_path, *flags, customer="mcpops-qc-module", read_via="auto"):
    """The module's result (the json callback's) and ansible-playbook's whole output."""
    play = tmp_path / "quick-check.yml"
    play.write_text(PLAY % {"root": ROOT})
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               MCPOPS_REPORT_DIR=str(tmp_path / "report"), PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    for variable in ("DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT"):
        env.pop(variable, None)  # only what the inventory says reaches docker
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(lab.inventory_path), str(play), "-v",
                           "-e", json.dumps({"customer": customer, "read_via": read_via,
                                             "ansible_python_interpreter": sys.executable})]
                          + list(flags), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    for name in ("metrics_token", "db_password"):
        assert lab.secret(name) not in output, "the %s was printed" % name
    # -v puts "Using <ansible.cfg> as config file" before the json callback's document
    tasks = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])[0]["plays"][0]["tasks"]
    task = next(t for t in tasks if t["task"]["name"].startswith("Quick check"))
    return task["hosts"]["loyalty-compose"]


@pytest.mark.parametrize("read_via,through", [("auto", "engine API (unix://"), ("cli", "docker compose CLI")])
def test_check_mode_finds_nothing_on_a_healthy_lab_and_changes_nothing(lab, tmp_path, read_via, through):
    lab.call("POST", "/api/v1/loyalty/earn", {"customerId": "mcpops-qc-module", "points": 5})
    before = snapshot(lab)
    result = quick_check(lab, tmp_path, "--check", read_via=read_via)
    assert result["read_via"].startswith(through)
    assert snapshot(lab) == before
    assert result["findings"] == [] and result["ok"] is True, result["findings"]
    assert {"api", "worker", "postgres", "redis"} <= set(result["containers"])
    assert all(state == "running" for state in result["containers"].values()), result["containers"]
    assert result["integration"]["mutations"] == "not run (check mode)"
    assert result["integration"]["checks"][0]["status"] == 200  # the customer's balance
    assert [c["name"] for c in result["smoke"]["checks"]] == ["live", "health", "ready", "metrics"]
    assert result["logs"]["error"] is None and all(line.startswith("api-1  | ") for line in result["logs"]["lines"])
    assert 0 < len(result["logs"]["lines"]) <= 30  # a fresh lab's api may have written fewer


def test_a_stopped_worker_is_named_and_a_real_run_earns_and_redeems_one_point(lab, tmp_path):
    lab.call("POST", "/api/v1/loyalty/earn", {"customerId": "mcpops-qc-module", "points": 5})
    lab.compose("stop", "worker")
    try:
        before = snapshot(lab, rows=True)["rows"]
        result = quick_check(lab, tmp_path)
        after = snapshot(lab, rows=True)["rows"]
    finally:
        lab.compose("up", "-d", "--pull", "never", "worker")
    assert result["findings"] == ["containers not running: worker"]
    assert result["containers_down"] == ["worker"] and result["integration"]["mutations"] == "ran"
    assert after[0] == before[0] + 2  # one earn and one redeem transaction
