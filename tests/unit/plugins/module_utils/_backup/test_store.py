import datetime
import errno
import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import data_swap
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import store_create
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.backup_id import BackupIdError
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.data_dir_lock import LockHeldError, lock_is_held
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import (
    BackupError,
    BackupStore,
    RestoreRefusedError,
    UnknownBackupError,
)

from backup_hostile import Canary, bounded, fifo_unblocker, safe_snapshot


def corrupt(data_dir):
    with open(os.path.join(data_dir, "tokens.json"), "w") as handle:
        handle.write('{"tokens": [')
    os.unlink(os.path.join(data_dir, "clients.json"))
    with open(os.path.join(data_dir, "new-junk.json"), "w") as handle:
        handle.write("{}")


def set_manifest(store, backup_id, **changes):
    path = os.path.join(store.backups_dir, backup_id, "manifest.json")
    with open(path) as handle:
        manifest = json.load(handle)
    manifest.update(changes)
    with open(path, "w") as handle:
        json.dump(manifest, handle)


def test_create_lists_and_is_valid(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    manifest = store.create()
    assert manifest["schemaVersion"] == 3
    assert [f["path"] for f in manifest["files"]] == sorted(dd.OLD_DATA)
    (entry,) = store.list()
    assert entry["id"] == manifest["id"] and entry["files"] == len(dd.OLD_DATA)
    assert store.verify(manifest["id"]) == []
    # no leftovers of the build
    assert os.listdir(store.backups_dir) == [manifest["id"]]


def test_backup_of_unreadable_meta_has_null_schema(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    with open(os.path.join(data_dir, "storage-meta.json"), "w") as handle:
        handle.write("{garbage")
    assert BackupStore(data_dir).create()["schemaVersion"] is None


def test_list_ignores_dot_dirs_and_sorts_newest_first(tmp_path, dd):
    store = BackupStore(dd.make(tmp_path))
    first = store.create("20260101T000000Z-aaaaaa")
    second = store.create("20260102T000000Z-bbbbbb")
    set_manifest(store, first["id"], createdAt="2026-01-01T00:00:00Z")
    set_manifest(store, second["id"], createdAt="2026-01-02T00:00:00Z")
    os.makedirs(os.path.join(store.backups_dir, ".tmp-half"))
    assert [e["id"] for e in store.list()] == [second["id"], first["id"]]


def test_create_enospc_leaves_nothing_partial(tmp_path, dd, monkeypatch):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    calls = {"n": 0}
    real_copy = store_create.copy_file

    def full_disk(src_dir, src_rel, dst_dir, dst_rel, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device", dst_dir.path(dst_rel))
        return real_copy(src_dir, src_rel, dst_dir, dst_rel, **kwargs)

    monkeypatch.setattr(store_create, "copy_file", full_disk)  # BackupStore.create is store_create's
    with pytest.raises(BackupError) as exc:
        store.create()
    assert "no space left" in str(exc.value)
    assert os.listdir(store.backups_dir) == []


def test_restore_round_trip_and_safety_backup(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    old = dd.data_snapshot(data_dir)
    corrupt(data_dir)
    corrupted = dd.data_snapshot(data_dir)
    backups_before = dd.snapshot(store.backups_dir)
    result = store.restore(good)
    assert result["changed"] is True and result["backup_id"] == good and result["schema_version"] == 3
    assert result["files_changed"] == {"added": ["clients.json"], "changed": ["tokens.json"], "removed": ["new-junk.json"]}
    assert dd.data_snapshot(data_dir) == old
    # backups/ untouched except the safety backup, which is a byte copy of the corrupt data
    safety = result["safety_backup_id"]
    assert safety and "-pre-restore-" in safety
    after = dd.snapshot(store.backups_dir)
    assert {k: v for k, v in after.items() if not k.startswith(safety)} == backups_before
    assert dd.data_snapshot(os.path.join(store.backups_dir, safety, "data")) == corrupted
    assert [p.split(":")[0] for p in store.verify(safety)] == ["invalid_json"]
    # no journal, staging or old dir left
    assert sorted(n for n in os.listdir(data_dir) if n.startswith(".")) == [".gateway.lock"]


def test_restore_is_idempotent(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    result = store.restore(good)
    assert result["changed"] is False and result["safety_backup_id"] is None
    assert [e["id"] for e in store.list()] == [good]


def test_safety_backup_of_corrupt_meta_has_null_schema(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    with open(os.path.join(data_dir, "storage-meta.json"), "wb") as handle:
        handle.write(b"\xff\xfe not json")
    result = store.restore(good)
    entry = [e for e in store.list() if e["id"] == result["safety_backup_id"]][0]
    assert entry["schemaVersion"] is None
    with open(os.path.join(store.backups_dir, entry["id"], "data", "storage-meta.json"), "rb") as handle:
        assert handle.read() == b"\xff\xfe not json"


def test_latest_valid_skips_invalid_too_new_and_safety(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    ok = store.create("20260101T000000Z-000001")["id"]
    set_manifest(store, ok, createdAt="2026-01-01T00:00:00Z")
    broken = store.create("20260102T000000Z-000002")["id"]
    set_manifest(store, broken, createdAt="2026-01-02T00:00:00Z")
    os.unlink(os.path.join(store.backups_dir, broken, "data", "tokens.json"))
    too_new = store.create("20260103T000000Z-000003")["id"]
    set_manifest(store, too_new, createdAt="2026-01-03T00:00:00Z", schemaVersion=4)
    safety = store.create("20260104T000000Z-pre-restore-000004")["id"]
    set_manifest(store, safety, createdAt="2026-01-04T00:00:00Z")
    assert store.latest_valid() == ok
    assert store.latest_valid(max_schema_version=4) == too_new
    corrupt(data_dir)
    assert store.restore("latest_valid")["backup_id"] == ok


def test_restore_refuses_invalid_and_too_new_and_touches_nothing(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    bad = store.create()["id"]
    os.unlink(os.path.join(store.backups_dir, bad, "data", "tokens.json"))
    new = store.create()["id"]
    set_manifest(store, new, schemaVersion=4)
    corrupt(data_dir)
    before = dd.snapshot(data_dir)
    with pytest.raises(RestoreRefusedError, match="fails verification"):
        store.restore(bad)
    with pytest.raises(RestoreRefusedError, match="schemaVersion 4"):
        store.restore(new)
    with pytest.raises(RestoreRefusedError):
        store.plan_restore(new)
    assert dd.snapshot(data_dir) == before


@pytest.mark.parametrize("bad_id", ["../x", "/abs", "", "a" * 200, "b\u00e4ckup", ".hidden"])
def test_bad_backup_id_refused_before_any_file_is_touched(tmp_path, dd, bad_id):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    store.create()
    before = dd.snapshot(str(tmp_path))
    for call in (store.restore, store.plan_restore, store.verify, store.create):
        with pytest.raises(BackupIdError):
            call(bad_id)
    assert dd.snapshot(str(tmp_path)) == before  # not even a lock file


def test_unknown_backup_refused(tmp_path, dd):
    store = BackupStore(dd.make(tmp_path))
    with pytest.raises(UnknownBackupError):
        store.restore("20000101T000000Z-000000")
    with pytest.raises(UnknownBackupError):
        store.restore("latest_valid")


def test_plan_restore_touches_nothing(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    corrupt(data_dir)
    before = dd.snapshot(str(tmp_path))
    plan = store.plan_restore(good)
    assert dd.snapshot(str(tmp_path)) == before
    assert plan["needed"] is True
    assert (plan["added"], plan["changed"], plan["removed"]) == (["clients.json"], ["tokens.json"], ["new-junk.json"])
    before_paths = [f["path"] for f in plan["before"]]
    after_paths = [f["path"] for f in plan["after"]]
    assert "new-junk.json" in before_paths and "new-junk.json" not in after_paths
    assert all(len(f["sha256"]) == 64 for f in plan["before"] + plan["after"])


HOLDER = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
time.sleep(60)
"""


@pytest.fixture
def lock_holder():
    procs = []

    def hold(data_dir):
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, os.path.join(data_dir, ".gateway.lock")], stdout=subprocess.PIPE, text=True
        )
        procs.append(proc)
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield hold
    for proc in procs:
        proc.kill()  # by the Popen object we started, never by name
        proc.wait()


def test_restore_refused_while_another_process_holds_the_lock(tmp_path, dd, lock_holder):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    corrupt(data_dir)
    lock_holder(data_dir)
    assert lock_is_held(data_dir)
    before = dd.snapshot(str(tmp_path))
    with pytest.raises(LockHeldError, match=r"\.gateway\.lock"):
        store.restore(good)
    with pytest.raises(BackupError, match="gateway holds"):
        store.create()
    assert dd.snapshot(str(tmp_path)) == before
    store.create(force=True)  # force: a files backup while it runs


def test_restore_holds_the_lock_throughout(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    corrupt(data_dir)
    seen = []
    store.on_step = lambda name, **info: seen.append(lock_is_held(data_dir))
    store.restore(good)
    assert seen and all(seen)
    assert not lock_is_held(data_dir)


def test_lock_probe_creates_nothing(tmp_path):
    assert lock_is_held(str(tmp_path)) is False
    assert os.listdir(str(tmp_path)) == []


def dated(store, backup_id, days_ago, now):
    created = (now - datetime.timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    set_manifest(store, backup_id, createdAt=created)


def test_prune_keep_last_and_max_age(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    now = datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc)
    ids = []
    for age in range(6):  # ages 0..5 days
        backup_id = store.create("2026112%dT000000Z-00000%d" % (age, age))["id"]
        dated(store, backup_id, age, now)
        ids.append(backup_id)
    os.makedirs(os.path.join(store.backups_dir, ".tmp-keepme"))
    assert store.plan_prune(keep_last=4, now=now) == ids[4:]
    assert store.prune(max_age_days=3, now=now) == ids[4:]
    assert store.prune(keep_last=2, now=now) == ids[2:4]
    assert [e["id"] for e in store.list()] == ids[:2]
    assert os.path.isdir(os.path.join(store.backups_dir, ".tmp-keepme"))
    assert store.prune(keep_last=2, now=now) == []  # idempotent


def test_prune_never_removes_newest_valid(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    now = datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc)
    valid = store.create("20260101T000000Z-000001")["id"]
    dated(store, valid, 300, now)
    broken = store.create("20261122T000000Z-000002")["id"]
    dated(store, broken, 1, now)
    os.unlink(os.path.join(store.backups_dir, broken, "data", "tokens.json"))
    assert store.prune(keep_last=1, max_age_days=30, now=now) == []
    assert {e["id"] for e in store.list()} == {valid, broken}


def test_prune_needs_a_rule(tmp_path, dd):
    store = BackupStore(dd.make(tmp_path))
    with pytest.raises(BackupError):
        store.prune()
    with pytest.raises(BackupError):
        store.prune(keep_last=0)


# -- a hostile data dir (issue 23): create, restore, prune and the lock never follow a link or open a FIFO --


def _refuses_without_writing(tmp_path, dd, call, unblock=None):
    """call() is refused with BackupError, and nothing under tmp_path changed (links and FIFOs included)."""
    before = safe_snapshot(str(tmp_path))
    with pytest.raises(BackupError) as caught:
        bounded(call, unblock=unblock)
    assert safe_snapshot(str(tmp_path)) == before
    return str(caught.value)


@pytest.mark.parametrize("where", ["tokens.json", "index/catalog.json"])
def test_create_refuses_a_data_file_linked_outside(tmp_path, dd, where):
    """Followed, the root-only file's bytes were copied into backups/ and its sha256 written in the manifest."""
    data_dir = dd.make(tmp_path)
    canary = Canary(tmp_path / "outside")
    os.unlink(os.path.join(data_dir, *where.split("/")))
    os.symlink(canary.path, os.path.join(data_dir, *where.split("/")))
    message = _refuses_without_writing(tmp_path, dd, BackupStore(data_dir).create)
    assert "%s: a link, not a regular file (links are never followed)" % os.path.join(data_dir, *where.split("/")) in message
    canary.assert_not_in(message)
    canary.assert_not_copied_into(data_dir)


def test_create_refuses_a_linked_data_dir_entry(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    outside = tmp_path / "outside-index"
    os.rename(os.path.join(data_dir, "index"), str(outside))
    os.symlink(str(outside), os.path.join(data_dir, "index"))
    message = _refuses_without_writing(tmp_path, dd, BackupStore(data_dir).create)
    assert "index: a link, not a regular file" in message


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_create_and_restore_refuse_a_special_file_in_the_data_without_waiting(tmp_path, dd, kind, monkeypatch):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    corrupt(data_dir)
    special = os.path.join(data_dir, "index", "pipe.json")
    sock = None
    if kind == "fifo":
        os.mkfifo(special)
    else:
        monkeypatch.chdir(os.path.join(data_dir, "index"))
        sock = socket.socket(socket.AF_UNIX)
        sock.bind("pipe.json")
    try:
        unblock = fifo_unblocker(special) if kind == "fifo" else None
        word = "a FIFO" if kind == "fifo" else "a socket"
        assert "not a regular file (%s)" % word in _refuses_without_writing(tmp_path, dd, store.create, unblock)
        assert "not a regular file (%s)" % word in _refuses_without_writing(tmp_path, dd, lambda: store.restore(good), unblock)
        assert "not a regular file" in _refuses_without_writing(tmp_path, dd, lambda: store.plan_restore(good), unblock)
    finally:
        if sock is not None:
            sock.close()


def test_restore_refuses_a_link_in_the_current_data_before_the_lock(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    canary = Canary(tmp_path / "outside")
    os.unlink(os.path.join(data_dir, "tokens.json"))
    os.symlink(canary.path, os.path.join(data_dir, "tokens.json"))
    message = _refuses_without_writing(tmp_path, dd, lambda: store.restore(good))
    assert "tokens.json: a link, not a regular file" in message and not os.path.exists(os.path.join(data_dir, ".gateway.lock"))
    canary.assert_not_in(message)


def test_a_linked_backups_dir_is_refused_everywhere(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    os.makedirs(str(elsewhere))
    os.symlink(str(elsewhere), os.path.join(data_dir, "backups"))
    store = BackupStore(data_dir)
    for call in (store.create, store.list, lambda: store.restore("latest_valid"), lambda: store.verify("20260101T000000Z-abcdef")):
        message = _refuses_without_writing(tmp_path, dd, call)
        assert "backups: a link, not a directory (links are never followed)" in message
    assert os.listdir(str(elsewhere)) == []


def test_a_file_changed_into_a_link_after_verification_is_refused_while_staging(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    canary = Canary(tmp_path / "outside")
    corrupt(data_dir)
    before = dd.data_snapshot(data_dir)

    def swap_in_a_link(name, **info):
        if name == "safety_backup":
            target = os.path.join(store.backups_dir, good, "data", "tokens.json")
            os.unlink(target)
            os.symlink(canary.path, target)

    store.on_step = swap_in_a_link
    with pytest.raises(data_swap.SwapError) as caught:
        store.restore(good)
    assert "staging tokens.json refused" in str(caught.value) and "a link" in str(caught.value)
    assert dd.data_snapshot(data_dir) == before
    canary.assert_not_in(str(caught.value))
    canary.assert_not_copied_into(data_dir)


@pytest.mark.parametrize("kind", ["fifo", "link", "socket"])
def test_a_lock_file_that_is_not_a_regular_file_is_refused_without_waiting(tmp_path, dd, kind, monkeypatch):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    corrupt(data_dir)
    lock = os.path.join(data_dir, ".gateway.lock")
    canary = Canary(tmp_path / "outside")
    sock = None
    if kind == "fifo":
        os.mkfifo(lock)
    elif kind == "link":
        os.symlink(canary.path, lock)
    else:
        monkeypatch.chdir(data_dir)
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(".gateway.lock")
    try:
        unblock = fifo_unblocker(lock) if kind == "fifo" else None
        for call in (lambda: store.restore(good), store.create, store.recover):
            message = _refuses_without_writing(tmp_path, dd, call, unblock)
            assert "the data dir lock refused: %s: " % lock in message
            said = {"link": "a link, not a regular file", "fifo": "not a regular file (a FIFO)",
                    "socket": "not a regular file (a socket)"}[kind]
            assert said in message
    finally:
        if sock is not None:
            sock.close()
    canary.assert_untouched()


def test_prune_removes_a_linked_backup_as_a_link(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    now = datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc)
    keep = store.create("20261122T000000Z-000001")["id"]
    dated(store, keep, 1, now)
    outside = tmp_path / "outside-backup"
    shutil.copytree(os.path.join(store.backups_dir, keep), str(outside))
    before = safe_snapshot(str(outside))
    os.symlink(str(outside), os.path.join(store.backups_dir, "20200101T000000Z-11nked"))
    assert store.prune(keep_last=1, now=now) == ["20200101T000000Z-11nked"]
    assert safe_snapshot(str(outside)) == before and os.listdir(store.backups_dir) == [keep]


def test_copies_never_carry_setuid_setgid_or_sticky(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    os.chmod(os.path.join(data_dir, "index", "deep", "part.bin"), 0o6755)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    copied = os.path.join(store.backups_dir, good, "data", "index", "deep", "part.bin")
    assert oct(os.stat(copied).st_mode & 0o7777) == oct(0o755)
    os.chmod(copied, 0o4755)  # an attacker sets it on the backup's copy
    os.unlink(os.path.join(data_dir, "index", "deep", "part.bin"))
    store.restore(good)
    assert oct(os.stat(os.path.join(data_dir, "index", "deep", "part.bin")).st_mode & 0o7777) == oct(0o755)


def test_prune_clears_a_leftover_trash_name_without_following_it(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    now = datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc)
    old = store.create("20200101T000000Z-000001")["id"]
    dated(store, old, 300, now)
    keep = store.create("20261122T000000Z-000002")["id"]
    dated(store, keep, 1, now)
    canary = Canary(tmp_path / "outside")
    os.symlink(os.path.dirname(canary.path), os.path.join(store.backups_dir, ".removing-%s" % old))
    assert store.prune(keep_last=1, now=now) == [old]
    assert os.listdir(store.backups_dir) == [keep]
    canary.assert_untouched()
