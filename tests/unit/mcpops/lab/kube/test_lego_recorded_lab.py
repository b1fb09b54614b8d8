"""`mcpops lab ... --platform kubernetes` where nothing runs, and its argument checks: nothing is started, the answer
is one line (tests/integration/lego/test_lego_lab_cli.py runs the lab itself). The session holder's stand-in for the
stack gives faults.db_connections_exhausted what it reads of a LegoStack."""

import argparse
import json

import pytest

from mcpops.lab.lego import session_holder
from mcpops.lab.lego.hsm_process import LegoError
from mcpops.lab.lego.recorded_lab import RecordedLegoLab
from mcpops.lab.local import commands


def lab_cli(*argv):
    parser = argparse.ArgumentParser()
    commands.add_parser(parser.add_subparsers())
    args = parser.parse_args(["lab", *argv])
    return args.func(args)


def test_nothing_recorded_is_not_running_and_down_does_nothing(tmp_path):
    lab = RecordedLegoLab(tmp_path / "state")
    assert lab.status() == {"state_dir": str(tmp_path / "state"), "recorded": False, "healthy": False, "pids": {},
                            "problem": None}
    assert lab.down() == {"stopped": [], "removed": []}
    assert not lab.running()
    with pytest.raises(LegoError, match=r"no Kubernetes lab runs in .*`mcpops lab up --platform kubernetes`"):
        lab.attach()
    with pytest.raises(LegoError, match="unknown LEGO fault 'no-such'"):
        lab.break_("no-such")
    assert not (tmp_path / "state").exists()


def test_the_cli_says_not_running_and_refuses_what_the_kubernetes_lab_has_not(tmp_path, capsys):
    state = str(tmp_path / "state")
    assert lab_cli("status", "--platform", "kubernetes", "--dir", state) == 1
    assert "kubernetes lab: not running (`mcpops lab up --platform kubernetes`)" in capsys.readouterr().out
    assert lab_cli("down", "--platform", "kubernetes", "--dir", state) == 0
    assert "lab down: nothing was running" in capsys.readouterr().out
    assert lab_cli("break", "no-such", "--platform", "kubernetes", "--dir", state) == 4
    assert "unknown fault 'no-such' on the kubernetes lab; known: hsm-down" in capsys.readouterr().err
    assert lab_cli("up", "--platform", "kubernetes", "--service", "loyalty-api", "--dir", state) == 4
    assert "the kubernetes lab runs lego-mcp, not loyalty-api" in capsys.readouterr().err
    assert lab_cli("repair", "bad-image", "--platform", "kubernetes", "--dir", state) == 1
    assert "no Kubernetes lab runs in" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()


def test_a_record_that_is_not_json_is_named(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "kube-lab.json").write_text("{not json")
    with pytest.raises(LegoError, match=r"kube-lab\.json is not JSON .*`mcpops lab down --platform kubernetes`"):
        RecordedLegoLab(state).record()


def test_the_session_holder_s_stand_in_gives_the_fault_the_dsn_it_asks_for():
    params = {"host": "127.0.0.1", "port": 5433, "user": "lego_mcp", "dbname": "lego_mcp", "password": "pw-canary",
              "max_connections": 30}
    stack = session_holder.postgres_only(json.loads(json.dumps(params)))
    assert stack.pg.dsn(user="lego_mcp", dbname="lego_mcp", password=stack.db_password, tcp=True) == {
        "host": "127.0.0.1", "port": 5433, "user": "lego_mcp", "dbname": "lego_mcp", "password": "pw-canary"}
    assert stack.pg.max_connections == 30 and stack.held_connections == []
