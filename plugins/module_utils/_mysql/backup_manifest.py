# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A mysql_backup backup: `<dir>/<database>-<YYYYmmddTHHMMSSZ>.sql.gz` and its manifest `<same>.json`.

The manifest says what the dump holds and where in the binary log it stops: {database, file, sha256, size,
binlog_file, binlog_position, server_time_utc, dump_started_utc, created_at, tool_version, format}. Here: the
names, the CHANGE MASTER comment of the dump, building, reading and checking a manifest, choosing the newest
manifest before a point in time, and which backups a keep=N prune removes. No Ansible, no server.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import os
import re
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.errors import MysqlError

FORMAT = "mcpops.mysql_backup/1"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CHANGE_MASTER = re.compile(r"^--\s*CHANGE MASTER TO MASTER_LOG_FILE='([^'/\\]+)',\s*MASTER_LOG_POS=(\d+)\s*;")
BINLOG_FILE = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_MANIFEST_BYTES = 64 * 1024
CHUNK = 1 << 20


def backup_name(database, when_epoch):
    """'<database>-<UTC stamp>' (no extension)."""
    return "%s-%s" % (database, time.strftime(STAMP_FORMAT, time.gmtime(when_epoch)))


def name_pattern(database):
    """The manifest file names of this database's backups (stamp in group 1)."""
    return re.compile(r"^%s-(\d{8}T\d{6}Z)\.json$" % re.escape(database))


def utc_epoch(text):
    """'YYYY-MM-DDTHH:MM:SSZ' -> epoch seconds; MysqlError otherwise."""
    try:
        return calendar.timegm(time.strptime(str(text), UTC_FORMAT))
    except (TypeError, ValueError):
        raise MysqlError("%r is not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ" % (text,), "manifest")


def utc_text(epoch):
    return time.strftime(UTC_FORMAT, time.gmtime(epoch))


def parse_change_master(line):
    """(binlog_file, position) from the dump's `-- CHANGE MASTER TO ...` comment line, or None."""
    match = CHANGE_MASTER.match(line.strip())
    if not match:
        return None
    return match.group(1), int(match.group(2))


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def build(database, file_name, sha256, size, coordinates, server_time_utc, dump_started_utc, tool_version, created_at):
    binlog_file, position = coordinates
    return {
        "format": FORMAT,
        "database": database,
        "file": file_name,
        "sha256": sha256,
        "size": int(size),
        "binlog_file": binlog_file,
        "binlog_position": int(position),
        "server_time_utc": server_time_utc,
        "dump_started_utc": dump_started_utc,
        "created_at": created_at,
        "tool_version": tool_version,
    }


def validate(doc, where):
    """The manifest dict, checked field by field; MysqlError naming the file and the field."""
    def bad(field, why):
        raise MysqlError("manifest %s: %s %s" % (where, field, why), "manifest")

    if not isinstance(doc, dict):
        bad("the document", "is not a JSON object")
    for field in ("database", "file", "sha256", "binlog_file", "server_time_utc"):
        if not isinstance(doc.get(field), str) or not doc.get(field):
            bad(field, "is missing or not a string")
    for field in ("size", "binlog_position"):
        if not isinstance(doc.get(field), int) or isinstance(doc.get(field), bool) or doc[field] < 0:
            bad(field, "is missing or not a whole number >= 0")
    if os.path.basename(doc["file"]) != doc["file"] or doc["file"] in (".", "..") or not doc["file"].endswith(".sql.gz"):
        bad("file", "must be a plain file name ending in .sql.gz in the manifest's directory, not %r" % doc["file"])
    if not SHA256.match(doc["sha256"]):
        bad("sha256", "is not 64 lowercase hex digits")
    if not BINLOG_FILE.match(doc["binlog_file"]):
        bad("binlog_file", "is not a binary log file name: %r" % doc["binlog_file"])
    if not re.match(r"^[A-Za-z0-9_$]{1,64}$", doc["database"]):
        bad("database", "is not a database name: %r" % doc["database"])
    utc_epoch(doc["server_time_utc"])
    return doc


