"""The Loyalty API's change runbooks (issue 17, seed 003: maintenance and read-only mode, migrations, backups, release
and rollback) through ansible-playbook against the shared compose lab's inventory. Check mode of each changes nothing
(containers' ids and start times, the env file, the database's rows, the backups dir); maintenance on refuses writes
and off lets them through again; the pending-migration fault shows in the status, is refused at peak and applied when
forced; a backup made, verified and restored brings back a row deleted after it; a release of the broken 1.5.0 stops
at its smoke gate saying what it left, and the rollback puts 1.4.0 back. Every change is undone before the test ends
(the lab is the session's)."""

import concurrent.futures
import os
import uuid

import pytest

from mcpops.lab.compose import loyalty_project
from mcpops.lab.compose.loyalty_faults import LAST_MIGRATION

from loyalty_playbook_runs import run_loyalty_playbook

READY_TIMEOUT = 60  # seconds for the lab to be ready again on a loaded 2-core machine
ALWAYS_PEAK = "00:00-24:00"  # a peak-hours window that holds whenever the test runs


@pytest.fixture
def lab(loyalty_lab):
    """The session's lab, ready (a test before may have left it broken: then this says so)."""
    loyalty_lab.wait_ready(timeout=READY_TIMEOUT)
    return loyalty_lab


def run_playbook(lab, tmp_path, name, *flags, **extra):
    """(exit code, output) of playbooks/<name>.yml against the lab's inventory, the output's whitespace runs made one
    space (the callback folds long messages over lines); the report goes under tmp_path."""
    proc = run_loyalty_playbook(lab, tmp_path / ("report-%s-%s" % (name, uuid.uuid4().hex[:8])), name, flags, extra)
    output = proc.stdout + proc.stderr
    for secret in ("metrics_token", "db_password", "pg_superuser_password", "telegram_bot_token"):
        assert lab.secret(secret) not in output, "a secret of the lab was printed: " + secret
    return proc.returncode, " ".join(output.split())


def snapshot(lab, backups_dir):
    """What check mode must leave alone: each container's id, state and start time, the env file, the rows."""
    ids = lab.docker.run("ps", "--all", "--quiet", "--no-trunc", "--filter",
                         "label=com.docker.compose.project=" + loyalty_project.PROJECT).stdout.split()
    containers = sorted(lab.docker.run("inspect", "--format",
                                       "{{.Id}} {{.Name}} {{.Config.Image}} {{.State.Status}} {{.State.StartedAt}}",
                                       *ids).stdout.splitlines())
    with lab.db() as conn:
        rows = conn.execute("SELECT (SELECT count(*) FROM loyalty_accounts), (SELECT count(*) FROM loyalty_transactions),"
                            " (SELECT count(*) FROM outbox), (SELECT string_agg(migration_name || ':' ||"
                            " coalesce(finished_at::text, '-'), ',' ORDER BY migration_name) FROM _prisma_migrations)"
                            ).fetchone()
    return {"containers": containers, "env": lab.env_path.read_bytes(), "rows": rows,
            "backups": sorted(os.listdir(backups_dir)) if backups_dir.exists() else None}


def earn(lab, who, points=5):
    return lab.call("POST", "/api/v1/loyalty/earn", {"customerId": who, "points": points})


def restore_release(lab):
    """The lab's own release lines back (IMAGE_TAG 1.4.0, IMAGE_TAG_PREVIOUS 1.3.0, no _ROLLED_BACK), its app
    containers on them, /ready 200."""
    initial = lab.initial_env()
    values = lab.read_env()
    if (values.get("IMAGE_TAG"), values.get("IMAGE_TAG_PREVIOUS"), "IMAGE_TAG_ROLLED_BACK" in values) == \
            (initial["IMAGE_TAG"], initial["IMAGE_TAG_PREVIOUS"], False):
        return
    values.pop("IMAGE_TAG_ROLLED_BACK", None)
    values.update(IMAGE_TAG=initial["IMAGE_TAG"], IMAGE_TAG_PREVIOUS=initial["IMAGE_TAG_PREVIOUS"])
    lab.write_env(values)
    lab.compose("up", "-d", "--pull", "never", "api", "worker")
    lab.wait_ready(timeout=READY_TIMEOUT)


def test_check_mode_of_each_runbook_changes_nothing(lab, tmp_path):
    backups = tmp_path / "backups"
    lab.break_("pending-migration")  # so that the deploy has something it would apply
    try:
        before = snapshot(lab, backups)
        check_mode_runs_change_nothing(lab, tmp_path, backups, before)
    finally:
        lab.repair("pending-migration")


def check_mode_runs_change_nothing(lab, tmp_path, backups, before):
    runs = [("loyalty-maintenance-mode", {"mode": "maintenance", "state": "on"}),
            ("loyalty-maintenance-mode", {"mode": "read_only", "state": "on"}),
            ("loyalty-migrations", {"operation": "deploy"}),
            ("loyalty-backup", {"operation": "create", "backups_dir": str(backups)}),
            ("loyalty-release", {"release_tag": loyalty_project.RELEASES[0], "backups_dir": str(backups)}),
            ("loyalty-rollback", {})]
    # check mode changes nothing, so the runs may overlap: the file takes the time of the slowest, not the sum
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda run: run_playbook(lab, tmp_path, run[0], "--check", **run[1]), runs))
    for (name, extra), (code, output) in zip(runs, results):
        assert code == 0, "%s %s in check mode:\n%s" % (name, extra, output[-3000:])
        assert "Check mode: would" in output, name
    assert snapshot(lab, backups) == before
    assert "would release %s over %s" % (loyalty_project.RELEASES[0], loyalty_project.RELEASES[1]) in results[4][1]
    assert "would roll back %s -> %s" % (loyalty_project.RELEASES[1], loyalty_project.RELEASES[0]) in results[5][1]
    assert "Check mode: would apply %s" % LAST_MIGRATION in results[2][1]


