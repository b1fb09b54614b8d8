"""The CCTelegram drills of issue 19 (cctelegram-p0-response, -bridge-recovery, -auto-recovery), without a fleet: each
scenario is well formed and its fault exists on a CCTelegram fleet, the fleet adapter's standby and load balancer, the
pure checks of mcpops.drill.fleet_checks, and the wait for a guard's repair. tests/fleet/test_drill_cctelegram.py runs
two of them on the stack; docs/drills.md records the others, run by hand."""

import json

import pytest

from mcpops.drill import checks, fleet_checks, scenarios, steps
from mcpops.drill.checks import Check
from mcpops.drill.command import plan
from mcpops.drill.lab_adapters import FleetDrillLab
from mcpops.drill.scenarios import CCTELEGRAM, FIRST, FLEET, LAB, OTHERS, DrillError, choose
from mcpops.lab.fleet import cctelegram_controller
from mcpops.lab.fleet.faults import faults_for
from mcpops.lab.fleet.lab import FleetLab
from mcpops.run.runbooks import discover

RUNBOOKS = {r.id: r for r in discover()}
NEW = ("cctelegram-p0-response", "cctelegram-bridge-recovery", "cctelegram-auto-recovery")


def test_each_new_runbook_is_drillable_and_no_longer_refused():
    for runbook_id in NEW:
        assert runbook_id in scenarios.DRILLS and runbook_id not in scenarios.NOT_DRILLABLE
        assert runbook_id in scenarios.drillable()


@pytest.mark.parametrize("runbook_id, fault, symptom, extra", [
    ("cctelegram-p0-response", "stop", "unit_restarted", {"mitigation": "restart"}),
    ("cctelegram-p0-response", "unhealthy", "rerouted", {"mitigation": "reroute"}),
    ("cctelegram-p0-response", "bad-release", "rolled_back", {"mitigation": "rollback"}),
    ("cctelegram-p0-response", "traffic-spike", "standby_serving", {"mitigation": "scale", "scale_count": 1}),
    ("cctelegram-bridge-recovery", "bridge-down", "bridge_restarted", {}),
    ("cctelegram-bridge-recovery", "bridge-hung", "bridge_restarted", {"remedy": "cleanup"}),
    ("cctelegram-auto-recovery", "stop", "timer_restarted", {"interval": "2s"}),
])
def test_each_scenario_is_well_formed_and_its_fault_exists(runbook_id, fault, symptom, extra):
    runbook, s = plan(runbook_id, fault, FLEET, CCTELEGRAM)  # plan refuses extra vars the metadata does not declare
    assert runbook.id == runbook_id and runbook.changes
    assert (s.fault, s.symptom) == (fault, symptom) and extra.items() <= s.extra_vars.items()
    assert s.labs == (FLEET,) and s.services == (CCTELEGRAM,) and s.expect_exit == 0 and s.why
    assert symptom in checks.SYMPTOMS and (symptom in checks.FLEET_SYMPTOMS or symptom == "unit_restarted")
    # a host's fault into the first host, or the load balancer's into the lab once (`mcpops fleet break lb`)
    if s.targets == LAB:
        assert fault in cctelegram_controller.FAULTS and fault not in faults_for(CCTELEGRAM)
    else:
        assert s.targets == FIRST and fault in faults_for(CCTELEGRAM)
    # the undo runs the same runbook: its vars are declared too
    assert set(s.undo_vars or {}) <= set(runbook.extra_vars)
    # only the scale drill needs a standby host; only the reroute drill leaves its broken host broken (drained)
    assert s.standby == (1 if fault == "traffic-spike" else 0)
    assert s.healthy_after == (OTHERS if fault == "unhealthy" else True)


