"""watcher: the command and environment `mcpops watch` starts ansible-rulebook with, and the decisions it prints."""

import sys
from pathlib import Path

from mcpops.watch import watcher


def test_the_rulebook_runs_on_the_controller_inventory_and_the_dispatch_gets_the_operator_s():
    env, names = watcher.rulebook_env(Path("/inv"), Path("/runs"), port=5123, environ={"PATH": "/bin"})
    command = watcher.rulebook_command(names)
    assert command[1:5] == ["-r", "mcpops.runbooks.alert_to_runbook", "-i", str(watcher.CONTROLLER_INVENTORY)]
    assert watcher.CONTROLLER_INVENTORY.is_file()
    assert command[-2:] == ["-E", "MCPOPS_BIN,MCPOPS_EDA_PORT"]
    assert env["MCPOPS_INVENTORY"] == "/inv" and env["MCPOPS_RUNS_DIR"] == "/runs" and env["MCPOPS_EDA_PORT"] == "5123"
    assert env["PATH"].startswith(str(Path(sys.executable).parent)) and env["MCPOPS_BIN"].endswith("/mcpops")
    assert "MCPOPS_HOST_KEY_CHECKING" not in env


def test_the_operator_s_host_key_checking_is_passed_through_to_the_dispatch():
    env, _names = watcher.rulebook_env(Path("/inv"), Path("/runs"), environ={"ANSIBLE_HOST_KEY_CHECKING": "True"})
    assert env["MCPOPS_HOST_KEY_CHECKING"] == "True"


def test_the_decisions_tail_prints_whole_lines_once(tmp_path):
    log = tmp_path / "decisions.log"
    log.write_text('{"old": 1}\n')
    tail = watcher.DecisionTail(log)
    assert tail.new_lines() == []
    with open(log, "a") as handle:
        handle.write('{"a": 1}\n{"b"')
    assert tail.new_lines() == ['{"a": 1}']
    with open(log, "a") as handle:
        handle.write(': 2}\n')
    assert tail.new_lines() == ['{"b": 2}'] and tail.new_lines() == []
