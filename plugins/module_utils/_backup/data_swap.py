# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Swap a backup's data into a data dir so that a kill at any point leaves the old or the new data.

The protocol, one fsync'd journal phase at a time:

1. ``staging``: journal written (it names the safety backup ``backups/.tmp-<safety-id>``), then
   the safety backup is prepared (its manifest, from the current files' sha256s; in ``rename``
   mode an empty ``data/`` that the old data will be renamed into, in ``copy`` mode, when
   backups/ is on another filesystem, a full copy) and the backup's files are copied to
   ``.restore-<id>.staging``, each hashed as it is written and checked against the manifest.
   A kill here rolls back: the data dir was not touched, the ``.tmp-`` safety dir is removed.
2. ``staged``: the staged copy is complete and verified. From here on a kill rolls forward:
   current data entries move (one rename each) into the safety backup's ``data/`` (``rename``
   mode) or to ``.restore-<id>.old`` (``copy`` mode), the staged entries move in, the sizes are
   checked and ``backups/.tmp-<safety-id>`` is renamed to ``backups/<safety-id>``.
3. ``swapped``: the data dir holds the new data; the staging (and ``.old``) dirs and the
   journal are removed, the journal last.

The gateway refuses to start while the journal exists, so a half state is never served.
Nothing in backups/ but the safety backup is ever written.

