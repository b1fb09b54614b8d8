# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BackupStore: list, verify, create, restore and prune the backups of one gateway data dir, on the files."""

from __future__ import annotations

import datetime
import errno
import json
import os
import shutil

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.backup_id import (
    is_safety_backup_id,
    new_backup_id,
    new_safety_backup_id,
    validate_backup_id,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.data_dir_lock import (
    DataDirLock,
    LockHeldError,
    lock_is_held,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.data_swap import (
    DataSwap,
    copy_file,
    fsync_tree,
    interrupted_restore,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import (
    BACKUPS_DIR,
    MANIFEST_NAME,
    ManifestError,
    build_manifest,
    data_files,
    describe_files,
    parse_timestamp,
    read_manifest,
    read_schema_version,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.verify import (
    check_backup_dir,
    read_parse_cache,
    write_parse_cache,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.atomic_file import fsync_path

DEFAULT_MAX_SCHEMA_VERSION = 3
LATEST_VALID = "latest_valid"


class BackupError(Exception):
    """A backup operation that was refused or failed; the message says what to do next."""


class UnknownBackupError(BackupError):
    pass


class RestoreRefusedError(BackupError):
    pass


def _sort_key(entry):
    created = parse_timestamp(entry.get("createdAt"))
    stamp = created.timestamp() if created else float("-inf")
    return (stamp, entry["id"])


def files_by_path(files):
    return {item["path"]: item["sha256"] for item in files}


def plan_changes(current_files, target_files):
    """What a restore would change: added / changed / removed paths and before/after file lists."""
    before = files_by_path(current_files)
    after = files_by_path(target_files)
    return {
        "added": sorted(p for p in after if p not in before),
        "changed": sorted(p for p in after if p in before and before[p] != after[p]),
        "removed": sorted(p for p in before if p not in after),
        "before": [{"path": p, "sha256": before[p]} for p in sorted(before)],
        "after": [{"path": p, "sha256": after[p]} for p in sorted(after)],
    }


class BackupStore:
    """The backups/ of a data dir. Every method takes ids through validate_backup_id first."""

    def __init__(self, data_dir, on_step=None):
        self.data_dir = os.path.abspath(data_dir)
        self.backups_dir = os.path.join(self.data_dir, BACKUPS_DIR)
        self.on_step = on_step  # test hook, see DataSwap
        # One verification per backup per run: {id: (fingerprint, manifest, problems, vouched)}.
        # The fingerprint (stat of the manifest and of every listed file) drops an entry whose
        # files changed since, so a cached answer is never about other bytes.
        self._checked = {}

    # -- reading -----------------------------------------------------------
    def backup_dir(self, backup_id):
        return os.path.join(self.backups_dir, validate_backup_id(backup_id))

    def list(self):
        """Backups newest first (createdAt, then id): [{id, createdAt, schemaVersion, sizeBytes, files}].

        Names starting with '.' (backups being built) are never listed. A backup
        whose manifest cannot be read is listed with createdAt/schemaVersion None
        so that verify() can name its problem.
        """
        try:
            names = os.listdir(self.backups_dir)
        except FileNotFoundError:
            return []
        entries = []
        for name in names:
            if name.startswith(".") or not os.path.isdir(os.path.join(self.backups_dir, name)):
                continue
            try:
                validate_backup_id(name)
            except ValueError:
                continue  # not a name this store could have made or can address
            entry = {"id": name, "createdAt": None, "schemaVersion": None, "sizeBytes": None, "files": None}
            try:
                manifest = read_manifest(os.path.join(self.backups_dir, name))
            except ManifestError:
                pass
            else:
                entry["createdAt"] = manifest.get("createdAt")
                entry["schemaVersion"] = manifest.get("schemaVersion")
                entry["sizeBytes"] = sum(item["size"] for item in manifest["files"])
                entry["files"] = len(manifest["files"])
            entries.append(entry)
        entries.sort(key=_sort_key, reverse=True)
        return entries

    def verify(self, backup_id):
        """Named problems of one backup; [] when it is valid."""
        return self.check(backup_id)[1]

    def _fingerprint(self, path, manifest):
        stats = []
        names = [MANIFEST_NAME] + (["data/" + item["path"] for item in manifest["files"]] if manifest else [])
        for rel in names:
            try:
                st = os.stat(os.path.join(path, *rel.split("/")))
            except OSError:
                stats.append(None)
                continue
            stats.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        return tuple(stats)

    def check(self, backup_id):
        """(manifest or None, problems, vouched) of one backup, verified at most once per store
        (that is, per module run) while its files stay as they were."""
        path = self.backup_dir(backup_id)
        if not os.path.isdir(path):
            raise UnknownBackupError("unknown backup %r: %s does not exist" % (backup_id, path))
        cached = self._checked.get(backup_id)
        if cached is not None and cached[0] == self._fingerprint(path, cached[1]):
            return cached[1:]
        manifest, problems, vouched = check_backup_dir(path, record=False)
        self._checked[backup_id] = (self._fingerprint(path, manifest), manifest, problems, vouched)
        return manifest, problems, vouched

    def save_parse_cache(self):
        """Record, in each backup this store verified clean, which (path, sha256) parse:
        backups/<id>/.parsed.json (conventions.md), written atomically and only when it adds
        something. The modules call it at the end of a run that may write (never in check mode,
        never on a refusal). Returns the ids written."""
        written = []
        for backup_id, (fingerprint, manifest, problems, vouched) in sorted(self._checked.items()):
            path = os.path.join(self.backups_dir, backup_id)
            if problems or manifest is None or not os.path.isdir(path):
                continue
            if self._fingerprint(path, manifest) != fingerprint or read_parse_cache(path) == vouched:
                continue
            if write_parse_cache(path, vouched):
                written.append(backup_id)
        return written

    def latest_valid(self, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION, entries=None):
        """The newest backup that verifies and is not too new, safety backups excluded (or None).

        Safety backups are left out so that restoring 'latest_valid' twice does not
        undo the first restore with the copy it took. entries: a list() already made;
        backups verified earlier in this run are not verified again.
        """
        for entry in self.list() if entries is None else entries:
            if is_safety_backup_id(entry["id"]):
                continue
            version = entry["schemaVersion"]
            if version is not None and version > max_schema_version:
                continue
            if not self.verify(entry["id"]):
                return entry["id"]
        return None

    def newest_valid(self):
        """The newest backup that verifies, of any kind: prune never removes it."""
        for entry in self.list():
            if not self.verify(entry["id"]):
                return entry["id"]
        return None

    def current_files(self):
        return describe_files(self.data_dir)

    def current_sizes(self):
        """[(path, size)] of every data file: stat only, no read."""
        sizes = []
        for rel in data_files(self.data_dir):
            try:
                sizes.append((rel, os.stat(os.path.join(self.data_dir, *rel.split("/"))).st_size))
            except OSError:
                sizes.append((rel, None))
        return sizes

    def lock_is_held(self):
        return lock_is_held(self.data_dir)

    def interrupted_restore(self):
        return interrupted_restore(self.data_dir)

    # -- create ------------------------------------------------------------
    def create(self, backup_id=None, force=False, _locked=False):
        """Copy every data file into backups/<id> (built in backups/.tmp-<id>, then renamed).

        Refuses while the gateway holds the lock unless force (the copy may then
        catch a store half-written). Any error removes the tmp dir: nothing partial.
        Returns the manifest.
        """
        backup_id = validate_backup_id(new_backup_id() if backup_id is None else backup_id)
        if not os.path.isdir(self.data_dir):
            raise BackupError("data dir %s does not exist; set data_dir to the gateway's ONEC_MCP_DATA_DIR" % self.data_dir)
        if not _locked and not force and self.lock_is_held():
            raise BackupError(
                "the gateway holds %s/.gateway.lock: a backup on the files could copy a store half-written; "
                "use transport: api (or auto with api_url) while it runs, stop it, or set force: true"
                % self.data_dir
            )
        final = os.path.join(self.backups_dir, backup_id)
        if os.path.lexists(final):
            raise BackupError("backup %s already exists at %s" % (backup_id, final))
        os.makedirs(self.backups_dir, exist_ok=True)
        tmp = os.path.join(self.backups_dir, ".tmp-%s" % backup_id)
        schema_version = read_schema_version(self.data_dir)
        try:
            os.mkdir(tmp, 0o700)
            files, written = [], []
            for rel in data_files(self.data_dir):
                src = os.path.join(self.data_dir, *rel.split("/"))
                dst = os.path.join(tmp, "data", *rel.split("/"))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                try:
                    size, sha = copy_file(src, dst)  # one read: read -> sha256 -> write
                except OSError as exc:
                    # A failed write names no file; say which data file was being copied, and that it was the copy.
                    exc.filename = exc.filename or "the backup's copy of %s" % rel
                    raise
                files.append({"path": rel, "size": size, "sha256": sha})
                written.append(dst)
            manifest = build_manifest(backup_id, schema_version, files)
            manifest_path = os.path.join(tmp, MANIFEST_NAME)
            with open(manifest_path, "w") as handle:
                json.dump(manifest, handle, indent=2, sort_keys=True)
                handle.write("\n")
            written.append(manifest_path)
            # write everything, then fsync the files, then the dirs (batched, not write+fsync each)
            fsync_tree(written, tmp)
            os.rename(tmp, final)
            fsync_path(self.backups_dir)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                where = exc.filename or tmp
                if exc.errno == errno.ENOSPC:
                    raise BackupError(
                        "backup %s failed: no space left on device while writing %s; nothing partial was left "
                        "(%s removed); free space on the data volume or prune old backups (state: absent) and "
                        "run again" % (backup_id, where, tmp)
                    )
                raise BackupError(
                    "backup %s failed at %s: %s; nothing partial was left (%s removed)"
                    % (backup_id, where, exc.strerror or exc, tmp)
                )
            raise
        return manifest

    # -- restore -----------------------------------------------------------
    def resolve(self, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION):
        """A concrete id for backup_id ('latest_valid' or an id), validated."""
        if backup_id == LATEST_VALID:
            found = self.latest_valid(max_schema_version)
            if found is None:
                raise UnknownBackupError(
                    "no valid backup with schemaVersion <= %d in %s (safety backups are not candidates); "
                    "run gateway_backup_info with verify: true to see each backup's problems"
                    % (max_schema_version, self.backups_dir)
                )
            return found
        validate_backup_id(backup_id)
        if not os.path.isdir(self.backup_dir(backup_id)):
            raise UnknownBackupError(
                "unknown backup %r: %s does not exist; list backups with gateway_backup_info"
                % (backup_id, self.backup_dir(backup_id))
            )
        return backup_id

    def check_restorable(self, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION):
        """The backup's manifest, or RestoreRefusedError: invalid or too new is never restored, force or not."""
        manifest, problems, _vouched = self.check(backup_id)
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

    def plan_restore(self, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION, manifest=None, current=None):
        """What restore() would do, touching nothing: {backup_id, schema_version, changed, added, changed_files, removed, before, after}.

        manifest: backup_id's manifest when check_restorable() already passed it (backup_id then
        is a concrete id); current: current_files() when already hashed.
        """
        if manifest is None:
            backup_id = self.resolve(backup_id, max_schema_version)
            manifest = self.check_restorable(backup_id, max_schema_version)
        if current is None:
            current = self.current_files()
        plan = plan_changes(current, manifest["files"])
        plan["backup_id"] = backup_id
        plan["schema_version"] = manifest.get("schemaVersion")
        plan["needed"] = bool(plan["added"] or plan["changed"] or plan["removed"])
        return plan

    def recover(self, _locked=False):
        """Finish or undo an interrupted restore (under the lock). None when there was none."""
        if not os.path.isdir(self.data_dir):
            return None
        if _locked:
            return DataSwap(self.data_dir, on_step=self.on_step).recover()
        with DataDirLock(self.data_dir):
            return DataSwap(self.data_dir, on_step=self.on_step).recover()

    def restore(self, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION, require_lock=True):
        """Restore backup_id ('latest_valid' or an id) into the data dir.

        Holds the gateway lock throughout (require_lock=False only for force with
        the lock held by someone else). Returns {changed, backup_id, safety_backup_id,
        schema_version, files_changed, recovered, plan}.
        """
        if backup_id != LATEST_VALID:
            validate_backup_id(backup_id)  # before anything is touched, lock file included
        if not os.path.isdir(self.data_dir):
            raise BackupError("data dir %s does not exist; set data_dir to the gateway's ONEC_MCP_DATA_DIR" % self.data_dir)
        # Read-only refusals (unknown, invalid, too new) come before the lock file is even created.
        concrete = self.resolve(backup_id, max_schema_version)
        self.check_restorable(concrete, max_schema_version)
        lock = DataDirLock(self.data_dir)
        if require_lock:
            lock.acquire()  # raises LockHeldError
        try:
            recovered = DataSwap(self.data_dir, on_step=self.on_step).recover()
            if recovered and backup_id == LATEST_VALID:
                concrete = self.resolve(backup_id, max_schema_version)  # a recovery may add a safety backup
            # verified above (once): check() answers from this run's result while the files are unchanged
            manifest = self.check_restorable(concrete, max_schema_version)
            current = self.current_files()
            plan = self.plan_restore(concrete, max_schema_version, manifest=manifest, current=current)
            result = {
                "changed": plan["needed"],
                "backup_id": plan["backup_id"],
                "safety_backup_id": None,
                "schema_version": plan["schema_version"],
                "files_changed": {k: plan[k] for k in ("added", "changed", "removed")},
                "recovered": recovered,
                "plan": plan,
            }
            if not plan["needed"]:
                return result
            # The safety backup is the current data itself: its manifest from the sha256s just
            # taken, its data/ the current entries renamed aside during the swap (DataSwap).
            safety_id = validate_backup_id(new_safety_backup_id())
            if os.path.lexists(self.backup_dir(safety_id)):
                raise BackupError("backup %s already exists at %s" % (safety_id, self.backup_dir(safety_id)))
            safety = build_manifest(safety_id, read_schema_version(self.data_dir), current)
            result["safety_backup_id"] = safety_id
            _m, _p, vouched = self.check(concrete)
            source = os.path.join(self.backup_dir(concrete), "data")
            DataSwap(self.data_dir, on_step=self.on_step).run(
                concrete, source, manifest["files"], safety_manifest=safety, vouched=vouched
            )
            return result
        finally:
            lock.release()

    # -- prune -------------------------------------------------------------
    def plan_prune(self, keep_last=None, max_age_days=None, now=None):
        """Ids prune() would remove. A backup goes when it is beyond the keep_last newest
        or older than max_age_days; the newest valid backup always stays."""
        if keep_last is None and max_age_days is None:
            raise BackupError("prune needs keep_last and/or max_age_days")
        if keep_last is not None and keep_last < 1:
            raise BackupError("keep_last must be at least 1, got %d" % keep_last)
        if max_age_days is not None and max_age_days < 0:
            raise BackupError("max_age_days must not be negative, got %s" % max_age_days)
        now = now or datetime.datetime.now(datetime.timezone.utc)
        entries = self.list()
        keep = self.newest_valid()
        remove = []
        for index, entry in enumerate(entries):
            if entry["id"] == keep:
                continue
            too_many = keep_last is not None and index >= keep_last
            created = parse_timestamp(entry["createdAt"])
            too_old = (
                max_age_days is not None
                and created is not None
                and (now - created) > datetime.timedelta(days=max_age_days)
            )
            if too_many or too_old:
                remove.append(entry["id"])
        return remove

    def prune(self, keep_last=None, max_age_days=None, now=None):
        removed = []
        for backup_id in self.plan_prune(keep_last, max_age_days, now):
            path = self.backup_dir(backup_id)
            # rename to a dot name first: a half-removed backup is never listed
            trash = os.path.join(self.backups_dir, ".removing-%s" % backup_id)
            os.rename(path, trash)
            shutil.rmtree(trash)
            removed.append(backup_id)
        return removed


__all__ = [
    "BackupStore",
    "BackupError",
    "UnknownBackupError",
    "RestoreRefusedError",
    "LockHeldError",
    "LATEST_VALID",
    "DEFAULT_MAX_SCHEMA_VERSION",
    "plan_changes",
]
