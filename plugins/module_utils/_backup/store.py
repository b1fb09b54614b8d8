# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BackupStore: list, verify, create, restore and prune the backups of one gateway data dir, on the files.

The create (store_create), the restore (store_restore, with the swap of data_swap), the prune (store_prune), the
verification (verify) and the sealed safety backups (sealed_backup) are imported by the methods that use them: on a
host every file a module imports is compiled from source (the AnsiballZ zip keeps no .pyc), and a run compiles only
what it runs (a create: no restore, prune or sealing, and verify only when the newest backup may already hold the
data).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.backup_id import (
    is_safety_backup_id,
    validate_backup_id,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.data_dir_lock import (
    LockHeldError,
    lock_is_held,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import (
    BACKUPS_DIR,
    MANIFEST_NAME,
    ManifestError,
    data_file_sizes,
    describe_files,
    parse_timestamp,
    read_manifest,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.restore_journal import interrupted_restore
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import (
    Dir,
    UnsafeFileError,
    kind_of,
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

    # -- create (store_create.py) ------------------------------------------
    def create(self, backup_id=None, force=False, _locked=False):
        """Copy every data file into backups/<id>, refused under the gateway's lock unless force, and for a data dir
        holding a link or a special file; nothing partial is left. Returns the manifest (store_create.create)."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store_create import create
        return create(self, backup_id, force, _locked)

    # -- restore (store_restore.py: only a run that restores or recovers compiles it) --
    def resolve(self, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION):
        """A concrete id for backup_id ('latest_valid' or an id), validated."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store_restore import resolve
        return resolve(self, backup_id, max_schema_version)

    def check_restorable(self, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION):
        """The backup's manifest, or RestoreRefusedError: invalid or too new is never restored, force or not."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store_restore import check_restorable
        return check_restorable(self, backup_id, max_schema_version)

    def plan_restore(self, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION, manifest=None, current=None,
                     key=None):
        """What restore() would do, touching nothing (store_restore.plan_restore)."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store_restore import plan_restore
        return plan_restore(self, backup_id, max_schema_version, manifest, current, key)

    def recover(self, _locked=False):
        """Finish or undo an interrupted restore (under the lock). None when there was none."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store_restore import recover
        return recover(self, _locked)

    def restore(self, backup_id, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION, require_lock=True, key=None):
        """Restore backup_id ('latest_valid' or an id) into the data dir under the lock (store_restore.restore)."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store_restore import restore
        return restore(self, backup_id, max_schema_version, require_lock, key)

    # -- sealed safety backups (backups/.sealed/, see sealed_backup.py) --------
    def is_sealed(self, backup_id):
        """True when backup_id names no backup but a sealed safety backup."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store_restore import is_sealed
        return is_sealed(self, backup_id)

    def sealed_backups(self):
        """The sealed safety backups, newest first (never candidates for latest_valid)."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.sealed_backup import list_sealed
        with self._backups() as backups:
            return list_sealed(backups)

    def check_sealed(self, backup_id, key, max_schema_version=DEFAULT_MAX_SCHEMA_VERSION):
        """The sealed backup's manifest when key opens it (by its key id) and it is not too new; else an error."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store_restore import check_sealed
        return check_sealed(self, backup_id, key, max_schema_version)

    def remove_sealed_strays(self):
        """.sealed/.tmp-* and .sealed/.open-* (a half-made or an opened copy left by a kill) are removed."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store_restore import remove_sealed_strays
        return remove_sealed_strays(self)

    # -- prune (store_prune.py) --------------------------------------------
    def plan_prune(self, keep_last=None, max_age_days=None, now=None):
        """Ids prune() would remove: beyond the keep_last newest or older than max_age_days; the newest valid
        backup always stays."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store_prune import plan_prune
        return plan_prune(self, keep_last, max_age_days, now)

    def prune(self, keep_last=None, max_age_days=None, now=None):
        """Remove what plan_prune() names, never following a link (store_prune.prune)."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store_prune import prune
        return prune(self, keep_last, max_age_days, now)


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
