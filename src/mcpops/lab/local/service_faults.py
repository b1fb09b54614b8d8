"""Fault injection for the service lab (`mcpops lab break <fault>` on a lab started with `--service <name>`).

Each fault returns one line saying what it did. A fault is given the ServiceLab and uses its public methods only
(nothing here imports the lab module back); the lab's `break_` dispatches here under the lab's lock.

Every service has: unhealthy (faults.json {"unhealthy": true}: its health answers 503), slow (faults.json
{"slow_ms": 3000}), healthy (undoes every fault: faults.json removed, the programs' own environment back and
restarted, stopped programs and datastores started, then waits until liveness and readiness answer 200), stop
(supervisorctl stop the main program), crash-loop (its listen address made invalid in its env file and restarted:
it exits 2 at every start, supervisord ends in BACKOFF then FATAL). By service: bridge-down (cctelegram-mcp: stop
the bridge program), db-down / redis-down (stop that datastore by its PID), datastores-up (start them again), and
for loyalty-api maintenance / read-only (MAINTENANCE_MODE=1 / READ_ONLY_MODE=1 and restart). connector-mcp's own
faults and its healthy are mcpops.lab.local.connector_faults (the common ones act on its main instance, backend-1).
"""

import json
import time

from mcpops.lab.local import supervisor as sup
from mcpops.lab.local.errors import LabError, UnknownFault
from mcpops.lab.local.service_catalog import CONNECTOR_FAULTS, CONNECTOR_MCP, DATASTORE_FAULTS, MYSQL, POSTGRES, REDIS

WAIT = 30.0
SLOW_MS = 3000
CRASH_LISTEN = "127.0.0.1:70000"  # port out of range: the service's config check exits 2 at every start
MODE_PATH = "/health"  # loyalty-api says its maintenance and readOnly modes there
_RUNNING_ISH = (sup.RUNNING, sup.STARTING, sup.BACKOFF)


def _require_up(lab):
    if not lab.supervisord_pid():
        raise LabError(f"the lab in {lab.state_dir} is not up: `mcpops lab up` first")


def _answer(status, body):
    if status is None:
        return f"no answer ({(body or {}).get('error')})"
    return f"{status} {json.dumps(body, sort_keys=True)[:300]}"


