# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BackupStore's prune: which backups go (keep_last, max_age_days; the newest valid one always stays), and removing
them. BackupStore.plan_prune and prune call these with the store: only a run that prunes compiles this file."""

from __future__ import annotations

import datetime

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.backup_id import validate_backup_id
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import parse_timestamp
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import UnsafeFileError
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import BackupError, refused


def plan_prune(store, keep_last=None, max_age_days=None, now=None):
    """Ids prune() would remove. A backup goes when it is beyond the keep_last newest
    or older than max_age_days; the newest valid backup always stays."""
    if keep_last is None and max_age_days is None:
        raise BackupError("prune needs keep_last and/or max_age_days")
    if keep_last is not None and keep_last < 1:
        raise BackupError("keep_last must be at least 1, got %d" % keep_last)
    if max_age_days is not None and max_age_days < 0:
        raise BackupError("max_age_days must not be negative, got %s" % max_age_days)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    entries = store.list()
    keep = store.newest_valid()
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


def prune(store, keep_last=None, max_age_days=None, now=None):
    """Remove what plan_prune() names: each renamed to a dot name first (a half-removed backup is never
    listed), then removed without following any link in it (a backup that is a link loses the link)."""
    removed = []
    for backup_id in store.plan_prune(keep_last, max_age_days, now):
        validate_backup_id(backup_id)
        trash = ".removing-%s" % backup_id
        with store._backups() as backups:
            try:
                backups.remove(trash)  # a leftover of an earlier prune (or a name someone put there)
                backups.rename(backup_id, backups, trash)
                backups.remove(trash)
            except UnsafeFileError as exc:
                raise refused(exc, "removing backup %s" % backup_id)
        removed.append(backup_id)
    return removed
