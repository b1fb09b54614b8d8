"""A restore killed at any point leaves the old or the new data once the next run recovered."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import data_swap
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.data_swap import (
    JOURNAL_NAME,
    SwapError,
    interrupted_restore,
    read_journal,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import BackupStore

from backup_hostile import bounded, fifo_unblocker, safe_snapshot

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


# -- a crafted journal (issue 23): only names its own scheme produces are trusted -------------------------


def _journal_of(tmp_path, dd, phase="staging"):
    """A data dir whose restore was killed in phase: (store, journal dict as written)."""
    store, backup_id = prepare(tmp_path, dd)
    stop_at = {"staging": "staged_file", "staged": "staged"}[phase]

    def killer(name, **info):
        if name == stop_at:
            raise SimulatedKill()

    store.on_step = killer
    with pytest.raises(SimulatedKill):
        store.restore(backup_id)
    return store, read_journal(store.data_dir)


def _write(data_dir, journal):
    with open(os.path.join(data_dir, JOURNAL_NAME), "w") as handle:
        json.dump(journal, handle)


@pytest.fixture
def victims(tmp_path):
    """Directories outside the data dir that a crafted journal names for removal."""
    made = {}
    for name in ("victim", "victim-two"):
        path = tmp_path / name
        (path / "keep").mkdir(parents=True)
        (path / "keep" / "precious.txt").write_text("do not delete")
        made[name] = str(path)
    return made


@pytest.mark.parametrize("phase", ["staging", "staged"])
@pytest.mark.parametrize("craft", [
    lambda j, v: j.update(staging="../../victim"),
    lambda j, v: j.update(staging=v["victim"]),
    lambda j, v: j.update(old="../../victim"),
    lambda j, v: j.update(old=".restore-other.old"),
    lambda j, v: j.update(staging=".restore-%s.staging/../../../victim" % j["backupId"]),
    lambda j, v: j.update(backupId="../x"),
    lambda j, v: j.update(newEntries=j["newEntries"] + ["../victim"]),
    lambda j, v: j.update(newEntries=j["newEntries"] + ["backups"]),
    lambda j, v: j.update(files=j["files"] + [{"path": "../victim/keep", "size": 1, "sha256": "00"}]),
    lambda j, v: j.update(safety=dict(j.get("safety") or {}, tmp="../../victim")),
    lambda j, v: j.update(safety=dict(j.get("safety") or {}, id="20260101T000000Z-abcdef",
                                      tmp=".tmp-20260101T000000Z-abcdef")),
    lambda j, v: j.update(safety=dict(j.get("safety") or {}, mode="delete-everything")),
], ids=["staging-relative", "staging-absolute", "old-relative", "old-other-id", "staging-dotdot", "bad-id",
        "entry-escape", "entry-backups", "file-escape", "safety-tmp-escape", "safety-not-a-safety-id",
        "safety-mode"])
def test_a_crafted_journal_is_refused_and_nothing_is_deleted(tmp_path, dd, victims, phase, craft):
    store, journal = _journal_of(tmp_path / "dd", dd, phase)
    craft(journal, victims)
    _write(store.data_dir, journal)
    before = safe_snapshot(str(tmp_path))
    with pytest.raises(SwapError) as caught:
        BackupStore(store.data_dir).recover()
    assert "refused, nothing was removed or moved" in str(caught.value)
    assert safe_snapshot(str(tmp_path)) == before  # outside and inside alike: nothing removed, nothing moved
    with pytest.raises(SwapError):
        BackupStore(store.data_dir).restore(journal["backupId"] if "/" not in journal["backupId"] else "latest_valid")
    assert safe_snapshot(str(tmp_path)) == before


@pytest.mark.parametrize("phase", ["staging", "staged"])
@pytest.mark.parametrize("which", ["staging", "old", "probe", "safety-tmp", "safety"])
def test_a_journal_named_dir_that_is_a_link_is_refused_and_kept(tmp_path, dd, victims, phase, which):
    """The names are right, but the dir there is a link to a dir outside: never followed, never removed."""
    store, journal = _journal_of(tmp_path / "dd", dd, phase)
    safety = journal["safety"]
    where = {
        "staging": os.path.join(store.data_dir, journal["staging"]),
        "old": os.path.join(store.data_dir, journal["old"]),
        "probe": os.path.join(store.data_dir, ".restore-%s.safety" % journal["backupId"]),
        "safety-tmp": os.path.join(store.backups_dir, safety["tmp"]),
        "safety": os.path.join(store.backups_dir, safety["id"]),
    }[which]
    if os.path.lexists(where):
        shutil.rmtree(where)
    os.symlink(victims["victim"], where)
    before = safe_snapshot(str(tmp_path))
    with pytest.raises(SwapError) as caught:
        BackupStore(store.data_dir).recover()
    assert "which is a link, not a directory" in str(caught.value) and victims["victim"] not in str(caught.value)
    assert safe_snapshot(str(tmp_path)) == before and os.path.islink(where)


def test_a_journal_that_is_a_link_or_a_fifo_is_refused(tmp_path, dd, victims):
    store, journal = _journal_of(tmp_path / "dd", dd, "staging")
    outside = os.path.join(victims["victim"], "journal.json")
    with open(outside, "w") as handle:
        json.dump(journal, handle)
    path = os.path.join(store.data_dir, JOURNAL_NAME)
    os.unlink(path)
    os.symlink(outside, path)
    assert interrupted_restore(store.data_dir)  # so gateway_backup runs recovery, and refuses
    with pytest.raises(SwapError, match="a link, not a regular file"):
        BackupStore(store.data_dir).recover()
    os.unlink(path)
    os.mkfifo(path)
    with pytest.raises(SwapError, match=r"not a regular file \(a FIFO\)"):
        bounded(BackupStore(store.data_dir).recover, unblock=fifo_unblocker(path))
    assert os.path.exists(os.path.join(store.data_dir, journal["staging"]))  # nothing was rolled back


def test_a_journal_too_big_or_too_deep_is_refused(tmp_path, dd, monkeypatch):
    store, journal = _journal_of(tmp_path / "dd", dd, "staging")
    path = os.path.join(store.data_dir, JOURNAL_NAME)
    with open(path, "w") as handle:
        handle.write("[" * 300000)
    with pytest.raises(SwapError, match="nested too deeply"):
        BackupStore(store.data_dir).recover()
    _write(store.data_dir, journal)
    monkeypatch.setattr(data_swap, "MAX_JOURNAL_BYTES", 64)
    with pytest.raises(SwapError, match="more than the 64 bytes"):
        BackupStore(store.data_dir).recover()


def test_the_gateways_own_journal_is_still_recovered(tmp_path, dd):
    """The reference gateway writes version 1, no safety backup, a 'writer' key (src/mcpops/lab/gateway/backups.py):
    its names follow the same scheme, so a kill of the gateway mid-restore is still finished by the module."""
    store, backup_id = prepare(tmp_path, dd)
    data_dir = store.data_dir
    manifest_files = store.check(backup_id)[0]["files"]
    staging = os.path.join(data_dir, ".restore-%s.staging" % backup_id)
    shutil.copytree(os.path.join(store.backups_dir, backup_id, "data"), staging)
    journal = {"version": 1, "backupId": backup_id, "phase": "staged", "staging": ".restore-%s.staging" % backup_id,
               "old": ".restore-%s.old" % backup_id, "newEntries": sorted({f["path"].split("/")[0] for f in manifest_files}),
               "files": manifest_files, "writer": "onec-mcp-gateway"}
    _write(data_dir, journal)
    recovered = BackupStore(data_dir).recover()
    assert recovered == {"action": "rolled_forward", "backup_id": backup_id, "phase": "staged"}
    assert files_only(dd.data_snapshot(data_dir)) == new_snapshot(dd)
    assert not interrupted_restore(data_dir)


def test_strays_that_are_links_are_removed_as_links(tmp_path, dd, victims):
    store, _backup_id = prepare(tmp_path / "dd", dd)
    os.symlink(victims["victim"], os.path.join(store.data_dir, ".restore-x.staging"))
    os.symlink(victims["victim-two"], os.path.join(store.data_dir, JOURNAL_NAME + ".tmp"))
    before = safe_snapshot(victims["victim"])
    assert BackupStore(store.data_dir).recover() is None
    assert not os.path.lexists(os.path.join(store.data_dir, ".restore-x.staging"))
    assert safe_snapshot(victims["victim"]) == before and os.path.isdir(victims["victim-two"])
