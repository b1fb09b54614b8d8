# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What counts as data in a data dir, file digests, and the backup manifest format."""

from __future__ import annotations

import datetime
import hashlib
import json
import os

BACKUPS_DIR = "backups"
MANIFEST_NAME = "manifest.json"
STORAGE_META = "storage-meta.json"
CHUNK = 256 * 1024


class ManifestError(Exception):
    """A manifest that is missing or does not have the contract's shape."""

    def __init__(self, code, message):
        super(ManifestError, self).__init__(message)
        self.code = code


def is_data_name(top_level_name):
    """Conventions: dot names (lock, journal, staging) and backups/ are never data."""
    return not top_level_name.startswith(".") and top_level_name != BACKUPS_DIR


def data_entries(data_dir):
    """The top-level names under data_dir that are data, sorted."""
    try:
        names = os.listdir(data_dir)
    except FileNotFoundError:
        return []
    return sorted(name for name in names if is_data_name(name))


def data_files(data_dir):
    """Every data file under data_dir as a sorted relative POSIX path."""
    found = []
    for entry in data_entries(data_dir):
        top = os.path.join(data_dir, entry)
        if os.path.isdir(top) and not os.path.islink(top):
            for root, dirs, files in os.walk(top):
                dirs.sort()
                for name in files:
                    full = os.path.join(root, name)
                    found.append(os.path.relpath(full, data_dir).replace(os.sep, "/"))
        elif os.path.isfile(top):
            found.append(entry)
    return sorted(found)


def file_digest(path):
    """(size, sha256 hex) of a file, streamed through one reused buffer: large audit logs stay cheap
    (a fresh multi-MiB bytes object per read costs more in page faults than the hashing)."""
    digest = hashlib.sha256()
    size = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as handle:
        while True:
            count = handle.readinto(buf)
            if not count:
                break
            size += count
            digest.update(view[:count])
    return size, digest.hexdigest()


def describe_files(base_dir, paths=None):
    """[{path, size, sha256}] for paths (default: every data file) relative to base_dir."""
    if paths is None:
        paths = data_files(base_dir)
    described = []
    for rel in sorted(paths):
        size, sha = file_digest(os.path.join(base_dir, *rel.split("/")))
        described.append({"path": rel, "size": size, "sha256": sha})
    return described


def read_schema_version(data_dir):
    """storage-meta.json's schemaVersion, or None when it cannot be read (conventions)."""
    try:
        with open(os.path.join(data_dir, STORAGE_META), "rb") as handle:
            meta = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    version = meta.get("schemaVersion") if isinstance(meta, dict) else None
    if isinstance(version, bool) or not isinstance(version, int):
        return None
    return version


def utc_timestamp(now=None):
    if now is None:
        now = datetime.datetime.now(datetime.timezone.utc)
    return now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text):
    """createdAt as an aware datetime, or None when it is not the contract's format."""
    if not isinstance(text, str):
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            parsed = datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=datetime.timezone.utc)
    return None


def build_manifest(backup_id, schema_version, files, created_at=None):
    return {
        "id": backup_id,
        "createdAt": created_at or utc_timestamp(),
        "schemaVersion": schema_version,
        "files": sorted(files, key=lambda item: item["path"]),
    }


def is_safe_relative_path(rel):
    """A manifest path must stay inside data/: relative, no '..', no empty parts."""
    if not isinstance(rel, str) or rel == "" or rel.startswith("/") or "\\" in rel or "\x00" in rel:
        return False
    parts = rel.split("/")
    return all(part not in ("", ".", "..") for part in parts) and is_data_name(parts[0])


def read_manifest(backup_dir):
    """Parse and check backups/<id>/manifest.json; raise ManifestError naming what is wrong."""
    path = os.path.join(backup_dir, MANIFEST_NAME)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise ManifestError("missing_manifest", "missing_manifest: %s does not exist" % path)
    except OSError as exc:
        raise ManifestError("missing_manifest", "missing_manifest: %s is unreadable: %s" % (path, exc.strerror))
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ManifestError("bad_manifest", "bad_manifest: %s is not UTF-8 (byte %d)" % (path, exc.start))
    except ValueError as exc:
        raise ManifestError(
            "bad_manifest", "bad_manifest: %s: invalid JSON at line %d col %d: %s" % (path, exc.lineno, exc.colno, exc.msg)
        )
    if not isinstance(manifest, dict):
        raise ManifestError("bad_manifest", "bad_manifest: %s is not a JSON object" % path)
    files = manifest.get("files")
    if not isinstance(files, list):
        raise ManifestError("bad_manifest", "bad_manifest: %s has no 'files' list" % path)
    for index, item in enumerate(files):
        if (
            not isinstance(item, dict)
            or not is_safe_relative_path(item.get("path"))
            or isinstance(item.get("size"), bool)
            or not isinstance(item.get("size"), int)
            or not isinstance(item.get("sha256"), str)
        ):
            raise ManifestError(
                "bad_manifest",
                "bad_manifest: %s: files[%d] needs a relative 'path' inside the data dir, an integer 'size' "
                "and a 'sha256' string, got %s" % (path, index, json.dumps(item)[:200]),
            )
    version = manifest.get("schemaVersion")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ManifestError("bad_manifest", "bad_manifest: %s: schemaVersion must be an integer or null" % path)
    return manifest
