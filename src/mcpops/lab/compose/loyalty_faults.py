"""The Loyalty API compose lab's faults (seed 003's symptoms), each made the way production gets it and each with
its repair: what an operator's runbook would do, so that a drill can break with one and check with the other.

| fault | how it is made | what shows it | repair |
| --- | --- | --- | --- |
| crash-at-start | .env.production's REDIS_URL made invalid, `up -d api` | api restarting, exit 2, its log names REDIS_URL | the value back, `up -d api` |
| 5xx-storm | api's faults.json `error_storm` | business requests 500, http_requests_total{status="500"} | faults.json removed |
| slow-queries | api's faults.json `slow_query_ms` | `pg_sleep` statements in PostgreSQL, http_slow_requests_total | faults.json removed |
| postgres-down | `compose stop postgres` | /ready database error, earn 503 | `compose start postgres` |
| disk-full | the database volume (its own 96 MiB tmpfs) filled by a file | ENOSPC on writes, df 100% | the file removed, postgres up |
| redis-down | `compose stop redis` | /ready redis error (the API still serves from PostgreSQL) | `compose start redis` |
| worker-disabled | WORKERS_ENABLED=0, `up -d worker` | loyalty_outbox_pending grows, worker log says disabled | WORKERS_ENABLED=1, `up -d worker` |
| webhook-429, webhook-500 | the merchant stand-in answers 429 / 500 | external_requests_total{result="rate_limited"\\|"http_error"}, loyalty_outbox_dead_total grows | the stand-in healed, delivery resumed, dead events requeued |
| telegram-token-wrong | TELEGRAM_NOTIFY_BOT_TOKEN wrong, `up -d worker` | external_requests_total{provider="telegram",status="401"}, no message | the token back, `up -d worker` |
| pending-migration | the last migration undone (its index dropped, its row gone) | `migrate status` exits 1 naming it | `migrate deploy` (exec -T api) |
| bad-release | IMAGE_TAG the broken 1.5.0 build (IMAGE_TAG_PREVIOUS the one it replaced), `up -d` | api restarting (ImportError), /live silent | rollback: the previous image back, `up -d` |
| maintenance, read-only | MAINTENANCE_MODE=1 / READ_ONLY_MODE=1, `up -d api` | 503 maintenance / read_only | the flag 0, `up -d api` |

inject() and repair() return a short line saying what they did; repair() waits until /ready answers 200 again (or,
for the outbox faults, until the symptom's cause is gone), polling with a deadline.
"""

import os

from mcpops.lab.compose import loyalty_project as project
from mcpops.lab.services.faults import clear_faults, write_faults

FILLER = "filler"
LAST_MIGRATION = "20240601000000_transactions_customer_index"
LAST_MIGRATION_INDEX = "loyalty_transactions_customer_idx"


class UnknownFault(ValueError):
    pass


def _up(lab, *services):
    lab.compose("up", "-d", "--pull", "never", *services)


def _env_fault(lab, service, **values):
    lab.set_env(**values)
    _up(lab, service)


def _env_repair(lab, service, *names):
    initial = lab.initial_env()
    lab.set_env(**{name: initial[name] for name in names})
    _up(lab, service)


def _api_faults(lab, **faults):
    """The api's faults.json: these faults, or none (the file removed)."""
    state = str(lab.dir / "state" / "api")
    if faults:
        write_faults(state, **faults)
    else:
        clear_faults(state)


def _merchant_answers(lab, status):
    write_faults(str(lab.dir / "state" / "merchant"), answer_status=status)


def fill_volume(path):
    """Fill the file system holding path with one file (posix_fallocate of every free byte); the file's path."""
    filler = os.path.join(path, FILLER)
    stat = os.statvfs(path)
    free = stat.f_bavail * stat.f_frsize
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        if free > 0:
            os.posix_fallocate(fd, os.fstat(fd).st_size, free)
    except OSError:
        pass  # what could be allocated was: the volume is full either way
    finally:
        os.close(fd)
    return filler


def _undo_last_migration(lab):
    with lab.db() as conn:
        conn.execute("DROP INDEX IF EXISTS %s" % LAST_MIGRATION_INDEX)
        conn.execute("DELETE FROM _prisma_migrations WHERE migration_name = %s", (LAST_MIGRATION,))