def load(path):
    """Read and validate a manifest file (at most 64 KiB); MysqlError when it is missing or does not parse."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise MysqlError("manifest %s cannot be read: %s" % (path, exc.strerror or exc), "manifest")
    if len(raw) > MAX_MANIFEST_BYTES:
        raise MysqlError("manifest %s is larger than %d bytes: not a mysql_backup manifest" % (path, MAX_MANIFEST_BYTES),
                         "manifest")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MysqlError("manifest %s does not parse as JSON: %s" % (path, exc), "manifest")
    return validate(doc, path)


def dump_path(manifest_path, doc):
    return os.path.join(os.path.dirname(os.path.abspath(manifest_path)), doc["file"])


def verify_dump(manifest_path, doc):
    """The dump file the manifest names exists, has its size and its sha256; MysqlError saying which not."""
    path = dump_path(manifest_path, doc)
    if not os.path.isfile(path):
        raise MysqlError("the dump %s named by manifest %s does not exist" % (path, manifest_path), "manifest")
    size = os.path.getsize(path)
    if size != doc["size"]:
        raise MysqlError("the dump %s is %d bytes, its manifest says %d: it is not the file that was backed up "
                         "(truncated or replaced); use another backup" % (path, size, doc["size"]), "manifest")
    actual = sha256_file(path)
    if actual != doc["sha256"]:
        raise MysqlError("the dump %s does not match its manifest's sha256 (file %s, manifest %s): it is corrupted or "
                         "was changed; use another backup" % (path, actual, doc["sha256"]), "manifest")
    return path


def list_manifests(directory, database):
    """[(stamp, path)] of this database's manifests in directory, oldest first (names sort by time)."""
    pattern = name_pattern(database)
    try:
        names = os.listdir(directory)
    except OSError as exc:
        raise MysqlError("backup_dir %s cannot be listed: %s" % (directory, exc.strerror or exc), "manifest")
    found = []
    for name in names:
        match = pattern.match(name)
        if match:
            found.append((match.group(1), os.path.join(directory, name)))
    return sorted(found)


def newest_before(directory, database, stop_epoch):
    """(path, doc) of the newest valid manifest of database whose server_time_utc is strictly before stop_epoch;
    MysqlError listing what was found otherwise. Unreadable manifests are skipped and named in the error."""
    skipped, candidates = [], []
    for _stamp, path in list_manifests(directory, database):
        try:
            doc = load(path)
        except MysqlError as exc:
            skipped.append(exc.msg)
            continue
        if doc["database"] != database:
            skipped.append("manifest %s is of database %s" % (path, doc["database"]))
            continue
        candidates.append((utc_epoch(doc["server_time_utc"]), path, doc))
    before = [c for c in candidates if c[0] < stop_epoch]
    if not before:
        raise MysqlError("no backup of %s in %s was taken before the recovery point %s UTC (%d manifest(s) found%s)%s" % (
            database, directory, utc_text(stop_epoch), len(candidates),
            ", the oldest at %s" % min(candidates)[2]["server_time_utc"] if candidates else "",
            "; skipped: " + "; ".join(skipped) if skipped else ""), "manifest")
    _epoch, path, doc = max(before, key=lambda c: (c[0], c[1]))
    return path, doc


def prune_plan(directory, database, keep):
    """Paths (manifest and dump) of the backups beyond the newest `keep` ones; [] when keep is 0 (keep all)."""
    if not keep:
        return []
    manifests = list_manifests(directory, database)
    old = manifests[:-keep] if len(manifests) > keep else []
    paths = []
    for _stamp, path in old:
        paths.append(path)
        dump = path[:-len(".json")] + ".sql.gz"
        if os.path.exists(dump):
            paths.append(dump)
    return paths