def _poll(fn, done, timeout=WAIT, interval=0.2):
    """Call fn() until done(result) or the deadline; the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if done(result) or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def _health_answers(lab):
    """{path: status} of the liveness and readiness checks."""
    found = {}
    for role in ("liveness", "readiness"):
        found[lab.spec.checks[role].path] = lab.check(role)[0]
    return found


def _merge_faults(lab, **faults):
    current = lab.read_faults()
    current.update(faults)
    return lab.write_faults(current)


# ---------------------------------------------------------------------- faults.json


def unhealthy(lab):
    _require_up(lab)
    path = _merge_faults(lab, unhealthy=True, reason="mcpops lab break unhealthy")
    answers = _poll(lambda: _health_answers(lab), lambda a: 503 in a.values())
    said = ", ".join(f"{p} {s}" for p, s in answers.items())
    return f"unhealthy: wrote {{\"unhealthy\": true}} to {path}; now {said}"


def slow(lab):
    _require_up(lab)
    path = _merge_faults(lab, slow_ms=SLOW_MS)
    return (f"slow: wrote {{\"slow_ms\": {SLOW_MS}}} to {path}; every answer of {lab.main_program} now waits "
            f"{SLOW_MS} ms")


def healthy(lab):
    """Undo every fault, then wait until liveness and readiness answer 200."""
    if lab.service == CONNECTOR_MCP:
        from mcpops.lab.local import connector_faults

        return connector_faults.healthy(lab, undo_common=common_healthy)
    return common_healthy(lab)


def common_healthy(lab):
    """healthy for every service: faults.json removed, datastores started, env overrides removed (those programs
    restarted), stopped programs started; waits until every program is RUNNING and liveness and readiness pass."""
    _require_up(lab)
    did = []
    for program in lab.program_names:
        if lab.faults_path(program).exists():
            lab.write_faults({}, program)
            did.append(f"removed {lab.faults_path(program)}")
    started = lab.start_datastores() if lab.spec.datastores else {}
    did.extend(f"started {kind} (pid {pid})" for kind, pid in started.items())
    for program in lab.program_names:
        if lab.env_overrides(program):
            lab.set_env_overrides(program, {})
            lab.restart_program(program)
            did.append(f"restored the environment of {program} and restarted it")
        elif lab.program_state(program) not in _RUNNING_ISH:
            state = lab.program_state(program)
            lab.start_program(program)
            did.append(f"started {program} (was {state})")
    for program in lab.program_names:
        lab.wait_program((sup.RUNNING,), program, timeout=WAIT)
    lab.record_program_pids()
    lab.wait_check("liveness", timeout=WAIT)
    lab.wait_check("readiness", timeout=WAIT)
    said = ", ".join(f"{p} {s}" for p, s in _health_answers(lab).items())
    return f"healthy: {'; '.join(did) or 'no fault was set'}; now {said}"


# ---------------------------------------------------------------------- programs


def stop(lab):
    _require_up(lab)
    state, pid = lab.program()
    if state not in _RUNNING_ISH:
        return f"stop: {lab.main_program} was already {state}"
    lab.stop_program()
    state = lab.wait_program((sup.STOPPED, sup.EXITED, sup.FATAL))
    lab.record_program_pids()
    return f"stop: supervisorctl stop {lab.main_program} (was pid {pid}); now {state}"


def crash_loop(lab):
    _require_up(lab)
    program = lab.main_program
    env = lab.env_overrides(program)
    env["MCPOPS_SERVICE_LISTEN"] = CRASH_LISTEN
    lab.set_env_overrides(program, env)
    lab.restart_program(program)
    state = lab.wait_program((sup.BACKOFF, sup.FATAL), timeout=WAIT)
    lab.record_program_pids()
    return (f"crash-loop: set MCPOPS_SERVICE_LISTEN={CRASH_LISTEN} (an invalid port) in {lab.env_file(program)} and "
            f"restarted {program}: it exits 2 at every start; now {state} (`mcpops lab break healthy` undoes it)")


def bridge_down(lab):
    _require_up(lab)
    bridge = next(p for p in lab.program_names if p != lab.main_program)
    state, pid = lab.program(bridge)
    if state in _RUNNING_ISH:
        lab.stop_program(bridge)
    state = lab.wait_program((sup.STOPPED, sup.EXITED, sup.FATAL), bridge)
    lab.record_program_pids()
    status, body = _poll(lambda: lab.check("deep"), lambda r: not lab.spec.deep.passes(*r), timeout=10)
    return (f"bridge-down: supervisorctl stop {bridge}" + (f" (was pid {pid})" if pid else "") + f"; now {state}; "
            f"{lab.spec.deep.path} answers {_answer(status, body)}")


def _set_mode(lab, fault, key):
    _require_up(lab)
    program = lab.main_program
    env = lab.env_overrides(program)
    env[key] = "1"
    lab.set_env_overrides(program, env)
    lab.restart_program(program)
    lab.wait_program((sup.RUNNING,), timeout=WAIT)
    lab.record_program_pids()
    status, body = _poll(lambda: lab.get(MODE_PATH), lambda r: r[0] is not None, timeout=10)
    return (f"{fault}: set {key}=1 in {lab.env_file(program)} and restarted {program}; "
            f"{MODE_PATH} answers {_answer(status, body)}")


def maintenance(lab):
    return _set_mode(lab, "maintenance", "MAINTENANCE_MODE")


def read_only(lab):
    return _set_mode(lab, "read-only", "READ_ONLY_MODE")


# ---------------------------------------------------------------------- datastores


def _datastore_down(lab, fault, kinds):
    _require_up(lab)
    did = []
    for kind in kinds:
        if lab.spec.datastore(kind) is None:
            continue
        pid = lab.stop_datastore(kind)
        did.append(f"stopped {kind} pid {pid}" if pid else f"{kind} was not running")
    status, body = _poll(lambda: lab.check("deep"), lambda r: not lab.spec.deep.passes(*r), timeout=15)
    return f"{fault}: {'; '.join(did)}; {lab.spec.deep.path} answers {_answer(status, body)}"


def db_down(lab):
    return _datastore_down(lab, "db-down", (POSTGRES, MYSQL))


def redis_down(lab):
    return _datastore_down(lab, "redis-down", (REDIS,))


def datastores_up(lab):
    _require_up(lab)
    started = lab.start_datastores()
    status, body = _poll(lambda: lab.check("deep"), lambda r: lab.spec.deep.passes(*r), timeout=WAIT)
    did = "; ".join(f"started {kind} pid {pid}" for kind, pid in started.items()) or "every datastore was running"
    return f"datastores-up: {did}; {lab.spec.deep.path} answers {_answer(status, body)}"


_FAULTS = {
    "unhealthy": unhealthy,
    "slow": slow,
    "healthy": healthy,
    "stop": stop,
    "crash-loop": crash_loop,
    "bridge-down": bridge_down,
    DATASTORE_FAULTS[POSTGRES]: db_down,
    DATASTORE_FAULTS[REDIS]: redis_down,
    "datastores-up": datastores_up,
    "maintenance": maintenance,
    "read-only": read_only,
}
# every fault some service has; ServiceSpec.faults says which one has which
FAULTS = tuple(_FAULTS) + tuple(f for f in CONNECTOR_FAULTS if f not in _FAULTS)


def inject(lab, fault):
    """Run one of the lab's service's faults; UnknownFault (listing them) for another name."""
    table = dict(_FAULTS)
    if lab.service == CONNECTOR_MCP:
        from mcpops.lab.local import connector_faults

        table.update(connector_faults.FAULTS)
    if fault not in lab.faults or fault not in table:
        raise UnknownFault(f"unknown fault {fault!r} for {lab.service}; faults: {', '.join(lab.faults)}")
    return table[fault](lab)
