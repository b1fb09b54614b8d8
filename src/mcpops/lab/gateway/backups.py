"""Backups: create (under backups/.tmp-<id>, then renamed), list, verify, restore (staged swap)."""

import errno
import hashlib
import json
import os
import re
import secrets
import shutil

from . import BACKUPS_DIR, JOURNAL_NAME, JSON_STORES, fsutil
from .errors import ApiError
from .store import StoreError, check_meta

BACKUP_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
CHUNK = 1024 * 1024
REQUIRED_FILES = ("storage-meta.json",) + JSON_STORES


class VerifyError(Exception):
    pass


def new_backup_id(kind=""):
    stamp = fsutil.utcnow().strftime("%Y%m%dT%H%M%SZ")
    return "%s-%s%s" % (stamp, kind, secrets.token_hex(3))


def _is_enospc(exc):
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))


def _copy_hashing(src, dst):
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while True:
            chunk = fin.read(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return size, digest.hexdigest()


def _read_schema_version(data_dir):
    try:
        with open(os.path.join(data_dir, "storage-meta.json"), "rb") as handle:
            value = json.loads(handle.read().decode("utf-8")).get("schemaVersion")
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    except (OSError, ValueError, AttributeError):
        return None


def summary(manifest, sizes=None):
    files = manifest.get("files") or []
    return {"id": manifest.get("id"), "createdAt": manifest.get("createdAt"),
            "schemaVersion": manifest.get("schemaVersion"),
            "sizeBytes": sum(int(f.get("size") or 0) for f in files if isinstance(f, dict)),
            "files": len(files)}


class Backups:
    def __init__(self, store, audit, reserve_bytes=0):
        self.store = store
        self.audit = audit
        self.reserve_bytes = reserve_bytes
        self.data_dir = store.data_dir
        self.root = os.path.join(self.data_dir, BACKUPS_DIR)

    # -- create ------------------------------------------------------------------------------
    def create(self, ip=None, kind=""):
        with self.store.save_lock, self.store.lock:  # no token write in flight while copying
            files = fsutil.iter_data_files(self.data_dir)
            need = sum(os.path.getsize(p) for _, p in files) + 64 * 1024
            os.makedirs(self.root, exist_ok=True)
            free = shutil.disk_usage(self.root).free
            if free < need + self.reserve_bytes:
                raise ApiError(507, "insufficient_storage",
                               "the data volume has %d bytes free, a backup needs %d" % (free, need + self.reserve_bytes))
            backup_id = new_backup_id(kind)
            while os.path.exists(os.path.join(self.root, backup_id)):
                backup_id = new_backup_id(kind)
            tmp = os.path.join(self.root, ".tmp-" + backup_id)
            try:
                entries = []
                for rel, src in files:
                    dst = os.path.join(tmp, "data", *rel.split("/"))
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    size, digest = _copy_hashing(src, dst)
                    entries.append({"path": rel, "size": size, "sha256": digest})
                manifest = {"id": backup_id, "createdAt": fsutil.iso_s(),
                            "schemaVersion": _read_schema_version(self.data_dir), "files": entries}
                fsutil.atomic_write_json(os.path.join(tmp, "manifest.json"), manifest)
                os.rename(tmp, os.path.join(self.root, backup_id))
                fsutil.fsync_dir(self.root)
            except OSError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                if _is_enospc(exc):
                    raise ApiError(507, "insufficient_storage", "no space left on the data volume; nothing was kept")
                raise
            result = summary(manifest)
            self.audit.event("backup.created", ip=ip, path="/api/system/backups", status=201, backupId=backup_id,
                             sizeBytes=result["sizeBytes"], files=result["files"])
            return result

    # -- list --------------------------------------------------------------------------------
    def list(self):
        out = []
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return out
        for name in names:
            if name.startswith(".") or not os.path.isdir(os.path.join(self.root, name)):
                continue
            try:
                with open(os.path.join(self.root, name, "manifest.json"), "rb") as handle:
                    manifest = json.loads(handle.read().decode("utf-8"))
                if not isinstance(manifest, dict):
                    raise ValueError("manifest is not an object")
                item = summary(manifest)
                item["id"] = name
            except (OSError, ValueError, TypeError, AttributeError) as exc:
                item = {"id": name, "createdAt": None, "schemaVersion": None, "sizeBytes": 0, "files": 0,
                        "error": "manifest unreadable: %s" % exc.__class__.__name__}
            out.append(item)
        out.sort(key=lambda b: (b.get("createdAt") or "", b["id"]), reverse=True)
        return out

    # -- verify ------------------------------------------------------------------------------
    def verify(self, backup_dir):
        """Check a backup per the contract; return the manifest; raise VerifyError naming the problem."""
        try:
            with open(os.path.join(backup_dir, "manifest.json"), "rb") as handle:
                manifest = json.loads(handle.read().decode("utf-8"))
        except FileNotFoundError:
            raise VerifyError("manifest.json is missing")
        except (ValueError, UnicodeDecodeError) as exc:
            raise VerifyError("manifest.json does not parse: %s" % exc)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
            raise VerifyError("manifest.json has no files list")
        seen = set()
        for entry in manifest["files"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                raise VerifyError("manifest.json has a malformed files entry")
            rel = entry["path"]
            parts = rel.split("/")
            if rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or not fsutil.is_data_name(parts[0]):
                raise VerifyError("manifest.json lists an unsafe path %r" % rel)
            seen.add(rel)
            src = os.path.join(backup_dir, "data", *parts)
            if not os.path.isfile(src):
                raise VerifyError("%s is missing from the backup" % rel)
            size, digest = self._hash(src)
            if size != entry.get("size"):
                raise VerifyError("%s has size %d, manifest says %s" % (rel, size, entry.get("size")))
            if digest != entry.get("sha256"):
                raise VerifyError("%s sha256 does not match the manifest" % rel)
            self._check_content(src, rel)
        for name in REQUIRED_FILES:
            if name not in seen:
                raise VerifyError("backup lacks %s" % name)
        return manifest

    @staticmethod
    def _hash(path):
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as handle:
            while True:
                chunk = handle.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                digest.update(chunk)
        return size, digest.hexdigest()

    @staticmethod
    def _check_content(path, rel):
        if rel.endswith(".json"):
            try:
                with open(path, "rb") as handle:
                    json.loads(handle.read().decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise VerifyError("%s is not valid JSON: %s" % (rel, exc))
        elif rel.endswith(".jsonl"):
            with open(path, "rb") as handle:
                for lineno, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        json.loads(line.decode("utf-8"))
                    except (ValueError, UnicodeDecodeError):
                        raise VerifyError("%s line %d is not valid JSON" % (rel, lineno))

    # -- restore -----------------------------------------------------------------------------
    def restore(self, backup_id, jobs, ip=None):
        if not isinstance(backup_id, str) or not BACKUP_ID_RE.match(backup_id):
            raise ApiError(400, "invalid_backup_id", "backup id must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
        backup_dir = os.path.join(self.root, backup_id)
        if not os.path.isfile(os.path.join(backup_dir, "manifest.json")) and not os.path.isdir(backup_dir):
            raise ApiError(404, "backup_not_found", "no backup %s" % backup_id)
        with self.store.save_lock, self.store.lock:  # no token write in flight over the swap
            running = jobs.running()
            if running:
                raise ApiError(409, "index_job_running",
                               "index job %s is running; wait for it or restart after it" % running[0]["id"])
            try:
                manifest = self.verify(backup_dir)
            except VerifyError as exc:
                raise ApiError(422, "backup_invalid", "backup %s fails verification: %s" % (backup_id, exc))
            try:
                with open(os.path.join(backup_dir, "data", "storage-meta.json"), "rb") as handle:
                    version, _ = check_meta(json.loads(handle.read().decode("utf-8")))
            except StoreError as exc:
                code = "schema_too_new" if "newer than" in str(exc) else "backup_invalid"
                raise ApiError(422, code, "backup %s: %s" % (backup_id, exc))
            self._swap_in(backup_id, backup_dir, manifest)
            self.store.reload()
            self.audit.event("backup.restored", ip=ip, path="/api/system/backups/%s/restore" % backup_id,
                             status=200, backupId=backup_id, schemaVersion=version)
            return {"restored": backup_id, "schemaVersion": version}

    def _swap_in(self, backup_id, backup_dir, manifest):
        """Stage, then swap, with the same journal protocol as the collection's module_utils/_backup/data_swap.py
        (phases staging -> staged -> swapped; `.restore-<id>.staging`, `.restore-<id>.old`), so that a
        gateway killed mid-restore is finished by re-running the restore with the gateway_backup module."""
        files = [{"path": f["path"], "size": f["size"], "sha256": f["sha256"]} for f in manifest["files"]]
        new_entries = sorted({f["path"].split("/", 1)[0] for f in files})
        stage_name, old_name = ".restore-%s.staging" % backup_id, ".restore-%s.old" % backup_id
        stage, old = os.path.join(self.data_dir, stage_name), os.path.join(self.data_dir, old_name)
        journal_path = os.path.join(self.data_dir, JOURNAL_NAME)
        journal = {"version": 1, "backupId": backup_id, "phase": "staging", "staging": stage_name, "old": old_name,
                   "newEntries": new_entries, "files": files, "writer": "onec-mcp-gateway"}
        need = sum(int(f["size"] or 0) for f in files) + 64 * 1024
        if shutil.disk_usage(self.data_dir).free < need:
            raise ApiError(507, "insufficient_storage", "no room on the data volume to stage backup %s" % backup_id)

        def write_journal():
            fsutil.atomic_write(journal_path, json.dumps(journal, sort_keys=True).encode("utf-8"), mode=0o600)

        write_journal()
        try:
            shutil.rmtree(stage, ignore_errors=True)
            os.mkdir(stage, 0o700)
            for entry in files:
                parts = entry["path"].split("/")
                dst = os.path.join(stage, *parts)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                size, digest = _copy_hashing(os.path.join(backup_dir, "data", *parts), dst)
                if size != entry["size"] or digest != entry["sha256"]:
                    raise ApiError(422, "backup_invalid", "%s changed while it was being staged" % entry["path"])
            fsutil.fsync_dir(stage)
        except BaseException as exc:  # phase staging: the data dir is untouched; roll back
            shutil.rmtree(stage, ignore_errors=True)
            os.unlink(journal_path)
            fsutil.fsync_dir(self.data_dir)
            if _is_enospc(exc):
                raise ApiError(507, "insufficient_storage", "no room on the data volume to stage backup %s" % backup_id)
            raise
        journal["phase"] = "staged"
        write_journal()
        moved_out, moved_in = [], []
        try:
            os.makedirs(old, 0o700, exist_ok=True)
            for name in sorted(n for n in os.listdir(self.data_dir) if fsutil.is_data_name(n)):
                os.rename(os.path.join(self.data_dir, name), os.path.join(old, name))
                moved_out.append(name)
            for name in new_entries:
                os.rename(os.path.join(stage, name), os.path.join(self.data_dir, name))
                moved_in.append(name)
            fsutil.fsync_dir(self.data_dir)
        except BaseException:
            try:  # put the old data back; if that fails too the journal stays (phase staged) for the module
                for name in moved_in:
                    os.rename(os.path.join(self.data_dir, name), os.path.join(stage, name))
                for name in moved_out:
                    os.rename(os.path.join(old, name), os.path.join(self.data_dir, name))
                fsutil.fsync_dir(self.data_dir)
                shutil.rmtree(stage, ignore_errors=True)
                shutil.rmtree(old, ignore_errors=True)
                os.unlink(journal_path)
            except OSError:
                pass
            raise
        journal["phase"] = "swapped"
        write_journal()
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(stage, ignore_errors=True)
        os.unlink(journal_path)
        fsutil.fsync_dir(self.data_dir)
