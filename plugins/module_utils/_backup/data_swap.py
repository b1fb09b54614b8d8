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
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import (
    BACKUPS_DIR,
    MANIFEST_NAME,
    data_entries,
    data_files,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.verify import content_problems, needs_parse
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.atomic_file import fsync_path

JOURNAL_NAME = ".restore-journal.json"
RESTORE_PREFIX = ".restore-"
COPY_CHUNK = 256 * 1024


class SwapError(Exception):
    """A restore step failed; the message names the file and what to do."""


def _noop_step(name, **info):
    return None


def copy_file(src, dst, expect=None):
    """Copy bytes src -> dst in one read (read -> sha256 -> write), no fsync; (size, sha256).

    expect=(size, sha256): stop at the first byte past size and raise SwapError on a mismatch.
    """
    digest = hashlib.sha256()
    size = 0
    buf = bytearray(COPY_CHUNK)  # reused: a fresh bytes object per read costs page faults
    view = memoryview(buf)
    with open(src, "rb", buffering=0) as reader, open(dst, "wb", buffering=0) as writer:
        while True:
            count = reader.readinto(buf)
            if not count:
                break
            size += count
            if expect is not None and size > expect[0]:
                break
            chunk = view[:count]
            while chunk:
                chunk = chunk[writer.write(chunk):]
            digest.update(view[:count])
    shutil.copystat(src, dst, follow_symlinks=False)
    return size, digest.hexdigest()


def fsync_tree(paths, root):
    """fsync every file in paths, then every dir under root (deepest first), then root."""
    for path in paths:
        fsync_path(path)
    dirs = []
    for dirpath, names, _files in os.walk(root):
        dirs.extend(os.path.join(dirpath, name) for name in names)
    for path in sorted(dirs, key=len, reverse=True):
        fsync_path(path)
    fsync_path(root)


def write_json_durably(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(obj, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, path)


def journal_path(data_dir):
    return os.path.join(data_dir, JOURNAL_NAME)


def write_journal(data_dir, journal):
    """Replace the journal atomically (tmp + fsync + rename + fsync dir)."""
    path = journal_path(data_dir)
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(journal, handle, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, path)
    fsync_path(data_dir)


def read_journal(data_dir):
    """The journal of an unfinished restore, or None."""
    path = journal_path(data_dir)
    try:
        with open(path) as handle:
            journal = json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        # written by rename only, so this is damage from outside, not from a kill
        raise SwapError(
            "the restore journal %s is not valid JSON (%s); it was not written by this module's atomic "
            "rename, so recovery cannot tell old from new: inspect %s and the .restore-* dirs by hand"
            % (path, exc, os.path.dirname(path))
        )
    if not isinstance(journal, dict) or journal.get("phase") not in ("staging", "staged", "swapped"):
        raise SwapError("the restore journal %s has no known phase; inspect it by hand" % path)
    return journal


def staging_dir_name(backup_id):
    return "%s%s.staging" % (RESTORE_PREFIX, backup_id)


def old_dir_name(backup_id):
    return "%s%s.old" % (RESTORE_PREFIX, backup_id)


def probe_dir_name(backup_id):
    return "%s%s.safety" % (RESTORE_PREFIX, backup_id)


def _remove_tree(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


class DataSwap:
    """Stage a backup's data and swap it into data_dir, journalled.

    on_step(name, **info) is called between steps; tests raise from it to
    simulate a kill at that exact point.
    """

    def __init__(self, data_dir, on_step=None):
        self.data_dir = data_dir
        self.backups_dir = os.path.join(data_dir, BACKUPS_DIR)
        self.on_step = on_step or _noop_step

    # -- the forward path -------------------------------------------------
    def run(self, backup_id, source_data_dir, files, safety_manifest=None, vouched=None):
        """Restore files ([{path, size, sha256}] under source_data_dir) into the data dir.

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
            journal["safety"] = {"id": safety_manifest["id"], "tmp": ".tmp-%s" % safety_manifest["id"], "mode": None}
        write_journal(self.data_dir, journal)
        self.on_step("journal_written")
        try:
            if safety_manifest is not None:
                self._prepare_safety(journal, safety_manifest)
            self._stage(journal, source_data_dir, vouched or {})
        except Exception:
            # An error while staging gets the data dir back as it was. A kill (or a
            # BaseException) leaves the journal for the next run to roll back.
            self.roll_back(journal)
            raise
        journal["phase"] = "staged"
        write_journal(self.data_dir, journal)
        self.on_step("staged")
        self.roll_forward(journal)

    def _prepare_safety(self, journal, manifest):
        """backups/.tmp-<safety-id>/ with its manifest and a data/ that the old data will be
        renamed into; a full copy instead when backups/ is on another filesystem (EXDEV)."""
        safety = journal["safety"]
        os.makedirs(self.backups_dir, exist_ok=True)
        tmp = os.path.join(self.backups_dir, safety["tmp"])
        _remove_tree(tmp)
        os.mkdir(tmp, 0o700)
        aside = os.path.join(tmp, "data")
        probe = os.path.join(self.data_dir, probe_dir_name(journal["backupId"]))
        _remove_tree(probe)
        os.mkdir(probe, 0o700)
        try:
            os.rename(probe, aside)  # the data dir and backups/ share a filesystem: rename mode
            mode = "rename"
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            os.rmdir(probe)
            mode = "copy"
        if mode == "copy":
            os.mkdir(aside, 0o700)
            written, files = [], []
            for item in manifest["files"]:
                rel = item["path"]
                src = os.path.join(self.data_dir, *rel.split("/"))
                dst = os.path.join(aside, *rel.split("/"))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                size, sha = copy_file(src, dst)
                files.append({"path": rel, "size": size, "sha256": sha})
                written.append(dst)
            manifest = dict(manifest, files=files)
            fsync_tree(written, aside)
        write_json_durably(os.path.join(tmp, MANIFEST_NAME), manifest)
        fsync_path(tmp)
        if mode == "copy":
            os.rename(tmp, os.path.join(self.backups_dir, safety["id"]))
        fsync_path(self.backups_dir)
        fsync_path(self.data_dir)
        safety["mode"] = mode
        self.on_step("safety_backup", backup_id=safety["id"])

    def _stage(self, journal, source_data_dir, vouched):
        """Copy the backup's files into the staging dir, each hashed as it is written and checked
        against the manifest; then fsync them all, then the dirs."""
        staging = os.path.join(self.data_dir, journal["staging"])
        _remove_tree(staging)  # a leftover from an earlier rolled-back attempt
        os.mkdir(staging, 0o700)
        written = []
        for item in journal["files"]:
            rel = item["path"]
            want = item["sha256"].lower()
            src = os.path.join(source_data_dir, *rel.split("/"))
            dst = os.path.join(staging, *rel.split("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                size, sha = copy_file(src, dst, expect=(item["size"], want))
            except OSError as exc:
                hint = " (no space left on the data volume: free space and run again)" if exc.errno == errno.ENOSPC else ""
                raise SwapError("staging %s from %s failed: %s%s" % (rel, src, exc.strerror or exc, hint))
            if size != item["size"] or sha != want:
                raise SwapError(
                    "staged copy of %s does not match the manifest (size %d/%d, sha256 %s/%s); the backup "
                    "changed while it was restored: run gateway_backup_info with verify: true"
                    % (rel, size, item["size"], sha, item["sha256"])
                )
            if needs_parse(rel) and vouched.get(rel) != sha:
                problems = content_problems(dst, rel)
                if problems:
                    raise SwapError("staged copy does not parse: %s" % "; ".join(problems))
            written.append(dst)
            self.on_step("staged_file", path=rel)
        fsync_tree(written, staging)

    # -- recovery ------------------------------------------------------------
    def roll_back(self, journal):
        """Phase 'staging': the data dir was not touched; drop the staged copy, the unfinished
        safety backup (it holds no old data yet) and the journal."""
        _remove_tree(os.path.join(self.data_dir, journal["staging"]))
        _remove_tree(os.path.join(self.data_dir, probe_dir_name(journal["backupId"])))
        safety = journal.get("safety")
        if safety:
            _remove_tree(os.path.join(self.backups_dir, safety["tmp"]))
            if os.path.isdir(self.backups_dir):
                fsync_path(self.backups_dir)
        os.unlink(journal_path(self.data_dir))
        fsync_path(self.data_dir)

    def _move_aside(self, aside, staging, new_entries):
        # An entry named in newEntries that is no longer in staging has already
        # moved in; every other data entry is old data and moves aside.
        for name in data_entries(self.data_dir):
            if name in new_entries and not os.path.lexists(os.path.join(staging, name)):
                continue
            target = os.path.join(aside, name)
            suffix = 0
            while os.path.lexists(target):
                suffix += 1
                target = os.path.join(aside, "%s.%d" % (name, suffix))
            os.rename(os.path.join(self.data_dir, name), target)
            self.on_step("moved_old", entry=name)

    def _move_in(self, staging, new_entries):
        for name in sorted(new_entries):
            src = os.path.join(staging, name)
            if os.path.lexists(src):
                os.rename(src, os.path.join(self.data_dir, name))
                self.on_step("moved_new", entry=name)

    def roll_forward(self, journal):
        """Phases 'staged'/'swapped': finish moving the staged entries in. Safe to repeat."""
        data_dir = self.data_dir
        staging = os.path.join(data_dir, journal["staging"])
        old = os.path.join(data_dir, journal["old"])
        new_entries = set(journal["newEntries"])
        safety = journal.get("safety") or {}
        if journal["phase"] == "staged":
            if safety.get("mode") == "rename":
                tmp = os.path.join(self.backups_dir, safety["tmp"])
                final = os.path.join(self.backups_dir, safety["id"])
                aside = os.path.join(tmp, "data")
                if os.path.isdir(tmp) or not os.path.isdir(final):
                    os.makedirs(aside, mode=0o700, exist_ok=True)
                    self._move_aside(aside, staging, new_entries)
                    self._move_in(staging, new_entries)
                    fsync_path(data_dir)
                    fsync_path(aside)
                    self._check_swapped(journal, aside)
                    os.rename(tmp, final)  # the old data is now the safety backup
                    fsync_path(self.backups_dir)
                    self.on_step("safety_renamed", backup_id=safety["id"])
                else:
                    # backups/<safety-id> is in place: every entry had moved before it was renamed
                    self._check_swapped(journal, os.path.join(final, "data"))
            else:
                if not os.path.isdir(old):
                    os.mkdir(old, 0o700)
                self._move_aside(old, staging, new_entries)
                self._move_in(staging, new_entries)
                fsync_path(data_dir)
                self._check_swapped(journal, old)
            journal["phase"] = "swapped"
            write_journal(data_dir, journal)
            self.on_step("swapped")
        _remove_tree(old)
        self.on_step("old_removed")
        _remove_tree(staging)
        os.unlink(journal_path(data_dir))
        fsync_path(data_dir)
        self.on_step("done")

    def _check_swapped(self, journal, previous):
        """After the renames the data dir holds exactly the manifest's paths with its sizes (the
        bytes were hashed as they were staged; a rename does not change them)."""
        expected = {item["path"]: item["size"] for item in journal["files"]}
        actual = {}
        for rel in data_files(self.data_dir):
            try:
                actual[rel] = os.stat(os.path.join(self.data_dir, *rel.split("/"))).st_size
            except OSError:
                actual[rel] = None
        if actual != expected:
            differing = sorted(p for p in set(expected) | set(actual) if expected.get(p) != actual.get(p))
            raise SwapError(
                "after moving the staged data of backup %s into %s the files differ from its manifest: %s; "
                "the journal is kept so the gateway will not start; the previous data is in %s"
                % (journal["backupId"], self.data_dir, ", ".join(differing[:10]), previous)
            )

    def recover(self):
        """Finish or undo an interrupted restore. Returns None or {action, backup_id, phase}."""
        journal = read_journal(self.data_dir)
        if journal is None:
            self._remove_strays()
            return None
        phase = journal["phase"]
        if phase == "staging":
            self.roll_back(journal)
            action = "rolled_back"
        else:
            self.roll_forward(journal)
            action = "rolled_forward"
        return {"action": action, "backup_id": journal.get("backupId"), "phase": phase}

    def _remove_strays(self):
        """.restore-* dirs without a journal are leftovers of a finished restore; never data."""
        try:
            names = os.listdir(self.data_dir)
        except FileNotFoundError:
            return
        for name in names:
            if name.startswith(RESTORE_PREFIX) or name == JOURNAL_NAME + ".tmp":
                _remove_tree(os.path.join(self.data_dir, name))


def interrupted_restore(data_dir):
    """True when a restore journal is waiting for recovery (read-only check)."""
    return os.path.exists(journal_path(data_dir))
