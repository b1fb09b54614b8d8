# -*- coding: utf-8 -*-
# Copyright: mcpops-runbooks engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Swap a backup's data into a data dir so that a kill at any point leaves the old or the new data.

The protocol, one fsync'd journal phase at a time:

1. ``staging``: journal written, then the backup's files are copied to
   ``.restore-<id>.staging`` and verified. A kill here rolls back (the data dir
   was not touched yet).
2. ``staged``: the staged copy is complete and verified. From here on a kill
   rolls forward: current data entries move to ``.restore-<id>.old`` and the
   staged entries move in, one rename each.
3. ``swapped``: the data dir holds the new data; ``.old`` and the journal are
   removed, the journal last.

The gateway refuses to start while the journal exists, so a half state is never served.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import json
import os
import shutil

from ansible_collections.mcpops.runbooks.plugins.module_utils.backup_manifest import (
    data_entries,
    describe_files,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils.backup_verify import content_problems

JOURNAL_NAME = ".restore-journal.json"
RESTORE_PREFIX = ".restore-"
COPY_CHUNK = 1024 * 1024


class SwapError(Exception):
    """A restore step failed; the message names the file and what to do."""


def _noop_step(name, **info):
    return None


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_file_durably(src, dst):
    """Copy bytes src -> dst, fsync dst, return (size, sha256) of what was written."""
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as reader, open(dst, "wb") as writer:
        while True:
            chunk = reader.read(COPY_CHUNK)
            if not chunk:
                break
            writer.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copystat(src, dst, follow_symlinks=False)
    return size, digest.hexdigest()


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
    fsync_dir(data_dir)


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
        self.on_step = on_step or _noop_step

    # -- the forward path -------------------------------------------------
    def run(self, backup_id, source_data_dir, files):
        """Restore files ([{path, size, sha256}] under source_data_dir) into the data dir."""
        new_entries = sorted({item["path"].split("/", 1)[0] for item in files})
        journal = {
            "version": 1,
            "backupId": backup_id,
            "phase": "staging",
            "staging": staging_dir_name(backup_id),
            "old": old_dir_name(backup_id),
            "newEntries": new_entries,
            "files": files,
        }
        write_journal(self.data_dir, journal)
        self.on_step("journal_written")
        try:
            self._stage(journal, source_data_dir)
        except Exception:
            # An error while staging gets the data dir back as it was. A kill (or a
            # BaseException) leaves the journal for the next run to roll back.
            self.roll_back(journal)
            raise
        journal["phase"] = "staged"
        write_journal(self.data_dir, journal)
        self.on_step("staged")
        self.roll_forward(journal)

    def _stage(self, journal, source_data_dir):
        staging = os.path.join(self.data_dir, journal["staging"])
        _remove_tree(staging)  # a leftover from an earlier rolled-back attempt
        os.mkdir(staging, 0o700)
        for item in journal["files"]:
            rel = item["path"]
            src = os.path.join(source_data_dir, *rel.split("/"))
            dst = os.path.join(staging, *rel.split("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                size, sha = copy_file_durably(src, dst)
            except OSError as exc:
                hint = " (no space left on the data volume: free space and run again)" if exc.errno == errno.ENOSPC else ""
                raise SwapError("staging %s from %s failed: %s%s" % (rel, src, exc.strerror or exc, hint))
            if size != item["size"] or sha != item["sha256"].lower():
                raise SwapError(
                    "staged copy of %s does not match the manifest (size %d/%d, sha256 %s/%s); the backup "
                    "changed while it was restored: run gateway_backup_info with verify: true"
                    % (rel, size, item["size"], sha, item["sha256"])
                )
            problems = content_problems(dst, rel)
            if problems:
                raise SwapError("staged copy does not parse: %s" % "; ".join(problems))
            self.on_step("staged_file", path=rel)
        for root, dirs, _files in os.walk(staging):
            for name in dirs:
                fsync_dir(os.path.join(root, name))
        fsync_dir(staging)

    # -- recovery ------------------------------------------------------------
    def roll_back(self, journal):
        """Phase 'staging': the data dir was not touched; drop the staged copy and the journal."""
        _remove_tree(os.path.join(self.data_dir, journal["staging"]))
        os.unlink(journal_path(self.data_dir))
        fsync_dir(self.data_dir)

    def roll_forward(self, journal):
        """Phases 'staged'/'swapped': finish moving the staged entries in. Safe to repeat."""
        data_dir = self.data_dir
        staging = os.path.join(data_dir, journal["staging"])
        old = os.path.join(data_dir, journal["old"])
        new_entries = set(journal["newEntries"])
        if journal["phase"] == "staged":
            if not os.path.isdir(old):
                os.mkdir(old, 0o700)
            # An entry named in newEntries that is no longer in staging has already
            # moved in; every other data entry is old data and moves aside.
            for name in data_entries(data_dir):
                if name in new_entries and not os.path.lexists(os.path.join(staging, name)):
                    continue
                target = os.path.join(old, name)
                suffix = 0
                while os.path.lexists(target):
                    suffix += 1
                    target = os.path.join(old, "%s.%d" % (name, suffix))
                os.rename(os.path.join(data_dir, name), target)
                self.on_step("moved_old", entry=name)
            for name in sorted(new_entries):
                src = os.path.join(staging, name)
                if os.path.lexists(src):
                    os.rename(src, os.path.join(data_dir, name))
                    self.on_step("moved_new", entry=name)
            fsync_dir(data_dir)
            self._check_swapped(journal)
            journal["phase"] = "swapped"
            write_journal(data_dir, journal)
            self.on_step("swapped")
        _remove_tree(old)
        self.on_step("old_removed")
        _remove_tree(staging)
        os.unlink(journal_path(data_dir))
        fsync_dir(data_dir)
        self.on_step("done")

    def _check_swapped(self, journal):
        expected = [{k: item[k] for k in ("path", "size", "sha256")} for item in journal["files"]]
        actual = describe_files(self.data_dir)
        if actual != expected:
            want = {item["path"]: item["sha256"] for item in expected}
            have = {item["path"]: item["sha256"] for item in actual}
            differing = sorted(p for p in set(want) | set(have) if want.get(p) != have.get(p))
            raise SwapError(
                "after moving the staged data of backup %s into %s the files differ from its manifest: %s; "
                "the journal is kept so the gateway will not start; the previous data is in %s"
                % (journal["backupId"], self.data_dir, ", ".join(differing[:10]), journal["old"])
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