def _deploy(lab):
    lab.migrate("deploy")


def _bad_release(lab):
    """A release as a deploy script makes it: the tag it replaces kept as IMAGE_TAG_PREVIOUS."""
    current = lab.read_env()["IMAGE_TAG"]
    lab.set_env(IMAGE_TAG=project.BAD_RELEASE, IMAGE_TAG_PREVIOUS=current)
    _up(lab, "api", "worker")


def _rollback(lab):
    """Back to the previous tag, and the lab's own previous one behind it again (its healthy starting point)."""
    env = lab.read_env()
    lab.set_env(IMAGE_TAG=env["IMAGE_TAG_PREVIOUS"], IMAGE_TAG_PREVIOUS=lab.initial_env()["IMAGE_TAG_PREVIOUS"])
    _up(lab, "api", "worker")


def _free_volume(lab):
    try:
        os.unlink(lab.pgvol / FILLER)
    except FileNotFoundError:
        pass
    _up(lab, "postgres")  # PostgreSQL may have stopped on a failed WAL write: the restart policy or this brings it back


# fault -> (inject(lab), repair(lab), waits for /ready after the repair)
FAULTS = {
    "crash-at-start": (lambda lab: _env_fault(lab, "api", REDIS_URL="redis://127.0.0.1:not-a-port/0"),
                       lambda lab: _env_repair(lab, "api", "REDIS_URL"), True),
    "5xx-storm": (lambda lab: _api_faults(lab, error_storm=True), lambda lab: _api_faults(lab), True),
    "slow-queries": (lambda lab: _api_faults(lab, slow_query_ms=1500), lambda lab: _api_faults(lab), True),
    "postgres-down": (lambda lab: lab.compose("stop", "postgres"), lambda lab: lab.compose("start", "postgres"), True),
    "disk-full": (lambda lab: fill_volume(str(lab.pgvol)), _free_volume, True),
    "redis-down": (lambda lab: lab.compose("stop", "redis"), lambda lab: lab.compose("start", "redis"), True),
    "worker-disabled": (lambda lab: _env_fault(lab, "worker", WORKERS_ENABLED="0"),
                        lambda lab: _env_repair(lab, "worker", "WORKERS_ENABLED"), False),
    "webhook-429": (lambda lab: _merchant_answers(lab, 429), None, False),
    "webhook-500": (lambda lab: _merchant_answers(lab, 500), None, False),
    "telegram-token-wrong": (lambda lab: _env_fault(lab, "worker", TELEGRAM_NOTIFY_BOT_TOKEN="wrong-token-123456"),
                             lambda lab: _env_repair(lab, "worker", "TELEGRAM_NOTIFY_BOT_TOKEN"), False),
    "pending-migration": (_undo_last_migration, _deploy, False),
    "bad-release": (_bad_release, _rollback, True),
    "maintenance": (lambda lab: _env_fault(lab, "api", MAINTENANCE_MODE="1"),
                    lambda lab: _env_repair(lab, "api", "MAINTENANCE_MODE"), True),
    "read-only": (lambda lab: _env_fault(lab, "api", READ_ONLY_MODE="1"),
                  lambda lab: _env_repair(lab, "api", "READ_ONLY_MODE"), True),
}


def heal_merchant(lab):
    """The merchant stand-in answers 200 again: the cause fixed, nothing requeued (what a merchant's fix does)."""
    clear_faults(str(lab.dir / "state" / "merchant"))


def _heal_merchant(lab):
    """The merchant answers again; then delivery resumed (a runbook may have paused it) and the dead events back to
    pending (the seed: fix the cause, then resend)."""
    heal_merchant(lab)
    lab.outbox("resume")
    return lab.outbox("requeue")


def _lookup(fault):
    if fault not in FAULTS:
        raise UnknownFault("unknown fault %r: one of %s" % (fault, ", ".join(FAULTS)))
    return FAULTS[fault]


def inject(lab, fault):
    make, _, _ = _lookup(fault)
    make(lab)
    return "%s: injected" % fault


def repair(lab, fault):
    _, fix, wait = _lookup(fault)
    (fix or _heal_merchant)(lab)
    if wait:
        lab.wait_ready()
    return "%s: repaired" % fault