def test_the_p0_options_are_one_scenario_each_and_stop_is_the_default():
    mitigations = [s.extra_vars["mitigation"] for s in scenarios.DRILLS["cctelegram-p0-response"]]
    assert mitigations == ["restart", "reroute", "rollback", "scale"]
    assert choose("cctelegram-p0-response", lab=FLEET, service=CCTELEGRAM).fault == "stop"
    with pytest.raises(DrillError, match="cctelegram-p0-response cannot be drilled for onec-gateway"):
        choose("cctelegram-p0-response", lab=FLEET)
    with pytest.raises(DrillError, match="the local lab cannot run it"):
        choose("cctelegram-bridge-recovery", service=CCTELEGRAM)


def test_only_the_auto_recovery_drill_breaks_after_the_run_and_undoes_its_timer():
    guarded = [(r, s.fault) for r, drills in scenarios.DRILLS.items() for s in drills if s.guard_wait]
    assert guarded == [("cctelegram-auto-recovery", "stop")]
    [s] = scenarios.DRILLS["cctelegram-auto-recovery"]
    assert s.undo_vars == {"auto_recovery_state": "absent"} and 0 < s.guard_wait <= 120
    assert s.symptom in checks.NEEDS_UNIT_BASELINE


# -- the fleet adapter: standby hosts, the load balancer's faults and upstream ---------------------------------------

def _recorded_fleet(tmp_path, monkeypatch, count=4, standby=1):
    """A fleet.json of a CCTelegram fleet, every host taken for running (no real host)."""
    state = tmp_path / "fleet"
    state.mkdir()
    hosts = {"fleet%d" % i: {"address": "127.0.9.%d" % (10 + i), "pid": 4242 + i} for i in range(1, count + 1)}
    (state / "fleet.json").write_text(json.dumps({"count": count, "standby": standby, "net": "127.0.9",
                                                  "service": CCTELEGRAM, "inventory_dir": str(tmp_path / "inv"),
                                                  "hosts": hosts}))
    monkeypatch.setattr(FleetLab, "pid", lambda self, host: 4242 + host.index)
    return state


def test_the_targets_are_the_serving_hosts_and_the_standby_is_apart(tmp_path, monkeypatch):
    lab = FleetDrillLab(3, state_dir=_recorded_fleet(tmp_path, monkeypatch), service=CCTELEGRAM, standby=1)
    assert [t.name for t in lab.targets()] == ["fleet1", "fleet2", "fleet3"]
    assert [t.name for t in lab.standby_targets()] == ["fleet4"]
    assert lab.standby is None  # a running fleet keeps its standby hosts (FleetLab.up)
    assert "traffic-spike" in lab.faults() and "bad-release" in lab.faults()
    assert lab.upstream_server(lab.standby_targets()[0]) == "127.0.9.14:8080"


def test_a_running_fleet_without_the_standby_the_drill_needs_is_refused(tmp_path, monkeypatch):
    state = _recorded_fleet(tmp_path, monkeypatch, count=3, standby=0)
    with pytest.raises(DrillError, match="has 0 standby hosts and this drill starts 1: `mcpops fleet down` first"):
        FleetDrillLab(3, state_dir=state, service=CCTELEGRAM, standby=1)
    assert FleetDrillLab(3, state_dir=state, service=CCTELEGRAM).standby is None


def test_the_upstream_is_read_from_nginx_s_site_conf(tmp_path, monkeypatch):
    lab = FleetDrillLab(3, state_dir=_recorded_fleet(tmp_path, monkeypatch), service=CCTELEGRAM)
    conf = lab.fleet.state_dir / "lb" / "conf" / "cctelegram.conf"
    assert lab.lb_upstream() == {}  # no load balancer written yet
    conf.parent.mkdir(parents=True)
    conf.write_text("upstream cctelegram_mcp {\n"
                    "    server 127.0.9.11:8080 max_fails=2 fail_timeout=5s;\n"
                    "    server 127.0.9.12:8080 max_fails=2 fail_timeout=5s down;\n"
                    "    # server 127.0.9.13:8080 down;\n"
                    "    server 127.0.9.14:8080 max_fails=2 fail_timeout=10s;\n}\n"
                    "server { listen 127.0.0.1:1234; }\n")
    assert lab.lb_upstream() == {"127.0.9.11:8080": False, "127.0.9.12:8080": True, "127.0.9.14:8080": False}


