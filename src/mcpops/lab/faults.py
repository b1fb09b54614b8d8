"""Fault injection for the local lab (`mcpops lab break <fault>`).

Each fault returns one line saying what it did. The store faults make the gateway's
StoreMigrationRunner refuse to start, so supervisor ends in BACKOFF/FATAL: the crash loop of
INC-001/INC-003, repaired by restoring a backup (the lab makes one at `up`).
"""

import json
import os
import signal
import time

from mcpops.lab import supervisor as sup
from mcpops.lab.local_lab import SERVICE_NAME, LabError, UnknownFault, _atomic_write, http_json

WAIT = 20.0


def _require_up(lab):
    if not lab.supervisord_pid():
        raise LabError(f"the lab in {lab.state_dir} is not up: `mcpops lab up` first")


def _wait_state(lab, wanted, timeout=WAIT):
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = lab.program_state()
        if state in wanted:
            return state
        time.sleep(0.1)
    raise LabError(f"{SERVICE_NAME} did not reach {'/'.join(wanted)} within {timeout:.0f}s (state {state})")


def _restart_into_crash_loop(lab):
    client = lab.client()
    state = lab.program_state()
    if state in (sup.RUNNING, sup.STARTING, sup.BACKOFF):
        try:
            client.stop(SERVICE_NAME, True)
        except sup.SupervisorError:
            pass  # BACKOFF -> stop may race with a respawn; start below handles both
    try:
        client.start(SERVICE_NAME, False)
    except sup.SupervisorError as exc:
        if "ALREADY_STARTED" not in str(exc):
            raise LabError(str(exc)) from exc
    lab._write_info(gateway_pid=None)
    return _wait_state(lab, (sup.BACKOFF, sup.FATAL))


def corrupt_store(lab):
    _require_up(lab)
    path = lab.data_dir / "tokens.json"
    _atomic_write(path, '{"tokens": [ {"id": "tok_broken", \n', 0o600)
    state = _restart_into_crash_loop(lab)
    return f"corrupt-store: wrote invalid JSON into {path} and restarted {SERVICE_NAME}; now {state}"


def bad_migration(lab):
    _require_up(lab)
    path = lab.data_dir / "storage-meta.json"
    try:
        meta = json.loads(path.read_text())
        if not isinstance(meta, dict):
            meta = {}
    except (OSError, ValueError):
        meta = {}
    applied = list(meta.get("appliedMigrations") or ["001_init", "002_tokens_org", "003_rate_limits"])
    if "099_future" not in applied:
        applied.append("099_future")
    meta["schemaVersion"] = 99
    meta["appliedMigrations"] = applied
    _atomic_write(path, json.dumps(meta) + "\n", 0o600)
    state = _restart_into_crash_loop(lab)
    return (f"bad-migration: set schemaVersion 99 and appliedMigrations += 099_future in {path} "
            f"and restarted {SERVICE_NAME}; now {state}")


def stop(lab):
    _require_up(lab)
    state, pid = lab._program()
    if state in (sup.STOPPED, sup.EXITED, sup.FATAL):
        return f"stop: {SERVICE_NAME} was already {state}"
    try:
        lab.client().stop(SERVICE_NAME, True)
    except sup.SupervisorError as exc:
        if "NOT_RUNNING" not in str(exc):
            raise LabError(str(exc)) from exc
    lab._write_info(gateway_pid=None)
    state = _wait_state(lab, (sup.STOPPED, sup.EXITED, sup.FATAL))
    return f"stop: supervisorctl stop {SERVICE_NAME} (was pid {pid}); now {state}"


def crash(lab):
    _require_up(lab)
    state, pid = lab._program()
    if state != sup.RUNNING or not pid:
        raise LabError(f"crash: {SERVICE_NAME} is {state}, not RUNNING; nothing to crash")
    if not sup.is_our_gateway(pid, lab.data_dir):
        raise LabError(f"crash: pid {pid} does not look like this lab's gateway; not signalling it")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + WAIT
    new_pid = None
    while time.monotonic() < deadline:
        state, new_pid = lab._program()
        if state == sup.RUNNING and new_pid and new_pid != pid:
            status, _ = http_json(lab.api_url + "/healthz", timeout=2)
            if status == 200:
                lab._write_info(gateway_pid=new_pid)
                return (f"crash: sent SIGKILL to gateway pid {pid}; supervisor restarted it as pid "
                        f"{new_pid}, healthy")
        time.sleep(0.1)
    lab._write_info(gateway_pid=new_pid)
    return f"crash: sent SIGKILL to gateway pid {pid}; supervisor state now {state} (pid {new_pid})"


_FAULTS = {
    "corrupt-store": corrupt_store,
    "bad-migration": bad_migration,
    "stop": stop,
    "crash": crash,
}
FAULTS = tuple(_FAULTS)


def inject(lab, fault):
    fn = _FAULTS.get(fault)
    if fn is None:
        raise UnknownFault(f"unknown fault {fault!r}; faults: {', '.join(FAULTS)}")
    return fn(lab)
