# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BackupStore's restore: resolve and check the backup, plan, recover an interrupted restore, swap, seal.

BackupStore's restore methods call these with the store: a module run that creates, lists or prunes backups never
compiles this file (the AnsiballZ payload keeps no .pyc, issue 20's <= 30 ms of own imports).
"""

from __future__ import annotations

import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.backup_id import (
    new_safety_backup_id,
    validate_backup_id,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.data_dir_lock import DataDirLock
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import (
    build_manifest,
    read_schema_version,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import Dir, UnsafeFileError
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import (
    DEFAULT_MAX_SCHEMA_VERSION,
    LATEST_VALID,
    BackupError,
    RestoreRefusedError,
    UnknownBackupError,
    plan_changes,
    refused,
)


def resolve(store, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION):
    """A concrete id for backup_id ('latest_valid' or an id), validated."""
    if backup_id == LATEST_VALID:
        found = store.latest_valid(max_schema_version)
        if found is None:
            raise UnknownBackupError(
                "no valid backup with schemaVersion <= %d in %s (safety backups are not candidates); "
                "run gateway_backup_info with verify: true to see each backup's problems"
                % (max_schema_version, store.backups_dir)
            )
        return found
    validate_backup_id(backup_id)
    if not store.has_backup(backup_id):
        raise UnknownBackupError(
            "unknown backup %r: %s does not exist; list backups with gateway_backup_info"
            % (backup_id, store.backup_dir(backup_id))
        )
    return backup_id


def check_restorable(store, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION):
    """The backup's manifest, or RestoreRefusedError: invalid or too new is never restored, force or not."""
    manifest, problems, _vouched = store.check(backup_id)
    if problems:
        raise RestoreRefusedError(
            "backup %s fails verification, refusing to restore it: %s; pick another backup "
            "(backup_id: latest_valid)" % (backup_id, "; ".join(problems[:10]))
        )
    version = manifest.get("schemaVersion")
    if version is not None and version > max_schema_version:
        raise RestoreRefusedError(
            "backup %s has schemaVersion %d, newer than max_schema_version %d that this gateway supports; "
            "restoring it would crash the gateway at start (StoreMigrationRunner): pick an older backup"
            % (backup_id, version, max_schema_version)
        )
    return manifest


def is_sealed(store, backup_id):
    """True when backup_id names no backup but a sealed safety backup."""
    if backup_id == LATEST_VALID:
        return False
    validate_backup_id(backup_id)
    if store.has_backup(backup_id):
        return False
    from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.sealed_backup import has_sealed
    with store._backups() as backups:
        return has_sealed(backups, backup_id)


def check_sealed(store, backup_id, key, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION):
    """The sealed backup's manifest when key opens it (by its key id) and it is not too new; else an error."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.sealed_backup import check_key
    with store._backups() as backups:
        manifest = check_key(backups, backup_id, key)
    version = manifest.get("schemaVersion")
    if version is not None and version > max_schema_version:
        raise RestoreRefusedError(
            "sealed backup %s has schemaVersion %d, newer than max_schema_version %d: pick an older backup"
            % (backup_id, version, max_schema_version))
    return manifest


def remove_sealed_strays(store):
    """.sealed/.tmp-* and .sealed/.open-* (a half-made or an opened copy left by a kill) are removed."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.sealed_backup import SEALED_DIR
    with store._backups() as backups:
        if backups is None or backups.kind(SEALED_DIR) != "a directory":
            return
        with backups.subdir(SEALED_DIR) as sealed:
            for name in sealed.names():
                if name.startswith("."):
                    sealed.remove(name)


def plan_restore(store, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION, manifest=None, current=None,
                 key=None):
    """What restore() would do, touching nothing: {backup_id, schema_version, changed, added, changed_files, removed,
    before, after}.

    manifest: backup_id's manifest when check_restorable() already passed it (backup_id then
    is a concrete id); current: current_files() when already hashed.
    """
    if manifest is None and store.is_sealed(backup_id):
        manifest = store.check_sealed(backup_id, key, max_schema_version)
    if manifest is None:
        backup_id = store.resolve(backup_id, max_schema_version)
        manifest = store.check_restorable(backup_id, max_schema_version)
    if current is None:
        current = store.current_files()
    plan = plan_changes(current, manifest["files"])
    plan["backup_id"] = backup_id
    plan["schema_version"] = manifest.get("schemaVersion")
    plan["needed"] = bool(plan["added"] or plan["changed"] or plan["removed"])
    return plan


def recover(store, _locked=False):
    """Finish or undo an interrupted restore (under the lock). None when there was none."""
    if not os.path.isdir(store.data_dir):
        return None
    if _locked:
        return _swap(store).recover()
    with _lock(store):
        return _swap(store).recover()


def _swap(store):
    """The DataSwap of this data dir (its code loaded by the runs that restore or recover)."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.data_swap import DataSwap
    return DataSwap(store.data_dir, on_step=store.on_step)


def _lock(store):
    """The data dir lock (not taken yet); a lock file that is a link or special file is refused."""
    return _SafeLock(store.data_dir)


def restore(store, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION, require_lock=True, key=None):
    """Restore backup_id ('latest_valid' or an id) into the data dir.

    Holds the gateway lock throughout (require_lock=False only for force with
    the lock held by someone else). Returns {changed, backup_id, safety_backup_id,
    schema_version, files_changed, recovered, plan, safety_backup_sealed}.

    key (a _forensic ForensicKey): the safety backup is sealed under backups/.sealed/<safety-id> before the
    swap (which then keeps no clear copy of the old data); a sealed backup_id is opened with it, each file
    checked against its manifest, and restored. Without key the safety backup is clear, as before.
    """
    if backup_id != LATEST_VALID:
        validate_backup_id(backup_id)  # before anything is touched, lock file included
    if not os.path.isdir(store.data_dir):
        raise BackupError("data dir %s does not exist; set data_dir to the gateway's ONEC_MCP_DATA_DIR"
                          % store.data_dir)
    # Read-only refusals (unknown, invalid, too new, a link or special file in the data) come before
    # the lock file is even created.
    sealed_manifest = None
    if store.is_sealed(backup_id):
        concrete = backup_id
        sealed_manifest = store.check_sealed(backup_id, key, max_schema_version)
    else:
        concrete = store.resolve(backup_id, max_schema_version)
        store.check_restorable(concrete, max_schema_version)
    store.current_sizes()
    lock = _lock(store)
    if require_lock:
        lock.acquire()  # raises LockHeldError
    try:
        recovered = _swap(store).recover()
        if recovered and backup_id == LATEST_VALID:
            concrete = store.resolve(backup_id, max_schema_version)  # a recovery may add a safety backup
        store.remove_sealed_strays()
        # verified above (once): check() answers from this run's result while the files are unchanged
        if sealed_manifest is not None:
            manifest = sealed_manifest
        else:
            manifest = store.check_restorable(concrete, max_schema_version)
        current = store.current_files()
        plan = store.plan_restore(concrete, max_schema_version, manifest=manifest, current=current)
        result = {
            "changed": plan["needed"],
            "backup_id": plan["backup_id"],
            "safety_backup_id": None,
            "schema_version": plan["schema_version"],
            "files_changed": {k: plan[k] for k in ("added", "changed", "removed")},
            "recovered": recovered,
            "plan": plan,
            "safety_backup_sealed": None,
        }
        if not plan["needed"]:
            return result
        # The safety backup is the current data itself: its manifest from the sha256s just
        # taken, its data/ the current entries renamed aside during the swap (DataSwap).
        safety_id = validate_backup_id(new_safety_backup_id())
        with store._backups() as backups:
            if backups is not None and backups.lstat(safety_id) is not None:
                raise BackupError("backup %s already exists at %s" % (safety_id, store.backup_dir(safety_id)))
        safety = build_manifest(safety_id, read_schema_version(store.data_dir), current)
        result["safety_backup_id"] = safety_id
        if sealed_manifest is not None:
            return _restore_sealed(store, concrete, manifest, safety, key, result)
        _m, _p, vouched = store.check(concrete)
        swap_safety = safety
        if key is not None:
            _seal_safety(store, safety, key)
            swap_safety = None
        result["safety_backup_sealed"] = key is not None
        with store._backups() as backups:
            try:
                source = backups.subdir(concrete + "/data")
            except UnsafeFileError as exc:
                raise refused(exc, "restore of %s" % concrete)
            with source:
                _swap(store).run(
                    concrete, source, manifest["files"], safety_manifest=swap_safety, vouched=vouched
                )
        return result
    finally:
        lock.release()


def _seal_safety(store, safety, key):
    """The current data sealed as the safety backup (before the swap, which then keeps no clear copy)."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.sealed_backup import seal_data
    with store._backups(create=True) as backups, Dir.open(store.data_dir) as root:
        try:
            seal_data(root, backups, key, safety)
        except UnsafeFileError as exc:
            raise refused(exc, "sealing the safety backup")


def _restore_sealed(store, backup_id, manifest, safety, key, result):
    """Open the sealed backup (each file checked against its manifest), seal the current data, swap."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.sealed_backup import (
        open_sealed,
        remove_opened,
    )
    with store._backups() as backups:
        opened_rel = open_sealed(backups, backup_id, key, manifest)
        try:
            _seal_safety(store, safety, key)
            result["safety_backup_sealed"] = True
            with backups.subdir(opened_rel) as source:
                _swap(store).run(
                    backup_id, source, manifest["files"], safety_manifest=None, vouched={}
                )
        finally:
            remove_opened(backups, backup_id)
    return result


class _SafeLock(DataDirLock):
    """DataDirLock whose refusal of a linked or special lock file is a BackupError."""

    def acquire(self):
        try:
            return super(_SafeLock, self).acquire()
        except UnsafeFileError as exc:
            raise refused(exc, "the data dir lock")