def test_maintenance_on_refuses_writes_and_off_lets_them_through(lab, tmp_path):
    who = "h15-" + uuid.uuid4().hex[:8]
    env_before = lab.read_env()
    try:
        code, output = run_playbook(lab, tmp_path, "loyalty-maintenance-mode", mode="maintenance", state="on")
        assert code == 0, output[-3000:]
        assert "a write answered 503 maintenance" in output
        status, body = earn(lab, who)
        assert (status, body["error"]) == (503, "maintenance")
        assert lab.get("/health")[1]["maintenance"] is True
        since = lab.read_env()["MAINTENANCE_MODE_SINCE"]  # the guard's record, written when it went on
        assert since.endswith("Z") and lab.read_env()["MAINTENANCE_MODE"] == "1"
    finally:
        code, output = run_playbook(lab, tmp_path, "loyalty-maintenance-mode", mode="maintenance", state="off")
    assert code == 0, output[-3000:]
    assert "maintenance: on since %s (" % since in output  # the guard said how long it had been on
    assert "maintenance is off" in output and "MAINTENANCE_MODE_SINCE" not in lab.read_env()
    assert earn(lab, who)[0] == 200
    assert lab.read_env() == env_before  # the flag back to 0, its record gone, nothing else touched


def test_pending_migration_shows_is_refused_at_peak_and_applies_when_forced(lab, tmp_path):
    lab.break_("pending-migration")
    try:
        code, output = run_playbook(lab, tmp_path, "loyalty-migrations", operation="deploy", peak_hours=ALWAYS_PEAK)
        assert code != 0
        assert "pending %s" % LAST_MIGRATION in output  # the status, read before the guard
        assert "It is peak time" in output and "Nothing was changed" in output
        assert lab.migrate("status")[1]["pending"] == [LAST_MIGRATION]

        code, output = run_playbook(lab, tmp_path, "loyalty-migrations", operation="deploy", peak_hours=ALWAYS_PEAK,
                                    force=True)
        assert code == 0, output[-3000:]
        assert "Applied: %s" % LAST_MIGRATION in output and "up to date (3 applied" in output
        report = lab.migrate("status")[1]
        assert (report["up_to_date"], report["pending"]) == (True, [])
    finally:
        if not lab.migrate("status")[1]["up_to_date"]:
            lab.repair("pending-migration")


def test_backup_verify_and_restore_bring_back_a_row_deleted_after_the_backup(lab, tmp_path):
    backups = tmp_path / "backups"
    who = "h15-" + uuid.uuid4().hex[:8]
    assert earn(lab, who, 42)[0] == 200
    code, output = run_playbook(lab, tmp_path, "loyalty-backup", operation="create", backups_dir=str(backups))
    assert code == 0, output[-3000:]
    dumps = sorted(p.name for p in backups.iterdir())
    assert len(dumps) == 2 and dumps[0].endswith(".sql.gz") and dumps[1] == dumps[0] + ".sha256", dumps
    assert "(matches its .sha256)" in output and "verified (" in output
    with lab.db() as conn:
        conn.execute("DELETE FROM loyalty_accounts WHERE customer_id = %s", (who,))
    try:
        code, output = run_playbook(lab, tmp_path, "loyalty-backup", operation="restore", backups_dir=str(backups),
                                    backup_file=dumps[0])
        assert code == 0, output[-3000:]
        assert "a write answered 503 maintenance" in output  # maintenance was on around the restore
        with lab.db() as conn:
            assert conn.execute("SELECT balance FROM loyalty_accounts WHERE customer_id = %s",
                                (who,)).fetchone() == (42,)
        assert lab.read_env()["MAINTENANCE_MODE"] == "0" and lab.get("/health")[1]["maintenance"] is False
    finally:
        if lab.read_env()["MAINTENANCE_MODE"] != "0":
            lab.repair("maintenance")


def test_a_bad_release_stops_at_its_smoke_gate_and_the_rollback_puts_the_previous_back(lab, tmp_path):
    current, bad = loyalty_project.RELEASES[-1], loyalty_project.BAD_RELEASE
    try:
        code, output = run_playbook(lab, tmp_path, "loyalty-release", release_tag=bad, smoke_seconds=4,
                                    backups_dir=str(tmp_path / "backups"))
        assert code != 0
        assert "Release of %s STOPPED at the smoke gate" % bad in output
        assert "State left:" in output and "loyalty-rollback.yml puts %s back" % current in output
        env = lab.read_env()
        assert (env["IMAGE_TAG"], env["IMAGE_TAG_PREVIOUS"]) == (bad, current)
        assert len(list((tmp_path / "backups").glob("*.sql.gz"))) == 1  # gate 2 passed before the smoke gate

        code, output = run_playbook(lab, tmp_path, "loyalty-rollback")
        assert code == 0, output[-3000:]
        assert "Rolled back %s -> %s" % (bad, current) in output and "database left as is" in output
        status, health = lab.get("/health")
        assert (status, health["version"]) == (200, current)
        images = lab.docker.run("ps", "--filter", "label=com.docker.compose.project=" + loyalty_project.PROJECT,
                                "--format", "{{.Image}}").stdout.split()
        assert loyalty_project.image(bad) not in images and images.count(loyalty_project.image(current)) == 2
    finally:
        restore_release(lab)
