"""A restore killed at any point leaves the old or the new data once the next run recovered."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.data_swap import (
    JOURNAL_NAME,
    SwapError,
    interrupted_restore,
    read_journal,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import BackupStore

NEW_DATA = {
    "storage-meta.json": '{"schemaVersion": 3, "appliedMigrations": ["001_init"]}',
    "tokens.json": '{"tokens": []}',
    "profiles.json": '{"profiles": []}',
    "index/catalog.json": '{"objects": []}',
    "only-in-backup/extra.json": '{"x": 1}',
}


class SimulatedKill(BaseException):
    """Raised from on_step: like SIGKILL, nothing in the restore catches it."""


def prepare(tmp_path, dd):
    """A data dir whose backup is NEW_DATA while the current data is the (different) old data."""
    data_dir = dd.make(tmp_path, NEW_DATA)
    store = BackupStore(data_dir)
    backup_id = store.create()["id"]
    for rel in NEW_DATA:
        os.unlink(os.path.join(data_dir, *rel.split("/")))
    os.rmdir(os.path.join(data_dir, "only-in-backup"))
    dd.write_tree(data_dir, dd.OLD_DATA)
    return store, backup_id


def recorded_steps(tmp_path, dd):
    store, backup_id = prepare(tmp_path / "record", dd)
    steps = []
    store.on_step = lambda name, **info: steps.append(name)
    store.restore(backup_id)
    return steps


def new_snapshot(dd):
    return {k: v.encode() for k, v in NEW_DATA.items()}


def files_only(snap):
    return {k: v for k, v in snap.items() if v is not None}


def test_steps_cover_every_phase(tmp_path, dd):
    steps = recorded_steps(tmp_path, dd)
    for name in ("safety_backup", "journal_written", "staged_file", "staged", "moved_old", "moved_new", "swapped", "old_removed", "done"):
        assert name in steps


def test_kill_at_every_step_then_recover(tmp_path, dd):
    steps = recorded_steps(tmp_path, dd)
    assert len(steps) > 15
    for kill_at in range(len(steps)):
        kill_and_recover(tmp_path / ("run%d" % kill_at), dd, steps, kill_at)


def kill_and_recover(tmp_path, dd, steps, kill_at):
    store, backup_id = prepare(tmp_path, dd)
    data_dir = store.data_dir
    old = files_only(dd.data_snapshot(data_dir))
    backups_before = dd.snapshot(store.backups_dir)
    calls = []

    def killer(name, **info):
        calls.append(name)
        if len(calls) - 1 == kill_at:
            raise SimulatedKill(name)

    store.on_step = killer
    with pytest.raises(SimulatedKill):
        store.restore(backup_id)
    killed_after = steps[kill_at]
    # while the journal exists, the gateway refuses to start (conventions.md)
    mid = files_only(dd.data_snapshot(data_dir))
    if interrupted_restore(data_dir):
        assert read_journal(data_dir)["backupId"] == backup_id
    else:
        assert mid in (old, new_snapshot(dd)), "no journal but a mixed data dir after %s" % killed_after

    # the next run (any state) recovers first
    recovered = BackupStore(data_dir).recover()
    data = files_only(dd.data_snapshot(data_dir))
    assert data in (old, new_snapshot(dd)), "mixed data after recovery from a kill at %s" % killed_after
    before_staged = steps.index("staged")
    if kill_at < before_staged:
        assert data == old
        if recovered:
            assert recovered["action"] == "rolled_back"
    else:
        assert data == new_snapshot(dd)
        if recovered:
            assert recovered["action"] == "rolled_forward"
    leftovers = sorted(n for n in os.listdir(data_dir) if n.startswith("."))
    assert leftovers == [".gateway.lock"]
    # backups/ was never touched, except for the safety backup
    after = dd.snapshot(store.backups_dir)
    assert {k: v for k, v in after.items() if "-pre-restore-" not in k} == backups_before
    # and a second restore finishes the job (or finds nothing to do)
    BackupStore(data_dir).restore(backup_id)
    assert files_only(dd.data_snapshot(data_dir)) == new_snapshot(dd)


def test_restore_itself_recovers_an_interrupted_restore(tmp_path, dd):
    store, backup_id = prepare(tmp_path, dd)
    calls = []

    def killer(name, **info):
        calls.append(name)
        if name == "moved_old":
            raise SimulatedKill()

    store.on_step = killer
    with pytest.raises(SimulatedKill):
        store.restore(backup_id)
    result = BackupStore(store.data_dir).restore(backup_id)
    assert result["recovered"]["action"] == "rolled_forward"
    assert result["changed"] is False
    assert files_only(dd.data_snapshot(store.data_dir)) == new_snapshot(dd)


def test_staging_error_rolls_back_at_once(tmp_path, dd):
    store, backup_id = prepare(tmp_path, dd)
    old = dd.data_snapshot(store.data_dir)

    def failing(name, **info):
        if name == "staged_file":
            raise OSError(28, "No space left on device")

    store.on_step = failing
    with pytest.raises(OSError):
        store.restore(backup_id)
    assert dd.data_snapshot(store.data_dir) == old
    assert not interrupted_restore(store.data_dir)


def test_damaged_journal_is_reported_not_guessed(tmp_path, dd):
    store, _ = prepare(tmp_path, dd)
    with open(os.path.join(store.data_dir, JOURNAL_NAME), "w") as handle:
        handle.write("{half")
    with pytest.raises(SwapError, match="by hand"):
        store.recover()


# -- a real SIGKILL ------------------------------------------------------------
# The slow step is injected only here, in the test's own subprocess wrapper,
# through an on_step callback; the module_utils never read the environment.
WRAPPER = textwrap.dedent(
    r"""
    import os, sys, time
    sys.path.insert(0, sys.argv[1])
    from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import BackupStore
    slow_step = os.environ["MCPOPS_TEST_SLOW_STEP"]

    def on_step(name, **info):
        print("STEP", name, flush=True)
        if name == slow_step:
            time.sleep(30)

    BackupStore(sys.argv[2], on_step=on_step).restore(sys.argv[3])
    print("FINISHED", flush=True)
    """
)


@pytest.mark.parametrize("slow_step", ["journal_written", "staged_file", "staged", "moved_old", "moved_new", "swapped", "old_removed"])
def test_sigkill_mid_restore_then_recover(tmp_path, dd, slow_step):
    store, backup_id = prepare(tmp_path, dd)
    data_dir = store.data_dir
    old = files_only(dd.data_snapshot(data_dir))
    collections = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..", "collections")
    env = dict(os.environ, MCPOPS_TEST_SLOW_STEP=slow_step)
    proc = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, os.path.abspath(collections), data_dir, backup_id],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        for line in proc.stdout:
            if line.strip() == "STEP %s" % slow_step:
                break
        else:
            pytest.fail("restore finished without reaching %s: %s" % (slow_step, proc.stderr.read()))
        os.kill(proc.pid, signal.SIGKILL)  # the process this test started, by its PID
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert interrupted_restore(data_dir)  # the gateway would refuse to start now
    recovered = BackupStore(data_dir).recover()
    data = files_only(dd.data_snapshot(data_dir))
    if slow_step in ("journal_written", "staged_file"):
        assert recovered["action"] == "rolled_back" and data == old
    else:
        assert recovered["action"] == "rolled_forward" and data == new_snapshot(dd)
    assert not interrupted_restore(data_dir)
