# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mysql_backup's work: one database dumped with its binary log coordinates, gzip-compressed, with a manifest.

`mariadb-dump --single-transaction --master-data=2 --routines --triggers <database>` (no --databases: the dump
has no CREATE DATABASE / USE, so it can be loaded into a database of another name). The dump streams into a
hidden temp file in dest_dir (mode 0600), is fsynced, then the manifest likewise; only then both are given
their real names with link() (never over an existing file) and the dir is fsynced. A kill in the middle leaves
at most a hidden `.<name>.*.tmp` file, never a half backup under a backup's name.

run(params, check_mode) returns the result or raises TaskError. No Ansible here.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import tempfile
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql import backup_manifest as bm
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.client_tools import ClientConfig, check_db_name
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.errors import MysqlError

CHUNK = 1 << 20
HEAD_BYTES = 1 << 20  # the CHANGE MASTER comment is in the dump's first lines


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def validate(params):
    database = check_db_name(params["database"])
    dest = params["dest_dir"]
    if not dest or not os.path.isdir(dest):
        raise MysqlError("dest_dir %s does not exist or is not a directory: create it first" % dest, "input")
    if not os.access(dest, os.W_OK | os.X_OK):
        raise MysqlError("dest_dir %s is not writable by this user" % dest, "input")
    keep = int(params.get("keep") or 0)
    if keep < 0:
        raise MysqlError("keep must be 0 (keep every backup) or more", "input")
    return database, os.path.abspath(dest), keep


def server_facts(cfg, database):
    rows = cfg.query("SELECT @@log_bin, DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%dT%H:%i:%sZ'); SHOW DATABASES;",
                     "reading the server's clock and databases")
    # two result sets come back as rows one after the other: the first row, then one row per database
    log_bin, now_utc = rows[0][0], rows[0][1]
    databases = set(r[0] for r in rows[1:])
    if database not in databases:
        raise MysqlError("database %s does not exist on %s" % (database, cfg.where()), "check")
    if str(log_bin) != "1":
        raise MysqlError("the binary log is off on %s (log_bin=%s): a backup for point-in-time recovery needs it; "
                         "start the server with --log-bin" % (cfg.where(), log_bin), "check")
    return now_utc


def dump_to(cfg, database, tmp_fd, timeout):
    """Stream the dump through gzip into tmp_fd; returns (coordinates, completed)."""
    args = ["--single-transaction", "--master-data=2", "--routines", "--triggers", "--hex-blob",
            "--default-character-set=utf8mb4", check_db_name(database)]
    coordinates, head, tail = None, b"", b""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cfg.argv("mariadb-dump", *args), stdout=subprocess.PIPE, stderr=errors,
                                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        try:
            with os.fdopen(tmp_fd, "wb", closefd=False) as raw:
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                    while True:
                        block = proc.stdout.read(CHUNK)
                        if not block:
                            break
                        if time.monotonic() > deadline:
                            raise MysqlError("mariadb-dump of %s did not finish within dump_timeout=%ss" % (database, timeout))
                        gz.write(block)
                        if coordinates is None and len(head) < HEAD_BYTES:
                            head += block
                            for line in head.decode("utf-8", "replace").splitlines():
                                found = bm.parse_change_master(line)
                                if found:
                                    coordinates = found
                                    break
                        tail = (tail + block)[-4096:]
                raw.flush()
                os.fsync(raw.fileno())
            rc = proc.wait(timeout=max(1, deadline - time.monotonic()))
        except BaseException:
            if proc.poll() is None:
                proc.kill()  # our own child, by its handle
            proc.wait()
            raise
        finally:
            proc.stdout.close()
        errors.seek(0)
        err = errors.read().decode("utf-8", "replace")
    if rc != 0:
        cfg.fail("dumping %s" % database, "mariadb-dump", rc, err)
    completed = b"-- Dump completed" in tail
    return coordinates, completed


def _link_new(tmp, final):
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise MysqlError("%s exists already: two backups in the same second? run again" % final)


def run(params, check_mode=False):
    try:
        database, dest, keep = validate(params)
    except MysqlError as exc:
        raise TaskError("mysql_backup refused: %s. Nothing was written." % exc.msg, dict(changed=False))
    now = time.time()
    name = bm.backup_name(database, now)
    dump_final = os.path.join(dest, name + ".sql.gz")
    manifest_final = os.path.join(dest, name + ".json")
    result = dict(changed=True, database=database, path=dump_final, manifest_path=manifest_final, pruned=[])
    tmps = []
    try:
        with ClientConfig(params, params.get("bin_dir")) as cfg:
            started = server_facts(cfg, database)
            cfg.tool("mariadb-dump")
            if check_mode:
                result["pruned"] = bm.prune_plan(dest, database, keep)
                result["manifest"] = None
                result["msg"] = "would dump %s to %s with its manifest %s" % (database, dump_final, manifest_final)
                return result
            if os.path.exists(dump_final) or os.path.exists(manifest_final):
                raise MysqlError("%s exists already: two backups in the same second? run again" % dump_final)
            fd, tmp_dump = tempfile.mkstemp(prefix=".%s." % name, suffix=".sql.gz.tmp", dir=dest)
            tmps.append(tmp_dump)
            try:
                os.fchmod(fd, 0o600)
                coordinates, completed = dump_to(cfg, database, fd, int(params.get("dump_timeout") or 3600))
            finally:
                os.close(fd)
            if not completed:
                raise MysqlError("the output of mariadb-dump of %s lacks its '-- Dump completed' trailer: it is "
                                 "incomplete" % database)
            if coordinates is None:
                raise MysqlError("the dump of %s has no '-- CHANGE MASTER TO' comment: the server did not give binary "
                                 "log coordinates (is the binary log on, has the login RELOAD and BINLOG MONITOR?)" % database)
            finished = server_facts(cfg, database)
            manifest = bm.build(database, os.path.basename(dump_final), bm.sha256_file(tmp_dump),
                                os.path.getsize(tmp_dump), coordinates, finished, started,
                                cfg.version("mariadb-dump"), bm.utc_text(now))
            fd, tmp_manifest = tempfile.mkstemp(prefix=".%s." % name, suffix=".json.tmp", dir=dest)
            tmps.append(tmp_manifest)
            with os.fdopen(fd, "w") as handle:
                os.fchmod(handle.fileno(), 0o600)
                json.dump(manifest, handle, indent=2, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            _link_new(tmp_dump, dump_final)
            try:
                _link_new(tmp_manifest, manifest_final)
            except MysqlError:
                os.unlink(dump_final)
                raise
            _fsync_dir(dest)
            result["manifest"] = manifest
            plan = bm.prune_plan(dest, database, keep)
            for path in plan:
                os.unlink(path)
            if plan:
                _fsync_dir(dest)
            result["pruned"] = plan
            result["msg"] = "dumped %s to %s (%d bytes) at %s:%d" % (database, dump_final, manifest["size"],
                                                                     coordinates[0], coordinates[1])
            return result
    except MysqlError as exc:
        result["changed"] = False
        raise TaskError("mysql_backup of %s failed: %s. No backup was named %s." % (database, exc.msg, dump_final), result)
    except OSError as exc:
        result["changed"] = False
        raise TaskError("mysql_backup of %s failed writing to %s: %s" % (database, dest, exc.strerror or exc), result)
    finally:
        for tmp in tmps:
            try:
                os.unlink(tmp)
            except OSError:
                pass
