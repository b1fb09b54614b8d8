"""mcpops.run.runner without running Ansible: where run dirs go, their names, the exit status of a run, the
environment ansible-playbook gets, and the recorded environment masked."""

import json
import os
import stat

import pytest

from mcpops.run import runner
from mcpops.run.runbooks import REPO


def test_run_dirs_go_under_mcpops_runs_dir_else_the_checkouts_runs(monkeypatch, tmp_path):
    monkeypatch.delenv("MCPOPS_RUNS_DIR", raising=False)
    assert runner.runs_root() == REPO / "runs"
    monkeypatch.setenv("MCPOPS_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert runner.runs_root() == tmp_path / "elsewhere"


def test_a_run_dir_is_private_named_by_utc_time_and_runbook_and_never_reused(tmp_path):
    first = runner.new_run_dir("inc-003-restore", tmp_path)
    second = runner.new_run_dir("inc-003-restore", tmp_path)
    assert first.parent == tmp_path and first.name.endswith("Z-inc-003-restore")
    assert len(first.name.split("-", 1)[0]) == len("20261124T020000Z")
    assert second != first and second.name.startswith(first.name.split("-", 1)[0])
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o700


@pytest.mark.parametrize("stats, rc, status", [
    ({}, 0, runner.EXIT_OK),
    ({}, 2, runner.EXIT_ERROR),  # no recap at all: ansible-playbook itself failed
    ({"ok": {"h": 3}}, 0, runner.EXIT_OK),
    ({"failures": {"h": 1}}, 2, runner.EXIT_FAILED),
    ({"failures": {"h": 1}, "dark": {"g": 1}}, 4, runner.EXIT_UNREACHABLE),  # unreachable wins
    ({"ok": {"h": 3}}, 1, runner.EXIT_ERROR),
])
def test_exit_status_of_a_run(stats, rc, status):
    assert runner.exit_status(stats, rc) == status


def test_ansible_playbook_gets_the_report_dir_the_config_and_host_key_checking(monkeypatch, tmp_path):
    monkeypatch.delenv("ANSIBLE_HOST_KEY_CHECKING", raising=False)
    env = runner.runner_env(tmp_path, {"MCPOPS_LAB_DIR": "/lab"})
    assert env["MCPOPS_REPORT_DIR"] == str(tmp_path) and env["MCPOPS_LAB_DIR"] == "/lab"
    assert env["ANSIBLE_CONFIG"] == str(REPO / "ansible.cfg") and env["ANSIBLE_HOST_KEY_CHECKING"] == "True"


def test_the_recorded_environment_is_masked(tmp_path):
    command = tmp_path / "artifacts" / "ident" / "command"
    command.parent.mkdir(parents=True)
    secret = "s3cr3t-" + "Zq9x" * 8
    command.write_text(json.dumps({"command": ["ansible-playbook"], "env": {"GATEWAY_ADMIN_TOKEN": secret,
                                                                           "HOME": "/root"}}))
    runner.mask_recorded_env(tmp_path)
    recorded = json.loads(command.read_text())
    assert secret not in command.read_text() and recorded["env"]["HOME"] == "/root"
    assert recorded["command"] == ["ansible-playbook"]
    assert stat.S_IMODE(os.stat(command).st_mode) == 0o600
