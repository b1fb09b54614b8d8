"""The service_profile lookup and role through ansible-playbook and ad hoc ansible, as an inventory uses them:
mcp_service picks a builtin profile, mcp_service_overrides changes fields, mcp_service_profile gives a whole one;
a bad field fails the task with the profile and the field's path named."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook not in the venv")

# One play a case; each writes what the role set to <out_dir>/<case>.json.
PLAYBOOK = """---
- name: The role with the inventory's choice (extra vars)
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Load the profile
      ansible.builtin.include_role:
        name: mcpops.runbooks.service_profile
    - name: Write it
      ansible.builtin.copy:
        content: "{{ mcp_profile | to_nice_json }}"
        dest: "{{ out_dir }}/{{ case }}.json"
        mode: "0600"
"""

CUSTOM = {
    "name": "billing-api", "kind": "api", "description": "a service of our own",
    "api": {"default_url": "http://127.0.0.1:8081"},
    "auth": {"ops": {"style": "header", "header": "X-Ops-Token", "secret_var": "billing_ops_token"}},
    "health": {"checks": [{"name": "live", "path": "/livez"},
                          {"name": "ready", "path": "/readyz", "auth": "ops", "conditions": ["status == ok"]}],
               "liveness": "live", "readiness": "ready", "deep": "ready"},
    "runtime": {"platform": "systemd", "unit": "billing-api"},
    "logs": {"source": "journald", "unit": "billing-api", "format": "json"},
}


def ansible_env(tmp_path):
    cfg = tmp_path / "ansible.cfg"  # not the checkout's: no lab inventory, no incident report
    cfg.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(cfg),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOME=str(tmp_path / "ansible-home"),
        PATH="%s:%s" % (BIN, os.environ.get("PATH", "")),
    )
    return env


def run_role(tmp_path, case, extra_vars):
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    extra = dict(extra_vars, out_dir=str(tmp_path), case=case)
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), str(playbook), "-i", "localhost,", "-c", "local",
         "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", json.dumps(extra)],
        cwd=str(tmp_path), env=ansible_env(tmp_path), capture_output=True, text=True, timeout=300)
    result = tmp_path / ("%s.json" % case)
    return proc, json.loads(result.read_text()) if result.exists() else None


def test_the_role_loads_the_default_profile(tmp_path):
    proc, profile = run_role(tmp_path, "default", {})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Load the service profile onec-gateway" in proc.stdout
    assert profile["name"] == "onec-gateway" and profile["secret_vars"] == ["gateway_admin_token"]
    assert profile["health_check_names"] == ["healthz", "readyz", "storage_meta"]


def test_a_good_override_shows_in_mcp_profile(tmp_path):
    proc, profile = run_role(tmp_path, "override", {
        "mcp_service": "cctelegram-mcp",
        "mcp_service_overrides": {"api": {"default_url": "https://cctelegram.internal:8443"},
                                  "runtime": {"unit": "cctelegram-mcp-prod"}},
    })
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Load the service profile cctelegram-mcp" in proc.stdout
    assert profile["api"]["default_url"] == "https://cctelegram.internal:8443"
    assert profile["runtime"]["unit"] == "cctelegram-mcp-prod"
    assert profile["runtime"]["depends_on"] == ["cctelegram-bridge"]  # the rest of runtime kept
    assert profile["auth"]["api_key"]["header"] == "X-API-Key"


def test_a_custom_profile_through_the_role(tmp_path):
    proc, profile = run_role(tmp_path, "custom", {"mcp_service_profile": CUSTOM,
                                                  "mcp_service_overrides": {"runtime": {"unit": "billing-api-2"}}})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert profile["name"] == "billing-api" and profile["runtime"]["unit"] == "billing-api-2"
    assert profile["secret_vars"] == ["billing_ops_token"]
    assert profile["health"]["checks"][0]["max_latency_ms"] == 2000  # defaults filled


@pytest.mark.parametrize("extra_vars, expected", [
    ({"mcp_service": "cctelegram-mcp", "mcp_service_overrides": {"health": {"checks": [
        {"name": "health", "path": "/health", "auth": "token"}]}}},
     "service profile cctelegram-mcp: health.checks[0].auth: 'token' is not an auth of this profile (api_key) or none"),
    ({"mcp_service": "loyalty-api", "mcp_service_overrides": {"runtime": {"platform": "upstart"}}},
     "service profile loyalty-api: runtime.platform: 'upstart' is not one of systemd, supervisor, docker_compose, "
     "kubernetes"),
    ({"mcp_service": "../etc/passwd"}, "service profile '../etc/passwd': not a profile name"),
    ({"mcp_service": "cctelegram"}, "service profile cctelegram: no such builtin profile (builtin: cctelegram-mcp, "),
])
def test_a_bad_override_or_name_fails_with_the_field_named(tmp_path, extra_vars, expected):
    proc, profile = run_role(tmp_path, "bad", extra_vars)
    assert proc.returncode != 0 and profile is None
    out = " ".join((proc.stdout + proc.stderr).split())  # the message may be wrapped
    assert expected in out, proc.stdout + proc.stderr


def test_the_role_checks_its_arguments(tmp_path):
    proc, profile = run_role(tmp_path, "bad", {"mcp_service_overrides": ["runtime"]})
    assert proc.returncode != 0 and profile is None
    assert "mcp_service_overrides" in proc.stdout and "dict" in proc.stdout, proc.stdout + proc.stderr


def adhoc(tmp_path, expression):
    return subprocess.run(
        [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
         "-e", "ansible_python_interpreter=%s" % sys.executable, "-m", "ansible.builtin.debug",
         "-a", json.dumps({"msg": "{{ %s }}" % expression})],
        cwd=str(tmp_path), env=ansible_env(tmp_path), capture_output=True, text=True, timeout=300)


def adhoc_msg(proc):
    start = proc.stdout.find("{", proc.stdout.find("localhost | "))
    result, _ = json.JSONDecoder().raw_decode(proc.stdout[start:])
    return result["msg"]


def test_the_lookup_ad_hoc_with_overrides(tmp_path):
    proc = adhoc(tmp_path, "lookup('mcpops.runbooks.service_profile', 'loyalty-api', "
                           "overrides={'metrics': none, 'runtime': {'compose_project_src': '/srv/loyalty'}})")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    profile = adhoc_msg(proc)
    assert profile["name"] == "loyalty-api" and profile["metrics"] is None
    assert profile["runtime"]["compose_project_src"] == "/srv/loyalty"
    assert profile["runtime"]["compose_service"] == "api"


def test_the_lookup_ad_hoc_refusals(tmp_path):
    proc = adhoc(tmp_path, "lookup('mcpops.runbooks.service_profile', 'lego-mcp', "
                           "overrides={'datastores': {'postgres': {'password': 'CANARYpw77'}}})")
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0
    assert "service profile lego-mcp: datastores.postgres.password: unknown key" in out, out
    proc = adhoc(tmp_path, "lookup('mcpops.runbooks.service_profile', 'lego-mcp', 'loyalty-api')")
    assert proc.returncode != 0 and "takes one service name, got 2 terms" in proc.stdout + proc.stderr
