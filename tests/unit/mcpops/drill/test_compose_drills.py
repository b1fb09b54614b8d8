"""The Loyalty API's drills on the compose lab (`mcpops drill <loyalty runbook> --lab compose`), without a lab: the
scenario table (real faults of the compose lab, the compose lab only), the choice and the refusals before anything
starts, the pure checks of mcpops.drill.compose_checks, the named patterns against the runbooks' own summary lines,
and the recorded lab's rules (a PID that is not our dockerd is never signalled; down is idempotent)."""

import argparse
import json
import os
import re
from pathlib import Path

import pytest

from mcpops.drill import command, compose_checks, compose_drill_lab, lab_adapters, scenarios
from mcpops.drill.checks import NAMED_PATTERNS, SYMPTOMS
from mcpops.drill.compose_drill_lab import ComposeDrillLab
from mcpops.drill.scenarios import COMPOSE, LOCAL, LOYALTY, DrillError, choose
from mcpops.lab.compose.loyalty_faults import FAULTS as COMPOSE_FAULTS
from mcpops.lab.compose.recorded_lab import RecordedComposeLab, RecordedEngine
from mcpops.run.runbooks import PLAYBOOKS_DIR

LOYALTY_DRILLS = {runbook_id: drills for runbook_id, drills in scenarios.DRILLS.items()
                  if any(LOYALTY in s.services for s in drills)}


def parse(*argv):
    parser = argparse.ArgumentParser(prog="mcpops")
    command.add_parser(parser.add_subparsers())
    return parser.parse_args(["drill", *argv])


def test_every_loyalty_scenario_is_a_compose_fault_on_the_compose_lab_only():
    assert {"loyalty-api-down", "loyalty-db-unavailable", "loyalty-redis-unavailable", "loyalty-maintenance-mode",
            "loyalty-migrations", "loyalty-rollback"} <= set(LOYALTY_DRILLS)
    for runbook_id, drills in LOYALTY_DRILLS.items():
        for s in (s for s in drills if LOYALTY in s.services):  # triage's tuple holds other services' scenarios too
            assert s.labs == (COMPOSE,) and s.services == (LOYALTY,), runbook_id
            assert s.fault in COMPOSE_FAULTS or s.fault in ComposeDrillLab.OWN_FAULTS, (runbook_id, s.fault)
            assert s.symptom in SYMPTOMS, (runbook_id, s.symptom)
            # a repairing drill proves its fault gone by reading the lab; a read-only one by the run's own words
            if s.expect_exit == 0:  # db-connection-exhaustion's is LEGO's symptom, read by the adapter itself
                assert s.symptom in compose_checks.COMPOSE_SYMPTOMS or (runbook_id, s.symptom) == (
                    "db-connection-exhaustion", "leaked_sessions_terminated"), (runbook_id, s.symptom)
            else:
                assert s.symptom in NAMED_PATTERNS, (runbook_id, s.symptom)
    assert scenarios.LAB_SERVICES[COMPOSE] == (LOYALTY,)


def test_every_loyalty_playbook_is_drilled_or_says_why():
    for path in sorted(PLAYBOOKS_DIR.glob("loyalty-*.yml")):
        runbook_id = path.stem
        assert (runbook_id in scenarios.DRILLS) != (runbook_id in scenarios.NOT_DRILLABLE), runbook_id
        assert "no compose lab" not in scenarios.NOT_DRILLABLE.get(runbook_id, "")


def test_choose_on_the_compose_lab_and_its_refusals():
    assert choose("loyalty-db-unavailable", None, COMPOSE, LOYALTY).fault == "postgres-down"
    assert choose("loyalty-api-down", None, COMPOSE, LOYALTY).fault == "api-stopped"
    assert choose("loyalty-api-down", "5xx-storm", COMPOSE, LOYALTY).expect_exit == 2
    with pytest.raises(DrillError, match=r"the local lab cannot run it; it is drilled on the compose lab "
                                         r"\(--lab compose\) only"):
        choose("loyalty-db-unavailable", None, LOCAL, LOYALTY)
    with pytest.raises(DrillError, match="the compose lab cannot run it"):
        choose("inc-001-gateway-down", None, COMPOSE, scenarios.ONEC)
    with pytest.raises(DrillError, match="loyalty-release cannot be drilled: nothing breaks"):
        choose("loyalty-release", None, COMPOSE, LOYALTY)