# -- the pure checks -----------------------------------------------------------------------------------------------

def _units(main_pid, bridge_pid, bridge_state="active"):
    return {"cctelegram-mcp": {"MainPID": main_pid, "InvocationID": "m" + main_pid, "ActiveState": "active"},
            "cctelegram-bridge": {"MainPID": bridge_pid, "InvocationID": "b" + bridge_pid,
                                  "ActiveState": bridge_state}}


def test_bridge_restarted_needs_a_new_active_bridge_and_the_deep_check():
    before = _units("100", "200")
    good = fleet_checks.check_dependencies_restarted("fleet1", before, _units("100", "201"), ("cctelegram-bridge",),
                                                     None)
    assert good.ok and "cctelegram-bridge restarted (main PID 200 -> 201)" in good.detail
    # the same (hung) bridge process, a bridge not active, a deep check that fails, no dependency named
    assert not fleet_checks.check_dependencies_restarted("fleet1", before, before, ("cctelegram-bridge",), None).ok
    assert not fleet_checks.check_dependencies_restarted(
        "fleet1", before, _units("100", "201", "activating"), ("cctelegram-bridge",), None).ok
    failing = fleet_checks.check_dependencies_restarted("fleet1", before, _units("100", "201"), ("cctelegram-bridge",),
                                                        "'bridge.running == true' fails")
    assert not failing.ok and "bridge.running" in failing.detail
    assert not fleet_checks.check_dependencies_restarted("fleet1", before, _units("100", "201"), (), None).ok


def test_rerouted_needs_the_server_down_and_the_load_balancer_answering():
    upstream = {"127.0.9.11:8080": False, "127.0.9.13:8080": True}
    assert fleet_checks.check_rerouted("fleet3", "127.0.9.13:8080", upstream, 200).ok
    assert not fleet_checks.check_rerouted("fleet3", "127.0.9.13:8080", upstream, 502).ok
    still = fleet_checks.check_rerouted("fleet1", "127.0.9.11:8080", upstream, 200)
    assert not still.ok and "still serving" in still.detail
    assert "not in the upstream" in fleet_checks.check_rerouted("fleet2", "127.0.9.12:8080", upstream, 200).detail


def test_rolled_back_needs_the_old_release_running_and_saying_its_version():
    links = {"current": "2.4.0", "previous": "2.5.0"}
    assert fleet_checks.check_rolled_back("fleet1", links, "2.4.0", "active", 200, {"version": "2.4.0"}).ok
    assert not fleet_checks.check_rolled_back("fleet1", {"current": "2.5.0"}, "2.4.0", "active", 200,
                                              {"version": "2.4.0"}).ok
    assert not fleet_checks.check_rolled_back("fleet1", links, "2.4.0", "failed", None, None).ok
    assert not fleet_checks.check_rolled_back("fleet1", links, "2.4.0", "active", 200, {"version": "2.5.0"}).ok
    assert not fleet_checks.check_rolled_back("fleet1", links, None, "active", 200, {"version": "2.4.0"}).ok


def test_standby_serving_needs_every_standby_active_healthy_and_in_the_upstream():
    assert fleet_checks.check_standby_serving([("fleet4", "active", None, False)], 200).ok
    for row in [("fleet4", "inactive", None, False), ("fleet4", "active", "/health 503, expected 200", False),
                ("fleet4", "active", None, None), ("fleet4", "active", None, True)]:
        assert not fleet_checks.check_standby_serving([row], 200).ok, row
    assert not fleet_checks.check_standby_serving([("fleet4", "active", None, False)], 503).ok
    assert not fleet_checks.check_standby_serving([], 200).ok


