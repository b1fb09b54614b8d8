# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sealed safety backups: the data a restore replaces, kept encrypted at rest under backups/.sealed/<id>/.

Layout (docs/dev/contract-forensic-copies.md): ``backups/.sealed/`` (0700) holds one dir a sealed backup,
``<safety-id>/`` (0700) with ``manifest.json`` (the contract's manifest of the PLAINTEXT files: paths, sizes,
sha256s), ``sealed.json`` (``{"version": 1, "format": ..., "keyId": ...}``) and ``data/<path>`` (0600), each file
sealed by _forensic.sealed_stream. A dot name under backups/ is never listed by the gateway nor by
gateway_backup_info as a backup, so the gateway's own API never sees one. A sealed backup is built under
``.sealed/.tmp-<id>/`` and renamed into place; it is opened (for a restore) under ``.sealed/.open-<id>/`` (0700),
each file checked against the manifest, and that dir is removed when the restore ends, whatever happens.

The cipher (_forensic.sealed_stream) is imported where a file is sealed or opened: listing the sealed backups
(every gateway_backup_info run) needs only their manifests.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.bounded_json import MAX_CONTROL_BYTES, JsonError, loads
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.errors import SealedBackupError
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import (
    MANIFEST_NAME,
    ManifestError,
    read_manifest,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import read_chunks, write_all
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.errors import ForensicError

SEALED_DIR = ".sealed"
SEAL_INFO_NAME = "sealed.json"
TMP_PREFIX = ".tmp-"
OPEN_PREFIX = ".open-"
CHUNK = 1024 * 1024


def _write_json(directory, name, obj):
    directory.replace_file(name, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8"), 0o600)


def _parent_dirs(directory, rel):
    """The dirs on the way to rel below directory made 0700; (Dir of the parent, last name)."""
    parts = rel.split("/")
    if len(parts) == 1:
        return None, parts[0]
    return directory.subdir("/".join(parts[:-1]), create=True, mode=0o700), parts[-1]


def _create(directory, rel):
    parent, name = _parent_dirs(directory, rel)
    if parent is None:
        return directory.create_file(name, 0o600)
    with parent:
        return parent.create_file(name, 0o600)


def _reader(fd, size):
    """read(n) over fd that never returns more than size bytes in all."""
    chunks = read_chunks(fd, size, CHUNK)
    pending = [b""]

    def read(count):
        while len(pending[0]) < count:
            try:
                pending[0] += bytes(next(chunks))
            except StopIteration:
                break
        data, pending[0] = pending[0][:count], pending[0][count:]
        return data
    return read


def seal_data(root, backups, key, manifest):
    """Seal the current data files manifest["files"] names (root: the data dir's safe_fs.Dir) into
    backups/.sealed/<manifest id>/; each file's plaintext is hashed as it is sealed and must match the manifest.
    Built under .sealed/.tmp-<id> and renamed into place; a failure removes the tmp dir (SealedBackupError)."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.sealed_stream import FORMAT_NAME
    backup_id = manifest["id"]
    tmp_name = TMP_PREFIX + backup_id
    with backups.subdir(SEALED_DIR, create=True, mode=0o700) as sealed:
        os.fchmod(sealed.fd, 0o700)
        sealed.remove(tmp_name)
        sealed.mkdir(tmp_name, 0o700)
        try:
            with sealed.subdir(tmp_name) as tmp:
                tmp.mkdir("data", 0o700)
                written = []
                with tmp.subdir("data") as data:
                    for item in manifest["files"]:
                        _seal_one(root, data, key, item)
                        written.append(item["path"])
                    data.fsync_tree(written)
                _write_json(tmp, MANIFEST_NAME, manifest)
                _write_json(tmp, SEAL_INFO_NAME, {"version": 1, "format": FORMAT_NAME, "keyId": key.key_id})
                tmp.fsync()
            sealed.rename(tmp_name, sealed, backup_id)
            sealed.fsync()
        except BaseException:
            sealed.remove(tmp_name)
            raise
        backups.fsync()


def _seal_one(root, data, key, item):
    from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.sealed_stream import seal
    rel = item["path"]
    fd, st = root.open_file(rel)
    try:
        if st.st_size != item["size"]:
            raise SealedBackupError("%s changed size while it was sealed (%d, hashed at %d): run again"
                                    % (root.path(rel), st.st_size, item["size"]))
        digest = hashlib.sha256()
        read = _reader(fd, st.st_size)

        def hashed(count):
            block = read(count)
            digest.update(block)
            return block
        out = _create(data, rel)
        try:
            seal(key, hashed, lambda block: write_all(out, block), chunk=CHUNK)
        finally:
            os.close(out)
        if digest.hexdigest() != item["sha256"].lower():
            raise SealedBackupError("%s changed while it was sealed: run again" % root.path(rel))
    finally:
        os.close(fd)


def has_sealed(backups, backup_id):
    if backups is None:
        return False
    return backups.kind(SEALED_DIR + "/" + backup_id) == "a directory"


def sealed_info(backups, backup_id):
    """(manifest, seal info) of .sealed/<id>; SealedBackupError when they cannot be read."""
    label = backups.path(SEALED_DIR + "/" + backup_id)
    try:
        with backups.subdir(SEALED_DIR + "/" + backup_id) as sealed:
            manifest = read_manifest(sealed)
            info = loads(sealed.read_bytes(SEAL_INFO_NAME, MAX_CONTROL_BYTES).decode("utf-8"))
    except (ManifestError, JsonError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise SealedBackupError("sealed backup %s cannot be read: %s" % (label, exc))
    if not isinstance(info, dict) or info.get("version") != 1 or not isinstance(info.get("keyId"), str):
        raise SealedBackupError("sealed backup %s has no readable %s" % (label, SEAL_INFO_NAME))
    if manifest.get("id") != backup_id:
        raise SealedBackupError("sealed backup %s names another id in its manifest" % label)
    return manifest, info


def check_key(backups, backup_id, key):
    """The sealed backup's manifest when key is the one it was sealed with; else SealedBackupError."""
    manifest, info = sealed_info(backups, backup_id)
    if key is None:
        raise SealedBackupError(
            "backup %s is a sealed safety backup (encrypted at rest in %s): give forensic_key_file (inventory var "
            "mcpops_forensic_key_file) to restore it; nothing was touched" % (backup_id, backups.path(SEALED_DIR)))
    if info["keyId"] != key.key_id:
        raise SealedBackupError(
            "backup %s was sealed with another forensic key than forensic_key_file holds: give the key it was sealed "
            "with; nothing was touched" % backup_id)
    return manifest


def list_sealed(backups):
    """[{id, createdAt, schemaVersion, files, sizeBytes, sealed: True}] newest first; unreadable ones left out."""
    entries = []
    if backups is None or backups.kind(SEALED_DIR) != "a directory":
        return entries
    with backups.subdir(SEALED_DIR) as sealed:
        names = [name for name in sealed.names() if not name.startswith(".")]
    for name in names:
        try:
            manifest, _info = sealed_info(backups, name)
        except SealedBackupError:
            continue
        entries.append({"id": name, "createdAt": manifest["createdAt"], "schemaVersion": manifest["schemaVersion"],
                        "files": len(manifest["files"]), "sizeBytes": sum(f["size"] for f in manifest["files"]),
                        "sealed": True})
    entries.sort(key=lambda e: (e["createdAt"] or "", e["id"]), reverse=True)
    return entries


def open_sealed(backups, backup_id, key, manifest):
    """Open .sealed/<id>/data into .sealed/.open-<id>/ (0700, made afresh), each file checked against the
    manifest; the name of that dir under .sealed. SealedBackupError (the dir removed) when a file does not open."""
    open_name = OPEN_PREFIX + backup_id
    with backups.subdir(SEALED_DIR) as sealed:
        sealed.remove(open_name)
        sealed.mkdir(open_name, 0o700)
        try:
            with sealed.subdir(backup_id + "/data") as source, sealed.subdir(open_name) as target:
                for item in manifest["files"]:
                    _open_one(source, target, key, item)
        except ForensicError as exc:
            sealed.remove(open_name)
            raise SealedBackupError("sealed backup %s does not open: %s; nothing was touched" % (backup_id, exc))
        except BaseException:
            sealed.remove(open_name)
            raise
    return SEALED_DIR + "/" + open_name


def _open_one(source, target, key, item):
    from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.sealed_stream import unseal
    rel = item["path"]
    fd, st = source.open_file(rel)
    try:
        digest = hashlib.sha256()
        out = _create(target, rel)
        try:
            def write(block):
                digest.update(block)
                write_all(out, block)
            size = unseal(key, _reader(fd, st.st_size), write, label=source.path(rel))
        finally:
            os.close(out)
    finally:
        os.close(fd)
    if size != item["size"] or digest.hexdigest() != item["sha256"].lower():
        raise ForensicError("%s opens to other bytes than its manifest names" % source.path(rel))


def remove_opened(backups, backup_id):
    with backups.subdir(SEALED_DIR) as sealed:
        sealed.remove(OPEN_PREFIX + backup_id)
