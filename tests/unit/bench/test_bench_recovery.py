"""bench/recovery.py's split of a run into its runbook's steps (step_seconds): a step is charged with the time its
own tasks take, also when its name comes back later in the run (INC-001 escalating to INC-003, whose play states
the operator's identity again)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

import recovery  # noqa: E402

IDENTITY = "Before anything: the identity the changes are made under"


def _event(counter, task, start, end, host="lab-gateway"):
    return {"counter": counter, "event_data": {"task": task, "host": host, "start": "2026-12-06T05:50:%06.3f" % start,
                                               "end": "2026-12-06T05:50:%06.3f" % end}}


def test_a_step_whose_name_comes_back_later_is_charged_with_its_own_tasks_only(tmp_path):
    timeline = [{"host": "lab-gateway", "task": "operator_identity : assert", "step": IDENTITY},
                {"host": "lab-gateway", "task": "Step 4: Restart", "step": "Step 4: Restart"},
                {"host": "lab-gateway", "task": "Step 5: Capture the logs", "step": "Step 5: Capture the logs"},
                {"host": "lab-gateway", "task": "operator_identity : assert", "step": IDENTITY}]
    (tmp_path / "report.json").write_text(json.dumps({"timeline": timeline}))
    events = tmp_path / "artifacts" / "x" / "job_events"
    events.mkdir(parents=True)
    for n, (task, start, end) in enumerate([("assert", 1.0, 1.2), ("Step 4: Restart", 1.3, 5.3),
                                            ("Step 5: Capture the logs", 5.4, 11.4), ("assert", 11.5, 11.8)]):
        (events / f"{n}.json").write_text(json.dumps(_event(n, task, start, end)))
    steps, in_steps = recovery.step_seconds(str(tmp_path))
    assert round(steps[IDENTITY], 3) == 0.5  # 0.2 + 0.3, not 1.0 -> 11.8
    assert round(steps["Step 4: Restart"], 3) == 4.0 and round(steps["Step 5: Capture the logs"], 3) == 6.0
    assert round(in_steps, 3) == 10.5


def test_faults_pick_the_drills_of_those_faults_only():
    picked = recovery.local_drills(False, {"inc-001-gateway-down", "inc-003-restore"}, faults={"corrupt-store"})
    assert sorted((runbook, scenario.fault) for runbook, scenario in picked) == [
        ("inc-001-gateway-down", "corrupt-store"), ("inc-003-restore", "corrupt-store")]
    every = recovery.local_drills(False, {"inc-001-gateway-down"})
    assert {scenario.fault for _, scenario in every} == {"stop", "crash", "corrupt-store"}


def test_the_command_line_takes_faults_and_refuses_a_fault_no_drill_has(capsys):
    assert recovery.main(["--runbooks", "inc-001-gateway-down", "--faults", "no-such-fault"]) == 1
    assert "no local-lab drill matches inc-001-gateway-down no-such-fault" in capsys.readouterr().err
