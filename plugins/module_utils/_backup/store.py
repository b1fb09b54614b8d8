# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BackupStore: list, verify, create, restore and prune the backups of one gateway data dir, on the files.

The swap (data_swap), the verification (verify) and the sealed safety backups (sealed_backup) are imported by
the methods that use them: on a host every file a module imports is compiled from source (the AnsiballZ zip
keeps no .pyc), and a create uses none of them (verify only when the newest backup may already hold the data).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import stat

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
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.file_copy import copy_file
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import (
    BACKUPS_DIR,
    MANIFEST_NAME,
    ManifestError,
    build_manifest,
    data_file_sizes,
    describe_files,
    parse_timestamp,
    read_manifest,
    read_schema_version,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.restore_journal import interrupted_restore
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import (
    Dir,
    UnsafeFileError,
    kind_of,
    write_all,
)

DEFAULT_MAX_SCHEMA_VERSION = 3
LATEST_VALID = "latest_valid"


class BackupError(Exception):
    """A backup operation that was refused or failed; the message says what to do next."""


class UnknownBackupError(BackupError):
    pass


class RestoreRefusedError(BackupError):
    pass


def refused(exc, doing):
    """The BackupError for a safe_fs refusal met while doing something."""
    return BackupError(
        "%s refused: %s. Nothing under the data dir is read or written through a link, and nothing but "
        "regular files and directories is opened: remove it (or put the real file there) and run again"
        % (doing, exc)
    )


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
    """The backups/ of a data dir. Every method takes ids through validate_backup_id first, and reaches
    every file through safe_fs: the data dir path is the operator's (trusted as given), nothing below it
    is read or written through a link or opened when it is a special file."""

    def __init__(self, data_dir, on_step=None):
        self.data_dir = os.path.abspath(data_dir)
        self.backups_dir = os.path.join(self.data_dir, BACKUPS_DIR)
        self.on_step = on_step  # test hook, see DataSwap
        # One verification per backup per run: {id: (fingerprint, manifest, problems, vouched)}.
        # The fingerprint (lstat of the manifest and of every listed file) drops an entry whose
        # files changed since, so a cached answer is never about other bytes.
        self._checked = {}

    # -- the safe way in ----------------------------------------------------
    @contextlib.contextmanager
    def _backups(self, create=False):
        """backups/ as a safe_fs.Dir, or None when it (or the data dir) does not exist; a backups/ that is
        a link or not a directory is refused (BackupError)."""
        try:
            root = Dir.open(self.data_dir)
        except FileNotFoundError:
            yield None
            return
        with root:
            try:
                backups = root.subdir(BACKUPS_DIR, create=create, mode=0o755)
            except FileNotFoundError:
                yield None
                return
            except UnsafeFileError as exc:
                raise refused(exc, "backups/")
            with backups:
                yield backups

    # -- reading -----------------------------------------------------------
    def backup_dir(self, backup_id):
        return os.path.join(self.backups_dir, validate_backup_id(backup_id))

    def has_backup(self, backup_id):
        """True when backups/<id> exists in any form (a link there too: verification names it)."""
        validate_backup_id(backup_id)
        with self._backups() as backups:
            return backups is not None and backups.lstat(backup_id) is not None

    def list(self):
        """Backups newest first (createdAt, then id): [{id, createdAt, schemaVersion, sizeBytes, files}].

        Names starting with '.' (backups being built) are never listed. A backup
        whose manifest cannot be read is listed with createdAt/schemaVersion None
        so that verify() can name its problem; so is a backup that is a link (never followed).
        """
        entries = []
        with self._backups() as backups:
            if backups is None:
                return []
            for name in backups.names():
                if name.startswith("."):
                    continue
                try:
                    validate_backup_id(name)
                except ValueError:
                    continue  # not a name this store could have made or can address
                st = backups.lstat(name)
                if st is None or not (stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                    continue
                entry = {"id": name, "createdAt": None, "schemaVersion": None, "sizeBytes": None, "files": None}
                if stat.S_ISDIR(st.st_mode):
                    try:
                        with backups.subdir(name) as backup:
                            manifest = read_manifest(backup)
                    except (ManifestError, UnsafeFileError, FileNotFoundError):
                        pass
                    else:
                        entry["createdAt"] = manifest["createdAt"]
                        entry["schemaVersion"] = manifest["schemaVersion"]
                        entry["sizeBytes"] = sum(item["size"] for item in manifest["files"])
                        entry["files"] = len(manifest["files"])
                entries.append(entry)
        entries.sort(key=_sort_key, reverse=True)
        return entries

    def manifest(self, backup_id):
        """The manifest of backups/<id> (ManifestError when it cannot be read, a link included)."""
        path = self.backup_dir(backup_id)
        with self._backups() as backups:
            try:
                if backups is None:
                    raise FileNotFoundError(errno.ENOENT, "missing", path)
                with backups.subdir(backup_id) as backup:
                    return read_manifest(backup)
            except FileNotFoundError:
                raise ManifestError("missing_manifest", "missing_manifest: %s does not exist" % path)
            except UnsafeFileError as exc:
                raise ManifestError("unsafe_file", "unsafe_file: %s" % exc)

    def verify(self, backup_id):
        """Named problems of one backup; [] when it is valid."""
        return self.check(backup_id)[1]

    def _fingerprint(self, backup, manifest):
        """lstat (never following) of the manifest and every listed file of backup (a safe_fs.Dir)."""
        stats = []
        names = [MANIFEST_NAME] + (["data/" + item["path"] for item in manifest["files"]] if manifest else [])
        for rel in names:
            try:
                st = backup.lstat(rel)
            except (OSError, UnsafeFileError):
                st = None
            stats.append(None if st is None else (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        return tuple(stats)

    def check(self, backup_id):
        """(manifest or None, problems, vouched) of one backup, verified at most once per store
        (that is, per module run) while its files stay as they were. A backups/<id> that is a link
        or not a directory is the problem unsafe_file."""
        path = self.backup_dir(backup_id)
        with self._backups() as backups:
            st = None if backups is None else backups.lstat(backup_id)
            if st is None:
                raise UnknownBackupError("unknown backup %r: %s does not exist" % (backup_id, path))
            if not stat.S_ISDIR(st.st_mode):
                problem = UnsafeFileError(backup_id, kind_of(st.st_mode), "a directory")
                return None, ["unsafe_file: %s" % problem], {}
            with backups.subdir(backup_id) as backup:
                cached = self._checked.get(backup_id)
                if cached is not None and cached[0] == self._fingerprint(backup, cached[1]):
                    return cached[1:]
                from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.verify import check_backup_dir
                manifest, problems, vouched = check_backup_dir(backup, record=False)
                self._checked[backup_id] = (self._fingerprint(backup, manifest), manifest, problems, vouched)
        return manifest, problems, vouched

    def save_parse_cache(self):
        """Record, in each backup this store verified clean, which (path, sha256) parse:
        backups/<id>/.parsed.json (conventions.md), written atomically and only when it adds
        something. The modules call it at the end of a run that may write (never in check mode,
        never on a refusal). Never through a link (verify.write_parse_cache). Returns the ids written."""
        written = []
        with self._backups() as backups:
            if backups is None:
                return written
            for backup_id, (fingerprint, manifest, problems, vouched) in sorted(self._checked.items()):
                if problems or manifest is None or backups.kind(backup_id) != "a directory":
                    continue
                from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.verify import (
                    read_parse_cache,
                    write_parse_cache,
                )
                try:
                    backup = backups.subdir(backup_id)
                except (OSError, UnsafeFileError):
                    continue
                with backup:
                    if self._fingerprint(backup, manifest) != fingerprint or read_parse_cache(backup) == vouched:
                        continue
                    if write_parse_cache(backup, vouched):
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
        """[{path, size, sha256}] of the data now; a link or special file in the data is refused (BackupError)."""
        try:
            return describe_files(self.data_dir)
        except UnsafeFileError as exc:
            raise refused(exc, "reading the data dir")

    def current_sizes(self):
        """[(path, size)] of every data file: lstat only, no read; refused like current_files()."""
        try:
            return data_file_sizes(self.data_dir)
        except UnsafeFileError as exc:
            raise refused(exc, "reading the data dir")

    def lock_is_held(self):
        try:
            return lock_is_held(self.data_dir)
        except UnsafeFileError as exc:
            raise refused(exc, "the data dir lock")

    def interrupted_restore(self):
        return interrupted_restore(self.data_dir)

    # -- create ------------------------------------------------------------
    def create(self, backup_id=None, force=False, _locked=False):
        """Copy every data file into backups/<id> (built in backups/.tmp-<id>, then renamed).

        Refuses while the gateway holds the lock unless force (the copy may then
        catch a store half-written), and refuses a data dir holding a link or a special file
        (before anything is written). Any error removes the tmp dir: nothing partial.
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
        tmp_name = ".tmp-%s" % backup_id
        tmp_path = os.path.join(self.backups_dir, tmp_name)
        with Dir.open(self.data_dir) as root:
            try:
                rels = [rel for rel, _size in data_file_sizes(root)]  # refused before anything is written
            except UnsafeFileError as exc:
                raise refused(exc, "backup %s" % backup_id)
            schema_version = read_schema_version(root)
            try:
                backups = root.subdir(BACKUPS_DIR, create=True, mode=0o755)
            except UnsafeFileError as exc:
                raise refused(exc, "backup %s" % backup_id)
            with backups:
                if backups.lstat(backup_id) is not None:
                    raise BackupError("backup %s already exists at %s" % (backup_id, final))
                made = False
                try:
                    backups.mkdir(tmp_name, 0o700)
                    made = True
                    with backups.subdir(tmp_name) as tmp:
                        files = []
                        for rel in rels:
                            try:
                                size, sha = copy_file(root, rel, tmp, "data/" + rel)  # one read: read -> sha256 -> write
                            except OSError as exc:
                                # A failed write names no file; say which data file was being copied, and that it was the copy.
                                exc.filename = exc.filename or "the backup's copy of %s" % rel
                                raise
                            files.append({"path": rel, "size": size, "sha256": sha})
                        manifest = build_manifest(backup_id, schema_version, files)
                        fd = tmp.create_file(MANIFEST_NAME, 0o644)
                        try:
                            write_all(fd, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
                        finally:
                            os.close(fd)
                        # write everything, then fsync the files, then the dirs (batched, not write+fsync each)
                        tmp.fsync_tree(["data/" + rel for rel in rels] + [MANIFEST_NAME])
                    backups.rename(tmp_name, backups, backup_id)
                    backups.fsync()
                except BaseException as exc:
                    if made:
                        try:
                            backups.remove(tmp_name)
                        except (OSError, UnsafeFileError):
                            pass
                    if isinstance(exc, UnsafeFileError):
                        raise refused(exc, "backup %s" % backup_id)
                    if isinstance(exc, OSError):
                        where = exc.filename or tmp_path
                        if exc.errno == errno.ENOSPC:
                            raise BackupError(
                                "backup %s failed: no space left on device while writing %s; nothing partial was left "
                                "(%s removed); free space on the data volume or prune old backups (state: absent) and "
                                "run again" % (backup_id, where, tmp_path)
                            )
                        raise BackupError(
                            "backup %s failed at %s: %s; nothing partial was left (%s removed)"
                            % (backup_id, where, exc.strerror or exc, tmp_path)
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
        if not self.has_backup(backup_id):
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

    # -- sealed safety backups (backups/.sealed/, see sealed_backup.py) --------
    def is_sealed(self, backup_id):
        """True when backup_id names no backup but a sealed safety backup."""
        if backup_id == LATEST_VALID:
            return False
        validate_backup_id(backup_id)
        if self.has_backup(backup_id):
            return False
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.sealed_backup import has_sealed
        with self._backups() as backups:
            return has_sealed(backups, backup_id)

    def sealed_backups(self):
        """The sealed safety backups, newest first (never candidates for latest_valid)."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.sealed_backup import list_sealed
        with self._backups() as backups:
            return list_sealed(backups)

    def check_sealed(self, backup_id, key, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION):
        """The sealed backup's manifest when key opens it (by its key id) and it is not too new; else an error."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.sealed_backup import check_key
        with self._backups() as backups:
            manifest = check_key(backups, backup_id, key)
        version = manifest.get("schemaVersion")
        if version is not None and version > max_schema_version:
            raise RestoreRefusedError(
                "sealed backup %s has schemaVersion %d, newer than max_schema_version %d: pick an older backup"
                % (backup_id, version, max_schema_version))
        return manifest

    def remove_sealed_strays(self):
        """.sealed/.tmp-* and .sealed/.open-* (a half-made or an opened copy left by a kill) are removed."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.sealed_backup import SEALED_DIR
        with self._backups() as backups:
            if backups is None or backups.kind(SEALED_DIR) != "a directory":
                return
            with backups.subdir(SEALED_DIR) as sealed:
                for name in sealed.names():
                    if name.startswith("."):
                        sealed.remove(name)

    def plan_restore(self, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION, manifest=None, current=None, key=None):
        """What restore() would do, touching nothing: {backup_id, schema_version, changed, added, changed_files, removed, before, after}.

        manifest: backup_id's manifest when check_restorable() already passed it (backup_id then
        is a concrete id); current: current_files() when already hashed.
        """
        if manifest is None and self.is_sealed(backup_id):
            manifest = self.check_sealed(backup_id, key, max_schema_version)
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
            return self._swap().recover()
        with self._lock():
            return self._swap().recover()

    def _swap(self):
        """The DataSwap of this data dir (its code loaded by the runs that restore or recover)."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.data_swap import DataSwap
        return DataSwap(self.data_dir, on_step=self.on_step)

    def _lock(self):
        """The data dir lock (not taken yet); a lock file that is a link or special file is refused."""
        return _SafeLock(self.data_dir)

    def restore(self, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION, require_lock=True, key=None):
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
        if not os.path.isdir(self.data_dir):
            raise BackupError("data dir %s does not exist; set data_dir to the gateway's ONEC_MCP_DATA_DIR" % self.data_dir)
        # Read-only refusals (unknown, invalid, too new, a link or special file in the data) come before
        # the lock file is even created.
        sealed_manifest = None
        if self.is_sealed(backup_id):
            concrete = backup_id
            sealed_manifest = self.check_sealed(backup_id, key, max_schema_version)
        else:
            concrete = self.resolve(backup_id, max_schema_version)
            self.check_restorable(concrete, max_schema_version)
        self.current_sizes()
        lock = self._lock()
        if require_lock:
            lock.acquire()  # raises LockHeldError
        try:
            recovered = self._swap().recover()
            if recovered and backup_id == LATEST_VALID:
                concrete = self.resolve(backup_id, max_schema_version)  # a recovery may add a safety backup
            self.remove_sealed_strays()
            # verified above (once): check() answers from this run's result while the files are unchanged
            if sealed_manifest is not None:
                manifest = sealed_manifest
            else:
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
                "safety_backup_sealed": None,
            }
            if not plan["needed"]:
                return result
            # The safety backup is the current data itself: its manifest from the sha256s just
            # taken, its data/ the current entries renamed aside during the swap (DataSwap).
            safety_id = validate_backup_id(new_safety_backup_id())
            with self._backups() as backups:
                if backups is not None and backups.lstat(safety_id) is not None:
                    raise BackupError("backup %s already exists at %s" % (safety_id, self.backup_dir(safety_id)))
            safety = build_manifest(safety_id, read_schema_version(self.data_dir), current)
            result["safety_backup_id"] = safety_id
            if sealed_manifest is not None:
                return self._restore_sealed(concrete, manifest, safety, key, result)
            _m, _p, vouched = self.check(concrete)
            swap_safety = safety
            if key is not None:
                self._seal_safety(safety, key)
                swap_safety = None
            result["safety_backup_sealed"] = key is not None
            with self._backups() as backups:
                try:
                    source = backups.subdir(concrete + "/data")
                except UnsafeFileError as exc:
                    raise refused(exc, "restore of %s" % concrete)
                with source:
                    self._swap().run(
                        concrete, source, manifest["files"], safety_manifest=swap_safety, vouched=vouched
                    )
            return result
        finally:
            lock.release()

    def _seal_safety(self, safety, key):
        """The current data sealed as the safety backup (before the swap, which then keeps no clear copy)."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.sealed_backup import seal_data
        with self._backups(create=True) as backups, Dir.open(self.data_dir) as root:
            try:
                seal_data(root, backups, key, safety)
            except UnsafeFileError as exc:
                raise refused(exc, "sealing the safety backup")

    def _restore_sealed(self, backup_id, manifest, safety, key, result):
        """Open the sealed backup (each file checked against its manifest), seal the current data, swap."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.sealed_backup import open_sealed, remove_opened
        with self._backups() as backups:
            opened_rel = open_sealed(backups, backup_id, key, manifest)
            try:
                self._seal_safety(safety, key)
                result["safety_backup_sealed"] = True
                with backups.subdir(opened_rel) as source:
                    self._swap().run(
                        backup_id, source, manifest["files"], safety_manifest=None, vouched={}
                    )
            finally:
                remove_opened(backups, backup_id)
        return result

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
        """Remove what plan_prune() names: each renamed to a dot name first (a half-removed backup is never
        listed), then removed without following any link in it (a backup that is a link loses the link)."""
        removed = []
        for backup_id in self.plan_prune(keep_last, max_age_days, now):
            validate_backup_id(backup_id)
            trash = ".removing-%s" % backup_id
            with self._backups() as backups:
                try:
                    backups.remove(trash)  # a leftover of an earlier prune (or a name someone put there)
                    backups.rename(backup_id, backups, trash)
                    backups.remove(trash)
                except UnsafeFileError as exc:
                    raise refused(exc, "removing backup %s" % backup_id)
            removed.append(backup_id)
        return removed


class _SafeLock(DataDirLock):
    """DataDirLock whose refusal of a linked or special lock file is a BackupError."""

    def acquire(self):
        try:
            return super(_SafeLock, self).acquire()
        except UnsafeFileError as exc:
            raise refused(exc, "the data dir lock")


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