The journal sits in a data dir someone else may write, so it is trusted only for the names its own
scheme gives its backup id (check_journal): ``.restore-<id>.staging``, ``.restore-<id>.old``,
``.restore-<id>.safety``, ``backups/.tmp-<safety-id>`` and ``backups/<safety-id>`` (a safety id),
single-segment data entries and manifest-shaped files; each of those dirs must be a real directory
or absent. Anything else is refused (SwapError) before a single name is removed or moved. Every name
is reached through safe_fs: never through a link, never opening a special file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.backup_id import (
    BackupIdError,
    is_safety_backup_id,
    validate_backup_id,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.bounded_json import (
    MAX_CONTROL_BYTES,
    JsonError,
    loads,
    shown,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.errors import SwapError
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.file_copy import copy_file
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import (
    BACKUPS_DIR,
    MANIFEST_NAME,
    data_entries,
    data_file_sizes,
    is_data_name,
    is_file_item,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.restore_journal import JOURNAL_NAME
# interrupted_restore was defined here before restore_journal.py: callers still import it from data_swap
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.restore_journal import (  # pylint: disable=unused-import
    interrupted_restore,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import (
    Dir,
    FileTooLargeError,
    UnsafeFileError,
    opened,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.verify import content_problems, needs_parse

RESTORE_PREFIX = ".restore-"
SAFETY_TMP_PREFIX = ".tmp-"
# The journal holds the backup's files[] (from a manifest of at most MAX_CONTROL_BYTES), compactly: twice
# that is room enough for any journal this module writes, and still a bound.
MAX_JOURNAL_BYTES = 2 * MAX_CONTROL_BYTES


def _noop_step(name, **info):
    return None


def write_json_durably(directory, name, obj, indent=2):
    """directory/name (a safe_fs.Dir) replaced by obj as JSON: a new tmp file (O_EXCL | O_NOFOLLOW), fsync,
    rename. The caller fsyncs the directory."""
    text = json.dumps(obj, indent=indent, sort_keys=True) + ("\n" if indent else "")
    directory.replace_file(name, text.encode("utf-8"), 0o644)


def write_journal(data_dir, journal):
    """Replace the journal atomically (tmp + fsync + rename + fsync dir); data_dir a safe_fs.Dir."""
    write_json_durably(data_dir, JOURNAL_NAME, journal, indent=None)
    data_dir.fsync()


def _refuse_journal(path, what):
    raise SwapError(
        "the restore journal %s %s: refused, nothing was removed or moved. This module only ever names "
        "its own .restore-<id>.staging / .restore-<id>.old / backups/.tmp-<id>-pre-restore-<hex> dirs, so the "
        "journal was written by someone else; the gateway will not start while it exists: inspect it and "
        "%s by hand" % (path, what, os.path.dirname(path))
    )


def check_journal(journal, path):
    """Raise SwapError unless every name in journal is one the naming scheme gives its backup id: the
    staging and old dirs, the safety backup's id and tmp dir, single-segment data entries, manifest-shaped
    files. Nothing else is ever trusted for a rename or a removal."""
    backup_id = journal.get("backupId")
    try:
        validate_backup_id(backup_id)
    except BackupIdError:
        _refuse_journal(path, "names backup %s, which is not a backup id" % shown(backup_id))
    for key, want in (("staging", staging_dir_name(backup_id)), ("old", old_dir_name(backup_id))):
        if journal.get(key) != want:
            _refuse_journal(path, "names %s as its %s dir, where the scheme gives %s" % (shown(journal.get(key)), key, want))
    files = journal.get("files")
    if not isinstance(files, list) or not all(is_file_item(item) for item in files):
        _refuse_journal(path, "has a 'files' list that is not a manifest's")
    entries = journal.get("newEntries")
    if not isinstance(entries, list) or not all(
        isinstance(name, str) and "/" not in name and name not in ("", ".", "..") and "\x00" not in name
        and is_data_name(name) for name in entries
    ):
        _refuse_journal(path, "names data entries that are not single data names (%s)" % shown(entries))
    if set(entries) != {item["path"].split("/", 1)[0] for item in files}:
        _refuse_journal(path, "names data entries (%s) that are not those of its files" % shown(entries))
    safety = journal.get("safety")
    if safety is not None:
        safety_id = safety.get("id") if isinstance(safety, dict) else None
        try:
            validate_backup_id(safety_id)
        except BackupIdError:
            _refuse_journal(path, "names safety backup %s, which is not a backup id" % shown(safety_id))
        if not is_safety_backup_id(safety_id):
            _refuse_journal(path, "names safety backup %s, which is not a safety backup id" % shown(safety_id))
        if safety.get("tmp") != SAFETY_TMP_PREFIX + safety_id:
            _refuse_journal(path, "names %s as the safety backup's tmp dir, where the scheme gives %s"
                            % (shown(safety.get("tmp")), SAFETY_TMP_PREFIX + safety_id))
        if safety.get("mode") not in (None, "rename", "copy"):
            _refuse_journal(path, "has safety mode %s" % shown(safety.get("mode")))


def read_journal(data_dir):
    """The journal of an unfinished restore, or None (data_dir: a safe_fs.Dir or a path trusted as given).

    Refused (SwapError) when it is a link or not a regular file, over MAX_JOURNAL_BYTES, not JSON, or
    names anything its naming scheme does not produce (check_journal)."""
    with opened(data_dir) as root:
        path = root.path(JOURNAL_NAME)
        try:
            raw = root.read_bytes(JOURNAL_NAME, MAX_JOURNAL_BYTES)
        except FileNotFoundError:
            return None
        except (UnsafeFileError, FileTooLargeError) as exc:
            raise SwapError(
                "the restore journal is refused (%s): this module writes it as a regular file, by rename; "
                "nothing was removed or moved; the gateway will not start while it exists: inspect %s by hand"
                % (exc, root.label)
            )
    try:
        journal = loads(raw)
    except JsonError as exc:
        # written by rename only, so this is damage from outside, not from a kill
        raise SwapError(
            "the restore journal %s is not valid JSON (%s); it was not written by this module's atomic "
            "rename, so recovery cannot tell old from new: inspect %s and the .restore-* dirs by hand"
            % (path, exc.where(), os.path.dirname(path))
        )
    if not isinstance(journal, dict) or journal.get("phase") not in ("staging", "staged", "swapped"):
        raise SwapError("the restore journal %s has no known phase; inspect it by hand" % path)
    check_journal(journal, path)
    return journal


def staging_dir_name(backup_id):
    return "%s%s.staging" % (RESTORE_PREFIX, backup_id)


def old_dir_name(backup_id):
    return "%s%s.old" % (RESTORE_PREFIX, backup_id)


def probe_dir_name(backup_id):
    return "%s%s.safety" % (RESTORE_PREFIX, backup_id)


class DataSwap:
    """Stage a backup's data and swap it into data_dir, journalled.

    Every name is reached through safe_fs from the data dir's fd: a link is never followed, a special
    file never opened. on_step(name, **info) is called between steps; tests raise from it to simulate a
    kill at that exact point.
    """

    def __init__(self, data_dir, on_step=None):
        self.data_dir = data_dir
        self.backups_dir = os.path.join(data_dir, BACKUPS_DIR)
        self.on_step = on_step or _noop_step
        self.root = None  # the data dir's safe_fs.Dir while an operation runs

    @contextlib.contextmanager
    def _opened(self):
        if self.root is not None:
            yield self.root
            return
        with Dir.open(self.data_dir) as root:
            self.root = root
            try:
                yield root
            finally:
                self.root = None

    def _backups(self, create=False):
        """backups/ as a safe_fs.Dir (refused when a link); the caller closes it."""
        return self.root.subdir(BACKUPS_DIR, create=create, mode=0o755)

    def _maybe_subdir(self, directory, name):
        """directory/name as a safe_fs.Dir, or None when it is missing."""
        try:
            return directory.subdir(name)
        except FileNotFoundError:
            return None

    # -- the forward path -------------------------------------------------
    def run(self, backup_id, source_data_dir, files, safety_manifest=None, vouched=None):
        """Restore files ([{path, size, sha256}] under source_data_dir, a safe_fs.Dir or a path trusted as
        given) into the data dir.

        safety_manifest: the manifest of the safety backup to take of the current data (its
        files are the current files with their sha256s); the old data becomes that backup.
        vouched: {path: sha256} whose bytes are known to parse (verified in this run or
        recorded in the parse cache); a staged file with another sha256 is parsed again.
        """
        new_entries = sorted({item["path"].split("/", 1)[0] for item in files})
        journal = {
            "version": 2,
            "backupId": backup_id,
            "phase": "staging",
            "staging": staging_dir_name(backup_id),
            "old": old_dir_name(backup_id),
            "newEntries": new_entries,
            "files": files,
        }
        if safety_manifest is not None:
            journal["safety"] = {"id": safety_manifest["id"], "tmp": SAFETY_TMP_PREFIX + safety_manifest["id"], "mode": None}
        with self._opened() as root, opened(source_data_dir) as source:
            write_journal(root, journal)
            self.on_step("journal_written")
            try:
                if safety_manifest is not None:
                    self._prepare_safety(journal, safety_manifest)
                self._stage(journal, source, vouched or {})
            except Exception:
                # An error while staging gets the data dir back as it was. A kill (or a
                # BaseException) leaves the journal for the next run to roll back.
                self.roll_back(journal)
                raise
            journal["phase"] = "staged"
            write_journal(root, journal)
            self.on_step("staged")
            self.roll_forward(journal)

    def _prepare_safety(self, journal, manifest):
        """backups/.tmp-<safety-id>/ with its manifest and a data/ that the old data will be
        renamed into; a full copy instead when backups/ is on another filesystem (EXDEV)."""
        safety = journal["safety"]
        root = self.root
        with self._backups(create=True) as backups:
            backups.remove(safety["tmp"])
            backups.mkdir(safety["tmp"], 0o700)
            with backups.subdir(safety["tmp"]) as tmp:
                probe = probe_dir_name(journal["backupId"])
                root.remove(probe)
                root.mkdir(probe, 0o700)
                try:
                    root.rename(probe, tmp, "data")  # the data dir and backups/ share a filesystem: rename mode
                    mode = "rename"
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
                    root.remove(probe)
                    mode = "copy"
                if mode == "copy":
                    tmp.mkdir("data", 0o700)
                    files = []
                    with tmp.subdir("data") as aside:
                        for item in manifest["files"]:
                            rel = item["path"]
                            size, sha = copy_file(root, rel, aside, rel)
                            files.append({"path": rel, "size": size, "sha256": sha})
                        aside.fsync_tree([item["path"] for item in files])
                    manifest = dict(manifest, files=files)
                write_json_durably(tmp, MANIFEST_NAME, manifest)
                tmp.fsync()
            if mode == "copy":
                backups.rename(safety["tmp"], backups, safety["id"])
            backups.fsync()
        root.fsync()
        safety["mode"] = mode
        self.on_step("safety_backup", backup_id=safety["id"])

    def _stage(self, journal, source, vouched):
        """Copy the backup's files into the staging dir, each hashed as it is written and checked
        against the manifest (its size before a byte is read); then fsync them all, then the dirs."""
        root = self.root
        root.remove(journal["staging"])  # a leftover from an earlier rolled-back attempt
        root.mkdir(journal["staging"], 0o700)
        written = []
        with root.subdir(journal["staging"]) as staging:
            for item in journal["files"]:
                rel = item["path"]
                want = item["sha256"].lower()
                try:
                    size, sha = copy_file(source, rel, staging, rel, expect=(item["size"], want))
                except UnsafeFileError as exc:
                    raise SwapError("staging %s refused: %s; the backup changed since it was verified: run "
                                    "gateway_backup_info with verify: true" % (rel, exc))
                except OSError as exc:
                    hint = " (no space left on the data volume: free space and run again)" if exc.errno == errno.ENOSPC else ""
                    raise SwapError("staging %s from %s failed: %s%s" % (rel, source.path(rel), exc.strerror or exc, hint))
                if size != item["size"] or sha != want:
                    raise SwapError(
                        "staged copy of %s does not match the manifest (size %d/%d, sha256 %s/%s); the backup "
                        "changed while it was restored: run gateway_backup_info with verify: true"
                        % (rel, size, item["size"], sha or "not read", item["sha256"])
                    )
                if needs_parse(rel) and vouched.get(rel) != sha:
                    problems = content_problems(staging, rel)
                    if problems:
                        raise SwapError("staged copy does not parse: %s" % "; ".join(problems))
                written.append(rel)
                self.on_step("staged_file", path=rel)
            staging.fsync_tree(written)

    # -- recovery ------------------------------------------------------------
    def roll_back(self, journal):
        """Phase 'staging': the data dir was not touched; drop the staged copy, the unfinished
        safety backup (it holds no old data yet) and the journal."""
        with self._opened() as root:
            root.remove(journal["staging"])
            root.remove(probe_dir_name(journal["backupId"]))
            safety = journal.get("safety")
            if safety:
                backups = self._maybe_subdir(root, BACKUPS_DIR)
                if backups is not None:
                    with backups:
                        backups.remove(safety["tmp"])
                        backups.fsync()
            root.unlink(JOURNAL_NAME)
            root.fsync()

    def _move_aside(self, aside, staging, new_entries):
        # An entry named in newEntries that is no longer in staging has already
        # moved in; every other data entry is old data and moves aside (renamed: a link stays a link).
        for name in data_entries(self.root):
            if name in new_entries and (staging is None or not staging.exists(name)):
                continue
            target = name
            suffix = 0
            while aside.exists(target):
                suffix += 1
                target = "%s.%d" % (name, suffix)
            self.root.rename(name, aside, target)
            self.on_step("moved_old", entry=name)

    def _move_in(self, staging, new_entries):
        if staging is None:
            return
        for name in sorted(new_entries):
            if staging.exists(name):
                staging.rename(name, self.root, name)
                self.on_step("moved_new", entry=name)

    def roll_forward(self, journal):
        """Phases 'staged'/'swapped': finish moving the staged entries in. Safe to repeat."""
        with self._opened() as root:
            new_entries = set(journal["newEntries"])
            safety = journal.get("safety") or {}
            if journal["phase"] == "staged":
                staging = self._maybe_subdir(root, journal["staging"])
                try:
                    self._swap(journal, staging, new_entries, safety)
                finally:
                    if staging is not None:
                        staging.close()
                journal["phase"] = "swapped"
                write_journal(root, journal)
                self.on_step("swapped")
            root.remove(journal["old"])
            self.on_step("old_removed")
            root.remove(journal["staging"])
            root.unlink(JOURNAL_NAME)
            root.fsync()
            self.on_step("done")

    def _swap(self, journal, staging, new_entries, safety):
        root = self.root
        if safety.get("mode") == "rename":
            with self._backups() as backups:
                if backups.kind(safety["tmp"]) == "a directory" or backups.kind(safety["id"]) is None:
                    with backups.subdir(safety["tmp"] + "/data", create=True, mode=0o700) as aside:
                        self._move_aside(aside, staging, new_entries)
                        self._move_in(staging, new_entries)
                        root.fsync()
                        aside.fsync()
                        self._check_swapped(journal, aside.label)
                    backups.rename(safety["tmp"], backups, safety["id"])  # the old data is now the safety backup
                    backups.fsync()
                    self.on_step("safety_renamed", backup_id=safety["id"])
                else:
                    # backups/<safety-id> is in place: every entry had moved before it was renamed
                    self._check_swapped(journal, backups.path(safety["id"] + "/data"))
            return
        if root.kind(journal["old"]) is None:
            root.mkdir(journal["old"], 0o700)
        with root.subdir(journal["old"]) as old:
            self._move_aside(old, staging, new_entries)
            self._move_in(staging, new_entries)
            root.fsync()
            self._check_swapped(journal, old.label)

    def _check_swapped(self, journal, previous):
        """After the renames the data dir holds exactly the manifest's paths with its sizes (the
        bytes were hashed as they were staged; a rename does not change them)."""
        expected = {item["path"]: item["size"] for item in journal["files"]}
        try:
            actual = dict(data_file_sizes(self.root))
        except UnsafeFileError as exc:
            raise SwapError(
                "after moving the staged data of backup %s into %s the data dir holds %s; the journal is kept "
                "so the gateway will not start; the previous data is in %s" % (journal["backupId"], self.data_dir, exc, previous)
            )
        if actual != expected:
            differing = sorted(p for p in set(expected) | set(actual) if expected.get(p) != actual.get(p))
            raise SwapError(
                "after moving the staged data of backup %s into %s the files differ from its manifest: %s; "
                "the journal is kept so the gateway will not start; the previous data is in %s"
                % (journal["backupId"], self.data_dir, ", ".join(differing[:10]), previous)
            )

    def _check_named_entries(self, journal):
        """Every dir the journal names exists only as a real directory (or not at all): a link or a file
        there is refused before anything is removed or moved."""
        root = self.root
        path = root.path(JOURNAL_NAME)
        names = [(root, journal["staging"]), (root, journal["old"]), (root, probe_dir_name(journal["backupId"]))]
        backups = None
        safety = journal.get("safety")
        try:
            if safety:
                try:
                    backups = self._backups()
                except FileNotFoundError:
                    backups = None
                except UnsafeFileError as exc:
                    _refuse_journal(path, "needs backups/, which is refused (%s)" % exc)
                if backups is not None:
                    names += [(backups, safety["tmp"]), (backups, safety["id"])]
            for directory, name in names:
                kind = directory.kind(name)
                if kind not in (None, "a directory"):
                    _refuse_journal(path, "names %s, which is %s, not a directory" % (directory.path(name), kind))
        finally:
            if backups is not None:
                backups.close()

    def recover(self):
        """Finish or undo an interrupted restore. Returns None or {action, backup_id, phase}.
        A journal that names anything its scheme does not produce is refused (SwapError) first."""
        with self._opened() as root:
            journal = read_journal(root)
            if journal is None:
                self._remove_strays()
                return None
            self._check_named_entries(journal)
            phase = journal["phase"]
            if phase == "staging":
                self.roll_back(journal)
                action = "rolled_back"
            else:
                self.roll_forward(journal)
                action = "rolled_forward"
        return {"action": action, "backup_id": journal.get("backupId"), "phase": phase}

    def _remove_strays(self):
        """.restore-* entries without a journal are leftovers of a finished restore; never data. Each is
        removed as it is (a link unlinked, never followed); one that cannot be is left, it is never data."""
        root = self.root
        for name in root.names():
            if name.startswith(RESTORE_PREFIX) or name == JOURNAL_NAME + ".tmp":
                try:
                    root.remove(name)
                except (OSError, UnsafeFileError):
                    pass
