"""The CCTelegram fleet's symptoms (issue 19): what must be true on the hosts and at the load balancer after a drill
of cctelegram-p0-response, -bridge-recovery or -auto-recovery. Each is read from the thing itself (systemd inside
the host, the release links, nginx's site conf and its answers, the auto-recovery's metrics file), never from what the
runbook printed.

Their names and what each proves are in checks.SYMPTOMS (checks.FLEET_SYMPTOMS). The check_* functions are pure
(tests/unit/mcpops/drill/test_fleet_checks.py); fleet_symptom_check reads the lab through lab_adapters.FleetDrillLab
and compares with what it recorded before the fault (facts).
"""

from mcpops.drill.checks import Check, check_unit_restarted
from mcpops.drill.scenarios import DrillError


def check_dependencies_restarted(target, before, after, depends_on, deep_problem):
    """before/after: {unit: systemctl show's fields}; each unit in depends_on restarted and active; deep_problem:
    None when the profile's deep check answered as the profile says, else why not."""
    if not depends_on:
        return Check("bridge_restarted", False, "the profile names no unit the service depends on", target)
    parts, ok = [], True
    for unit in depends_on:
        one = check_unit_restarted(target, unit, before, after, ())
        ok = ok and one.ok
        parts.append(one.detail)
    parts.append(f"deep check: {deep_problem or 'as the profile says'}")
    return Check("bridge_restarted", ok and deep_problem is None, "; ".join(parts), target)


def check_rerouted(target, server, upstream, lb_status):
    """upstream: {server: drained (bool)} of nginx's site conf; lb_status: GET /health through it."""
    drained = upstream.get(server)
    ok = drained is True and lb_status == 200
    where = {True: "marked down", False: "still serving", None: "not in the upstream"}[drained]
    return Check("rerouted", ok, f"{server} {where} in the upstream; GET /health through the load balancer "
                                 f"{lb_status} (expected 200)", target)


def check_rolled_back(target, links, wanted, unit_state, status, body):
    """links: {"current", "previous"} now; wanted: what current was before the fault; status/body: /health's."""
    version = body.get("version") if isinstance(body, dict) else None
    ok = links.get("current") == wanted and unit_state == "active" and status == 200 and version == wanted
    return Check("rolled_back", ok, f"releases/current -> {links.get('current')} (before the fault: {wanted}, "
                                    f"previous -> {links.get('previous')}); service {unit_state}; /health {status} "
                                    f"version {version}", target)


def check_standby_serving(rows, lb_status):
    """rows: [(host, unit state, health problem or None, drained: True/False/None not in the upstream)]."""
    if not rows:
        return Check("standby_serving", False, "the fleet has no standby host")
    parts, ok = [], lb_status == 200
    for host, state, problem, drained in rows:
        where = {True: "drained", False: "in the upstream", None: "not in the upstream"}[drained]
        ok = ok and state == "active" and problem is None and drained is False
        parts.append(f"{host} {state}, {problem or 'healthy'}, {where}")
    parts.append(f"GET /health through the load balancer {lb_status} (expected 200)")
    return Check("standby_serving", ok, "; ".join(parts))


def check_timer_restarted(unit_check, restarts_total):
    """unit_check: check_unit_restarted's of the main unit; restarts_total: the timer's counter (None: no metrics)."""
    counted = restarts_total is not None and restarts_total >= 1
    detail = f"{unit_check.detail}; auto-recovery restarts_total {restarts_total}"
    return Check("timer_restarted", unit_check.ok and counted, detail, unit_check.target)


def check_timer_removed(states):
    """states: {host: the timer unit's LoadState} after the undo run."""
    left = sorted(host for host, state in states.items() if state != "not-found")
    detail = ", ".join(f"{host} {state}" for host, state in sorted(states.items()))
    return Check("undone", bool(states) and not left, f"the auto-recovery timer after the undo run: {detail} "
                                                      "(expected not-found)")


def fleet_symptom_check(lab, target, symptom, facts, evaluate):
    """A CCTelegram fleet symptom on target (standby_serving: the lab's); evaluate: profiles.evaluate."""
    from mcpops.drill.checks import probe_problem

    def problem(spec, who=target):
        status, body = who.probe(spec, timeout=5)
        return probe_problem(spec, status, body, evaluate)

    if symptom == "bridge_restarted":
        before = (facts.get("units_before") or {}).get(target.name) or {}
        depends_on = tuple((target.profile.get("runtime") or {}).get("depends_on") or ())
        deep = next(s for s in target.profile["health"]["checks"] if s["name"] == target.profile["health"]["deep"])
        # the bridge's status is a POST tool call (the runbook asks it so)
        return check_dependencies_restarted(target.name, before, lab.unit_snapshot(target), depends_on,
                                            problem(dict(deep, method="POST")))
    if symptom == "rerouted":
        return check_rerouted(target.name, lab.upstream_server(target), lab.lb_upstream(),
                              lab.lb_health(expect=200))
    if symptom == "rolled_back":
        wanted = ((facts.get("before_fault") or {}).get(target.name) or {}).get("current")
        status, body = target.probe(target.health_specs()[0], timeout=5)
        return check_rolled_back(target.name, lab.release_links(target), wanted, lab.service_state(target),
                                 status, body)
    if symptom == "standby_serving":
        upstream = lab.lb_upstream()
        rows = [(t.name, lab.service_state(t), problem(t.health_specs()[0], t), upstream.get(lab.upstream_server(t)))
                for t in lab.standby_targets()]
        return check_standby_serving(rows, lab.lb_health(expect=200))
    if symptom == "timer_restarted":
        before = (facts.get("units_before") or {}).get(target.name) or {}
        unit = check_unit_restarted(target.name, target.unit, before, lab.unit_snapshot(target), ())
        return check_timer_restarted(unit, lab.auto_recovery_restarts(target))
    raise DrillError(f"no check for symptom {symptom!r}")


def fleet_undone_check(lab, symptom):
    """After the undo run: the auto-recovery timer gone from every host; None for the other symptoms."""
    if symptom == "timer_restarted":
        return check_timer_removed({t.name: lab.timer_load_state(t) for t in lab.targets()})
    return None
