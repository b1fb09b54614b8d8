"""cctelegram-p0-response.yml (seed 002, P0) with ansible-playbook over SSH on the session's CCTelegram stack
(tests/fleet/conftest.py cctelegram_stack: 3 serving hosts, a standby, nginx in front, Prometheus, the Telegram
stand-in). Each option is read back from the things themselves: systemd (MainPID), nginx's site conf and access log,
the release links on the host, the stand-in's messages file; never from what the playbook printed alone.

- the assessment table names every instance with its unit state and health, an unreachable one as UNREACHABLE;
- option A restarts only the failing instance, check mode restarts nothing; step 4 delivers a test message;
- option B drains the failing instance at nginx (the others keep serving), restore_rerouted puts it back;
- option C rolls a bad release back to the previous one; option D starts the standby and adds it to the upstream;
- no API key or bot token in any output.
Each test starts from a healthy stack (`fleet.up(3)` clears faults, drains, the standby's units).
"""

import json
import re

import pytest

from fleet_helpers import out, run_playbook, service_unit_show
from mcpops.lab.fleet import services

PLAYBOOK = "playbooks/cctelegram-p0-response.yml"
FAST = ("-e", "verify_delay=0", "-e", "verify_checks=3")
OUTPUTS = []  # every ansible-playbook output of the module, for the secrets test at the end


@pytest.fixture
def stack(cctelegram_stack, tmp_path, monkeypatch):
    monkeypatch.setenv("MCPOPS_RUNS_DIR", str(tmp_path / "runs"))
    cctelegram_stack.up(3)
    for host in cctelegram_stack.serving_hosts():
        assert services.wait_health(host, (200,)) == 200, host.name
    return cctelegram_stack


def p0(fleet, *args):
    proc = run_playbook(fleet, PLAYBOOK, *FAST, *args)
    OUTPUTS.append(proc.stdout + proc.stderr)
    return proc


def main_pid(fleet, host):
    return service_unit_show(fleet, host, services.MCP_UNIT)["MainPID"]


def table_row(proc, name):
    rows = [line for line in proc.stdout.splitlines() if re.match(r"^localhost: %s  " % name, line)]
    assert len(rows) == 1, out(proc)
    return rows[0]


def site_conf(fleet):
    return (fleet.state_dir / "lb" / "conf" / "cctelegram.conf").read_text()


def drained(fleet):
    return set(re.findall(r"^\s*server (\S+)[^;]* down;", site_conf(fleet), re.M))


def messages(fleet):
    path = fleet.state_dir / "telegram" / "messages.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_assessment_table_then_option_a_restarts_only_the_failing_instance(stack):
    fleet = stack
    fleet1, fleet2, fleet3 = fleet.serving_hosts()
    fleet.break_("fleet2", "stop")
    before = {h.name: main_pid(fleet, h) for h in (fleet1, fleet3)}
    # Check mode: the table, and nothing restarted.
    proc = p0(fleet, "-e", "mitigation=restart", "--check")
    assert proc.returncode == 0, out(proc)
    assert "inactive  UNHEALTHY" in table_row(proc, "fleet2")
    for host in (fleet1, fleet3):
        assert "active  healthy" in table_row(proc, host.name)
    assert "Failing instances: fleet2" in proc.stdout
    assert service_unit_show(fleet, fleet2, services.MCP_UNIT)["ActiveState"] == "inactive"
    # For real: fleet2 restarted behind the gate, the others untouched; step 4 sends the recovery test message.
    sent = len(messages(fleet))
    proc = p0(fleet, "-e", "mitigation=restart")
    assert proc.returncode == 0, out(proc)
    assert service_unit_show(fleet, fleet2, services.MCP_UNIT)["ActiveState"] == "active"
    assert {h.name: main_pid(fleet, h) for h in (fleet1, fleet3)} == before
    assert "Health through the load balancer: 3 of 3 checks answered 200" in proc.stdout
    new = messages(fleet)[sent:]
    assert [m["text"] for m in new if "System recovery test" in m["text"]], new


def test_option_b_drains_the_failing_instance_and_restore_puts_it_back(stack):
    fleet = stack
    fleet3 = fleet.serving_hosts()[2]
    fleet.break_("fleet3", "unhealthy")
    proc = p0(fleet, "-e", "mitigation=reroute")
    assert proc.returncode == 0, out(proc)
    assert drained(fleet) == {f"{fleet3.address}:{services.API_PORT}"}
    assert "Health through the load balancer: 3 of 3 checks answered 200" in proc.stdout
    # Fixed, then restored: the drain is taken off; a still-failing instance would stay drained.
    fleet.break_("fleet3", "healthy")
    proc = p0(fleet, "-e", "restore_rerouted=true")
    assert proc.returncode == 0, out(proc)
    assert drained(fleet) == set()
    assert "drained" not in table_row(proc, "fleet1")


def test_option_c_rolls_a_bad_release_back(stack):
    fleet = stack
    fleet1 = fleet.serving_hosts()[0]
    fleet.break_("fleet1", "bad-release")
    releases = services.releases_dir(fleet1)
    assert (releases / "current").readlink().name == "2.5.0"
    proc = p0(fleet, "-e", "mitigation=rollback")
    assert proc.returncode == 0, out(proc)
    assert (releases / "current").readlink().name == "2.4.0"
    assert (releases / "previous").readlink().name == "2.5.0"
    status, body = services.health(fleet1)
    assert status == 200 and body["version"] == "2.4.0", (status, body)


def test_option_d_starts_the_standby_and_adds_it_to_the_upstream(stack):
    fleet = stack
    [standby] = fleet.standby_hosts()
    server = f"{standby.address}:{services.API_PORT}"
    assert server not in site_conf(fleet)
    proc = p0(fleet, "-e", "mitigation=scale")
    assert proc.returncode == 0, out(proc)
    assert service_unit_show(fleet, standby, services.MCP_UNIT)["ActiveState"] == "active"
    assert re.search(r"^\s*server %s max_fails=2 fail_timeout=10s;" % re.escape(server), site_conf(fleet), re.M)
    assert drained(fleet) == set()


def test_an_unreachable_instance_is_named_and_the_others_assessed(stack):
    fleet = stack
    fleet.break_("fleet3", "unreachable")
    proc = p0(fleet)
    assert proc.returncode == 4, out(proc)  # ansible-playbook's "a host was unreachable"
    assert "UNREACHABLE (no assessment: ssh failed)" in table_row(proc, "fleet3")
    for name in ("fleet1", "fleet2"):
        assert "active  healthy" in table_row(proc, name)
    assert "Failing instances: fleet3" in proc.stdout


def test_bad_input_is_refused_before_anything(stack):
    fleet = stack
    proc = p0(fleet, "-e", "mitigation=reboot")
    assert proc.returncode == 2 and "Nothing was changed" in proc.stdout, out(proc)
    assert "Check service status" not in proc.stdout


def test_no_api_key_or_bot_token_in_any_output(stack):
    fleet = stack
    secrets = [(fleet.state_dir / "secrets" / name).read_text().strip()
               for name in ("cctelegram_api_key", "telegram_bot_token")]
    assert len(OUTPUTS) >= 6
    for text in OUTPUTS:
        for secret in secrets:
            assert secret not in text