def test_timer_restarted_needs_the_restart_and_the_timer_counting_it():
    restarted = Check("unit_restarted", True, "cctelegram-mcp restarted", "fleet1")
    assert fleet_checks.check_timer_restarted(restarted, 1).ok
    assert not fleet_checks.check_timer_restarted(restarted, 0).ok  # restarted by something else
    assert not fleet_checks.check_timer_restarted(restarted, None).ok
    assert not fleet_checks.check_timer_restarted(Check("unit_restarted", False, "not restarted", "fleet1"), 1).ok
    assert fleet_checks.check_timer_removed({"fleet1": "not-found", "fleet2": "not-found"}).ok
    assert not fleet_checks.check_timer_removed({"fleet1": "not-found", "fleet2": "loaded"}).ok
    assert not fleet_checks.check_timer_removed({}).ok


# -- the wait for a guard's repair (the fault goes in after the run) ------------------------------------------------

class _Target:
    def __init__(self, name):
        self.name = name


def test_the_wait_ends_when_the_symptom_is_gone_or_at_its_deadline(monkeypatch):
    answers = iter([False, False, True])
    asked = []

    def symptom(lab, target, name, facts, output):
        asked.append((target.name, name, facts))
        return Check(name, next(answers), "")

    monkeypatch.setattr(steps, "symptom_check", symptom)
    scenario = scenarios.DRILLS["cctelegram-auto-recovery"][0]
    targets = [_Target("fleet1"), _Target("fleet2")]
    assert steps.wait_for_repair(None, scenario, targets, {"units_before": {}}, timeout=60, interval=0)
    # the first host only (the fault went there), asked until it was repaired
    assert asked == [("fleet1", "timer_restarted", {"units_before": {}})] * 3
    answers = iter([False] * 5)
    assert not steps.wait_for_repair(None, scenario, targets, {}, timeout=0, interval=0)


class _FakeLab:
    """A lab that records what the drill asks of it, in order (no host, no runbook run)."""

    kind, service, inventory, started = FLEET, CCTELEGRAM, "inventory", False

    def __init__(self, events):
        self.events = events

    def faults(self):
        return ("stop",)

    def up(self):
        self.events.append("up")

    def targets(self):
        return [_FakeTarget("fleet1"), _FakeTarget("fleet2")]

    def unit_snapshot(self, target):
        self.events.append(f"snapshot {target.name}")
        return {}

    def inject(self, target, fault):
        self.events.append(f"inject {target.name} {fault}")
        return fault

    def service_state(self, target):
        return "active"

    def fault_facts(self, fault):
        return {}

    def env(self):
        return {}


class _FakeTarget(_Target):
    def has(self, what):
        return False


@pytest.mark.parametrize("runbook_id, order", [
    ("cctelegram-auto-recovery", ["up", "run", "snapshot fleet1", "inject fleet1 stop", "wait", "run"]),
    ("cctelegram-p0-response", ["up", "snapshot fleet1", "inject fleet1 stop", "run"]),
])
def test_a_guard_scenario_runs_the_runbook_before_the_fault(tmp_path, monkeypatch, runbook_id, order):
    from mcpops.drill import command
    from mcpops.run import runner

    events = []
    monkeypatch.setattr(runner, "new_run_dir", lambda name, runs_dir: tmp_path)
    monkeypatch.setattr(runner, "run", lambda request, progress, run_dir, env: (events.append("run"), (0, None))[1])
    monkeypatch.setattr(command, "probe_line", lambda target: "/health 200")
    monkeypatch.setattr(command, "wait_for_repair", lambda *args: (events.append("wait"), True)[1])
    monkeypatch.setattr(steps, "common_checks", lambda target, healthy: [Check("healthy", True, "", target.name)])
    monkeypatch.setattr(steps, "symptom_check", lambda lab, target, symptom, facts, output:
                        Check(symptom, "units_before" in facts, "", target.name))
    monkeypatch.setattr(steps, "undone_check", lambda lab, symptom, facts: None)
    runbook, scenario = plan(runbook_id, "stop", FLEET, CCTELEGRAM)
    verdict = command.drill(_FakeLab(events), runbook, scenario, out=lambda line: None)
    assert events == order  # the auto-recovery drill's second run is its undo
    assert verdict.passed and verdict.injected == ["fleet1: stop"]
    assert (tmp_path / "drill.json").exists()
