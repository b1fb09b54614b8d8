# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What counts as data in a data dir, file digests, and the backup manifest format."""

from __future__ import annotations

import datetime
import hashlib
import os
import stat

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.bounded_json import (
    MAX_CONTROL_BYTES,
    JsonError,
    loads,
    shown,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import (
    FileTooLargeError,
    UnsafeFileError,
    kind_of,
    open_regular,
    opened,
    read_chunks,
)

BACKUPS_DIR = "backups"
MANIFEST_NAME = "manifest.json"
STORAGE_META = "storage-meta.json"
CHUNK = 256 * 1024
MAX_CREATED_AT_CHARS = 40
MAX_PATH_CHARS = 4096
MAX_SHA256_CHARS = 128


class ManifestError(Exception):
    """A manifest that is missing or does not have the contract's shape."""

    def __init__(self, code, message):
        super(ManifestError, self).__init__(message)
        self.code = code


def is_data_name(top_level_name):
    """Conventions: dot names (lock, journal, staging) and backups/ are never data."""
    return not top_level_name.startswith(".") and top_level_name != BACKUPS_DIR


def data_entries(data_dir):
    """The top-level names under data_dir (a safe_fs.Dir, or a path trusted as given) that are data, sorted."""
    try:
        with opened(data_dir) as top:
            names = top.names()
    except FileNotFoundError:
        return []
    return [name for name in names if is_data_name(name)]


def data_file_sizes(data_dir):
    """[(path, size)] of every data file under data_dir (a safe_fs.Dir, or a path trusted as given), sorted
    by relative POSIX path; lstat only, nothing is read. A link or a special file anywhere in the data is
    refused (safe_fs.UnsafeFileError), never followed and never skipped quietly."""
    found = []
    try:
        with opened(data_dir) as top:
            for entry in top.names():
                if not is_data_name(entry):
                    continue
                st = top.lstat(entry)
                if st is None:
                    continue  # gone since the listing
                if stat.S_ISREG(st.st_mode):
                    found.append((entry, st.st_size))
                elif stat.S_ISDIR(st.st_mode):
                    try:
                        sub = top.subdir(entry)
                    except FileNotFoundError:
                        continue
                    with sub:
                        found.extend((entry + "/" + rel, sub_st.st_size) for rel, sub_st in sub.regular_files())
                else:
                    raise UnsafeFileError(top.path(entry), kind_of(st.st_mode))
    except FileNotFoundError:
        return []
    return sorted(found)


def data_files(data_dir):
    """Every data file under data_dir as a sorted relative POSIX path (see data_file_sizes)."""
    return [rel for rel, _size in data_file_sizes(data_dir)]


def digest_fd(fd, limit):
    """(size, sha256 hex) of at most limit bytes read from fd, through one reused buffer: large audit logs
    stay cheap (a fresh multi-MiB bytes object per read costs more in page faults than the hashing)."""
    digest = hashlib.sha256()
    size = 0
    for view in read_chunks(fd, limit, CHUNK):
        size += len(view)
        digest.update(view)
    return size, digest.hexdigest()


def file_digest(path, base=None):
    """(size, sha256 hex) of a regular file: rel path under base (a safe_fs.Dir), or a path whose directory
    the caller trusts. Only the bytes the file had when it was opened are read (its fstat size)."""
    if base is not None:
        fd, st = base.open_file(path)
    else:
        with opened(os.path.dirname(os.path.abspath(path))) as top:
            fd, st = open_regular(top.fd, os.path.basename(path), path)
    try:
        return digest_fd(fd, st.st_size)
    finally:
        os.close(fd)


def describe_files(base_dir, paths=None):
    """[{path, size, sha256}] for paths (default: every data file) relative to base_dir (a safe_fs.Dir,
    or a path trusted as given); a link or special file is refused, never read."""
    with opened(base_dir) as top:
        if paths is None:
            paths = data_files(top)
        described = []
        for rel in sorted(paths):
            size, sha = file_digest(rel, base=top)
            described.append({"path": rel, "size": size, "sha256": sha})
    return described


def read_json_file(base, rel, cap=MAX_CONTROL_BYTES):
    """The JSON value of base/rel (a regular file of at most cap bytes): FileNotFoundError,
    safe_fs.UnsafeFileError, safe_fs.FileTooLargeError or bounded_json.JsonError otherwise."""
    with opened(base) as top:
        return loads(top.read_bytes(rel, cap))


def read_schema_version(data_dir):
    """storage-meta.json's schemaVersion, or None when it cannot be read (conventions); a link, a special
    file or one over MAX_CONTROL_BYTES cannot be read."""
    try:
        meta = read_json_file(data_dir, STORAGE_META)
    except (OSError, ValueError, UnsafeFileError, FileTooLargeError):
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
    """Parse and check manifest.json of a backup dir (a safe_fs.Dir, or a path trusted as given); raise
    ManifestError naming what is wrong. The result has only the keys the contract defines, files[] items
    only path/size/sha256, and createdAt only when it is a short string: nothing deep or huge from the
    file travels further (into a task result, a journal or a message)."""
    with opened(backup_dir) as top:
        path = top.path(MANIFEST_NAME)
        try:
            raw = top.read_bytes(MANIFEST_NAME, MAX_CONTROL_BYTES)
        except FileNotFoundError:
            raise ManifestError("missing_manifest", "missing_manifest: %s does not exist" % path)
        except UnsafeFileError as exc:
            raise ManifestError("unsafe_file", "unsafe_file: %s" % exc)
        except FileTooLargeError as exc:
            raise ManifestError("too_large", "too_large: %s" % exc)
        except OSError as exc:
            raise ManifestError("missing_manifest", "missing_manifest: %s is unreadable: %s" % (path, exc.strerror))
    try:
        manifest = loads(raw)
    except JsonError as exc:
        if exc.utf8_byte is not None:
            raise ManifestError("bad_manifest", "bad_manifest: %s is not UTF-8 (byte %d)" % (path, exc.utf8_byte))
        raise ManifestError("bad_manifest", "bad_manifest: %s: invalid JSON at %s" % (path, exc.where()))
    if not isinstance(manifest, dict):
        raise ManifestError("bad_manifest", "bad_manifest: %s is not a JSON object" % path)
    files = manifest.get("files")
    if not isinstance(files, list):
        raise ManifestError("bad_manifest", "bad_manifest: %s has no 'files' list" % path)
    checked = []
    for index, item in enumerate(files):
        if not is_file_item(item):
            raise ManifestError(
                "bad_manifest",
                "bad_manifest: %s: files[%d] needs a relative 'path' inside the data dir, an integer 'size' "
                "and a 'sha256' string, got %s" % (path, index, shown_item(item)),
            )
        checked.append({"path": item["path"], "size": item["size"], "sha256": item["sha256"]})
    version = manifest.get("schemaVersion")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ManifestError("bad_manifest", "bad_manifest: %s: schemaVersion must be an integer or null" % path)
    backup_id = manifest.get("id")
    created = manifest.get("createdAt")
    return {
        "id": backup_id if isinstance(backup_id, str) and len(backup_id) <= 128 else None,
        "createdAt": created if isinstance(created, str) and len(created) <= MAX_CREATED_AT_CHARS else None,
        "schemaVersion": version,
        "files": checked,
    }


def is_file_item(item):
    """A files[] entry of a manifest (or journal): {path (safe, relative, at most MAX_PATH_CHARS), size
    (int), sha256 (a string of at most MAX_SHA256_CHARS)}."""
    return (
        isinstance(item, dict)
        and is_safe_relative_path(item.get("path"))
        and len(item["path"]) <= MAX_PATH_CHARS
        and not isinstance(item.get("size"), bool)
        and isinstance(item.get("size"), int)
        and isinstance(item.get("sha256"), str)
        and len(item["sha256"]) <= MAX_SHA256_CHARS
    )


def shown_item(item):
    """A files[] entry as a message shows it: its keys with short flat values, nothing nested or long."""
    if not isinstance(item, dict):
        return shown(item)
    return "{%s}" % ", ".join(
        "%s: %s" % (shown(str(key), 20), shown(value, 60)) for key, value in list(item.items())[:4]
    ) + (", ..." if len(item) > 4 else "")
