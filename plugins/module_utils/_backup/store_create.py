# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BackupStore's create: every data file copied into backups/<id> (built in backups/.tmp-<id>, then renamed).

BackupStore.create calls it with the store: gateway_backup_info and the runs that restore, prune or find the
newest backup already holding the data never compile this file (the AnsiballZ payload keeps no .pyc).
"""

from __future__ import annotations

import errno
import json
import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.backup_id import new_backup_id, validate_backup_id
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.file_copy import copy_file
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import (
    BACKUPS_DIR,
    MANIFEST_NAME,
    build_manifest,
    data_file_sizes,
    read_schema_version,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import Dir, UnsafeFileError, write_all
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import BackupError, refused


def create(store, backup_id=None, force=False, _locked=False):
    """Copy every data file into backups/<id> (built in backups/.tmp-<id>, then renamed).

    Refuses while the gateway holds the lock unless force (the copy may then
    catch a store half-written), and refuses a data dir holding a link or a special file
    (before anything is written). Any error removes the tmp dir: nothing partial.
    Returns the manifest.
    """
    backup_id = validate_backup_id(new_backup_id() if backup_id is None else backup_id)
    if not os.path.isdir(store.data_dir):
        raise BackupError("data dir %s does not exist; set data_dir to the gateway's ONEC_MCP_DATA_DIR"
                          % store.data_dir)
    if not _locked and not force and store.lock_is_held():
        raise BackupError(
            "the gateway holds %s/.gateway.lock: a backup on the files could copy a store half-written; "
            "use transport: api (or auto with api_url) while it runs, stop it, or set force: true"
            % store.data_dir
        )
    final = os.path.join(store.backups_dir, backup_id)
    tmp_name = ".tmp-%s" % backup_id
    tmp_path = os.path.join(store.backups_dir, tmp_name)
    with Dir.open(store.data_dir) as root:
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
                            # one read: read -> sha256 -> write
                            size, sha = copy_file(root, rel, tmp, "data/" + rel)
                        except OSError as exc:
                            # A failed write names no file; say which data file was being copied, and that it
                            # was the copy.
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