@pytest.fixture
def no_lab(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a lab was made")

    for name in ("LocalDrillLab", "FleetDrillLab", "ConnectorDrillLab"):
        monkeypatch.setattr(lab_adapters, name, refuse)
    monkeypatch.setattr(compose_drill_lab, "ComposeDrillLab", refuse)


@pytest.mark.parametrize("argv, words", [
    (("loyalty-db-unavailable",), ["cannot be drilled for onec-gateway: it is drilled for loyalty-api only "
                                   "(--lab compose)"]),
    (("loyalty-db-unavailable", "--service", "loyalty-api"), ["the local lab cannot run it", "(--lab compose)"]),
    (("loyalty-db-unavailable", "--fleet", "2", "--lab", "compose"), ["--fleet 2 and --lab compose: choose one lab"]),
    (("loyalty-db-unavailable", "--lab", "fleet"), ["--lab fleet needs --fleet N"]),
    (("inc-001-gateway-down", "--lab", "compose"), ["inc-001-gateway-down cannot be drilled for loyalty-api"]),
    (("loyalty-db-unavailable", "--lab", "compose", "--fault", "redis-down"),
     ["loyalty-db-unavailable has no drill for loyalty-api with --fault redis-down", "(its faults: postgres-down)"]),
    (("loyalty-db-unavailable", "--lab", "compose", "--listen", "127.0.0.1:3999"), ["--listen and --upstream"]),
])
def test_the_cli_refuses_in_one_line_before_any_lab(no_lab, capsys, argv, words):
    assert command.cmd_drill(parse(*argv)) == command.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("mcpops drill: error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err


def test_the_compose_lab_drills_the_loyalty_api_by_default():
    args = parse("loyalty-redis-unavailable", "--lab", "compose")
    assert command._lab_kind(args) == COMPOSE
    runbook, scenario = command.plan(args.runbook, None, COMPOSE, LOYALTY)
    assert (runbook.id, scenario.fault, scenario.symptom) == ("loyalty-redis-unavailable", "redis-down",
                                                              "redis_running")


class StoppedProject:
    """What ComposeDrillLab.lab answers for a project whose every container has stopped (no API behind the URL)."""

    def states(self):
        return {name: ("exited", 0) for name in ("api", "worker", "postgres", "redis")}

    def read_env(self):
        return {"IMAGE_TAG": "1.5.0", "WORKERS_ENABLED": "1"}

    def outbox(self, command="status"):
        return {"pending": 2, "dead": 1, "paused": False}

    def migrate(self, command="status"):
        return 1, None


def test_every_compose_symptom_is_checked_through_the_adapter_and_fails_on_a_stopped_project():
    from mcpops.drill.checks import COMPOSE_SYMPTOMS, symptom_check
    from mcpops.drill.lab_adapters import Target

    assert set(compose_checks.RUNNING) <= set(COMPOSE_SYMPTOMS) <= set(SYMPTOMS)
    adapter = ComposeDrillLab.__new__(ComposeDrillLab)  # no lab: the project's answers are StoppedProject's
    adapter.lab = StoppedProject()
    target = Target("loyalty-compose", "http://127.0.0.1:9", service=LOYALTY)  # port 9: nothing answers
    for symptom in COMPOSE_SYMPTOMS:
        check = symptom_check(adapter, target, symptom, {"release_before": "1.4.0"}, "")
        assert check.name == symptom and not check.ok, check.line()


# -- the pure checks ---------------------------------------------------------------------------------------------

def test_service_running_wants_the_container_running():
    assert compose_checks.check_service_running("redis_running", "h", "redis", {"redis": ("running", 0)}).ok
    stopped = compose_checks.check_service_running("redis_running", "h", "redis", {"redis": ("exited", 0)})
    assert not stopped.ok and stopped.detail == "compose service redis: exited (last exit 0)"
    assert not compose_checks.check_service_running("api_running", "h", "api", {}).ok


def test_modes_off_is_what_the_api_says():
    assert compose_checks.check_modes_off("h", 200, {"maintenance": False, "readOnly": False}).ok
    assert not compose_checks.check_modes_off("h", 200, {"maintenance": True, "readOnly": False}).ok
    assert not compose_checks.check_modes_off("h", 200, {"maintenance": False, "readOnly": True}).ok
    assert not compose_checks.check_modes_off("h", None, {"error": "refused"}).ok  # no answer is not "off"


def test_migrations_applied_wants_nothing_pending_or_failed():
    good = {"applied": ["a", "b"], "pending": [], "failed": [], "up_to_date": True}
    assert compose_checks.check_migrations_applied("h", 0, good).ok
    pending = compose_checks.check_migrations_applied("h", 1, dict(good, pending=["c"], up_to_date=False))
    assert not pending.ok and "pending c" in pending.detail
    assert not compose_checks.check_migrations_applied("h", 0, dict(good, failed=["b"], up_to_date=False)).ok
    assert not compose_checks.check_migrations_applied("h", 1, None).ok


def test_release_wants_the_tag_before_the_bad_one_served_and_in_the_env_file():
    assert compose_checks.check_release("h", "1.4.0", 200, {"version": "1.4.0"}, "1.4.0").ok
    assert not compose_checks.check_release("h", "1.4.0", 200, {"version": "1.5.0"}, "1.4.0").ok
    assert not compose_checks.check_release("h", "1.4.0", 200, {"version": "1.4.0"}, "1.5.0").ok
    assert not compose_checks.check_release("h", "1.4.0", None, {}, "1.4.0").ok


def test_outbox_drained_wants_the_worker_on_and_nothing_waiting():
    drained = {"pending": 0, "dead": 0, "paused": False}
    assert compose_checks.check_outbox("outbox_drained", "h", drained, "running", "1").ok
    assert not compose_checks.check_outbox("outbox_drained", "h", drained, "running", "0").ok  # off: it would grow
    assert not compose_checks.check_outbox("outbox_drained", "h", drained, "exited", "1").ok
    assert not compose_checks.check_outbox("outbox_drained", "h", dict(drained, pending=3), "running", "1").ok
    assert not compose_checks.check_outbox("outbox_drained", "h", dict(drained, paused=True), "running", "1").ok


def test_dead_resent_wants_no_dead_event_left_and_delivery_on():
    assert compose_checks.check_outbox("dead_resent", "h", {"pending": 0, "dead": 0, "paused": False}).ok
    left = compose_checks.check_outbox("dead_resent", "h", {"pending": 0, "dead": 3, "paused": False})
    assert not left.ok and left.detail == "outbox pending 0, dead 3, paused False"
    assert not compose_checks.check_outbox("dead_resent", "h", {"pending": 0, "dead": 0, "paused": True}).ok
    assert not compose_checks.check_outbox("dead_resent", "h", None).ok


# What the runbooks print (their summary tasks' messages in the run's stdout, as ansible's debug shows them).
RUN_LINES = {
    "named_api_5xx": '"The API answers but fails: check balance (GET http://127.0.0.1:34725/api/v1/loyalty/balance/'
                     'mcpops-smoke-absent): HTTP 500"',
    "named_quick_5xx": '"check balance (GET http://127.0.0.1:34725/api/v1/loyalty/balance/mcpops-smoke-absent): '
                       'HTTP 500",',
    "named_slow_statement": '"slow statements in PostgreSQL (1): SELECT pg_sleep($1)",',
    "named_telegram_token": "the Bot API refuses the worker\\'s token: Unauthorized: the Bot API does not know this "
                            "token",
    "named_webhook_errors": '"provider=\\"merchant_webhook\\" result=\\"http_error\\": 12.0/min",',
}


@pytest.mark.parametrize("symptom", sorted(RUN_LINES))
def test_the_named_patterns_find_the_runbooks_words_and_not_a_healthy_run(symptom):
    assert re.search(NAMED_PATTERNS[symptom], RUN_LINES[symptom])
    assert not re.search(NAMED_PATTERNS[symptom], "Quick check: nothing wrong found\ncheck balance: HTTP 200")


# -- the recorded lab ---------------------------------------------------------------------------------------------

def test_a_recorded_pid_that_is_not_our_dockerd_is_never_taken_for_it(tmp_path):
    engine = RecordedEngine({"dir": str(tmp_path / "engine"), "pid": os.getpid()})
    assert engine.pid is None  # alive, but its command line is not dockerd --data-root <our dir>/data


def test_down_is_idempotent_and_cleans_a_stale_record(tmp_path):
    lab = RecordedComposeLab(tmp_path / "state")
    assert lab.down() == {"stopped": [], "removed": []}
    assert lab.status()["recorded"] is False and not lab.running()
    (tmp_path / "state").mkdir()
    engine_dir, lab_dir = tmp_path / "engine", tmp_path / "project"
    engine_dir.mkdir()
    lab_dir.mkdir()
    (lab_dir / "lab.json").write_text("{}")
    # a PID that is certainly gone: the kernel's pid_max is far below it
    lab.state_file.write_text(json.dumps({"engine": {"dir": str(engine_dir), "pid": 2 ** 31 - 1},
                                          "lab_dir": str(lab_dir)}))
    status = lab.status()
    assert (status["recorded"], status["engine_pid"], status["healthy"]) == (True, None, False)
    with pytest.raises(Exception, match="the recorded dockerd is gone"):
        lab.attach()
    result = lab.down()
    assert result["stopped"] == [] and not engine_dir.exists() and not lab_dir.exists()
    assert not lab.state_file.exists()
    assert lab.down() == {"stopped": [], "removed": []}


def test_the_lab_cli_repair_of_a_compose_fault_names_the_compose_lab(tmp_path, capsys):
    from mcpops.cli import main

    assert main(["lab", "repair", "worker-disabled", "--dir", str(tmp_path / "none")]) == 4
    assert "worker-disabled is a fault of the compose lab: `mcpops lab repair worker-disabled --platform compose`" \
        in capsys.readouterr().err
    assert not (tmp_path / "none").exists()  # no lab was looked for, none made


def test_compose_up_refuses_the_local_labs_options_before_anything_starts(tmp_path, capsys):
    from mcpops.cli import main

    assert main(["lab", "up", "--platform", "compose", "--dir", str(tmp_path / "s"), "--service", "onec-gateway"]) == 4
    assert "the compose lab runs loyalty-api, not onec-gateway" in capsys.readouterr().err
    assert main(["lab", "up", "--platform", "compose", "--dir", str(tmp_path / "s"), "--listen", "127.0.0.1:3999"]) == 4
    assert "--listen and --upstream are the local lab's" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_status_of_no_compose_lab_says_how_to_start_one(tmp_path, capsys):
    from mcpops.cli import main

    assert main(["lab", "status", "--platform", "compose", "--dir", str(tmp_path / "none")]) == 1
    assert "`mcpops lab up --platform compose`" in capsys.readouterr().out
    assert not Path(tmp_path / "none").exists()  # status makes nothing
