# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mysql_point_in_time_restore's work: the runbook's "restore database from backup" and "apply binary logs to
recovery point", for one database, with the live tables swapped in by one atomic RENAME TABLE.

1. Read-only checks (also all that check mode does): the manifest parses, its dump exists with its size and
   sha256, the recovery point is after the backup, the binary logs from the backup's position are all still on
   the server, the database exists and has no triggers (RENAME TABLE cannot move a table with triggers to
   another database), the names we would create are free, and the binary log holds no statement naming the
   database inside its text (binlog_replay says why). The binary log is decoded into a private temp dir.
2. CREATE DATABASE <db>_pitr_<stamp>; the dump loaded into it; the decoded binlog replayed into it (sessions
   with sql_log_bin=0); every table the dump created must still be there.
3. One `RENAME TABLE db.t TO prev.t, ..., staging.t TO db.t, ...`: the live database changes in one step.
   keep_previous: the old tables stay in <db>_before_pitr_<stamp>; otherwise that database is dropped.
A failure before step 3 drops the staging database and leaves the live database untouched.

run(params, check_mode) returns the result or raises TaskError. No Ansible here.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import tempfile
import time
import zlib

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql import backup_manifest as bm
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql import binlog_replay as br
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.client_tools import (
    ClientConfig,
    check_db_name,
    last_lines,
    quote_ident,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.errors import MysqlError

STAMP = "%Y%m%d%H%M%S"
MAX_DB_LEN = 64 - len("_before_pitr_") - 14
CHARSET = re.compile(r"CHARACTER SET ([A-Za-z0-9_]+)(?: COLLATE ([A-Za-z0-9_]+))?")
CHUNK = 1 << 20


def validate(params):
    database = check_db_name(params["database"])
    if len(database) > MAX_DB_LEN:
        raise MysqlError("database %s is longer than %d characters: <database>_before_pitr_<14 digits> would not "
                         "fit MariaDB's 64" % (database, MAX_DB_LEN), "input")
    stop = br.parse_stop_datetime(params.get("stop_datetime"))
    backup, backup_dir = params.get("backup"), params.get("backup_dir")
    if bool(backup) == bool(backup_dir):
        raise MysqlError("give exactly one of backup (a manifest) and backup_dir", "input")
    return database, stop, backup, backup_dir


def server_facts(cfg, stop):
    """VERSION, binlog settings, time zones, the recovery point as epoch per the server's zone, and now."""
    row = cfg.query("SELECT VERSION(), @@log_bin, @@binlog_format, @@global.time_zone, @@system_time_zone, "
                    "UNIX_TIMESTAMP('%s'), UNIX_TIMESTAMP(), DATE_FORMAT(UTC_TIMESTAMP(), '%%Y-%%m-%%dT%%H:%%i:%%sZ')" % stop,
                    "reading the server's version, binary log settings and clock")[0]
    facts = dict(version=row[0], log_bin=row[1], binlog_format=row[2], time_zone=row[3], system_time_zone=row[4],
                 now_utc=row[7])
    if row[5] in (None, "", "0") or float(row[5]) <= 0:
        raise MysqlError("the server cannot convert stop_datetime '%s' to a time in its zone (%s/%s)" % (
            stop, row[3], row[4]), "input")
    facts["stop_epoch"] = int(float(row[5]))
    facts["now_epoch"] = int(float(row[6]))
    if str(row[1]) != "1":
        raise MysqlError("the binary log is off on %s: there is nothing to replay" % cfg.where(), "check")
    return facts


def databases(cfg):
    return set(r[0] for r in cfg.query("SHOW DATABASES", "listing the databases"))


def base_tables(cfg, database):
    """Names of the tables (not views) of database, sorted."""
    rows = cfg.query("SHOW FULL TABLES FROM %s" % quote_ident(database), "listing the tables of %s" % database)
    return sorted(r[0] for r in rows if (r[1] or "").upper() != "VIEW")


def triggers(cfg, database):
    return sorted(r[0] for r in cfg.query("SHOW TRIGGERS FROM %s" % quote_ident(database),
                                          "listing the triggers of %s" % database))


def row_counts(cfg, database, tables):
    if not tables:
        return {}
    sql = "".join("SELECT COUNT(*) FROM %s.%s;\n" % (quote_ident(database), quote_ident(t)) for t in tables)
    rows = cfg.query(sql, "counting the rows of the tables of %s" % database, timeout=3600)
    return dict((t, int(r[0])) for t, r in zip(tables, rows))


def charset_clause(cfg, database):
    row = cfg.query("SHOW CREATE DATABASE %s" % quote_ident(database), "reading the character set of %s" % database)[0]
    match = CHARSET.search(row[1] or "")
    if not match:
        return ""
    return " CHARACTER SET %s" % match.group(1) + (" COLLATE %s" % match.group(2) if match.group(2) else "")


def load_dump(cfg, dump, staging, timeout):
    """gunzip the dump into `mariadb <staging>` (sql_log_bin=0), streaming; MysqlError with the client's words."""
    argv = cfg.argv("mariadb", "--binary-mode", "--default-character-set=utf8mb4",
                    "--init-command=SET SESSION sql_log_bin=0", "--database=" + check_db_name(staging))
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            try:
                with gzip.open(dump, "rb") as handle:
                    while True:
                        block = handle.read(CHUNK)
                        if not block:
                            break
                        if time.monotonic() > deadline:
                            raise MysqlError("loading %s into %s did not finish within %ss" % (dump, staging, timeout))
                        proc.stdin.write(block)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped early: its stderr says why
            except (EOFError, OSError, zlib.error) as exc:
                raise MysqlError("%s does not decompress to its end: %s" % (dump, exc))
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
            rc = proc.wait(timeout=max(1, deadline - time.monotonic()))
        except BaseException:
            if proc.poll() is None:
                proc.kill()  # our own child, by its handle
            proc.wait()
            raise
        errors.seek(0)
        err = errors.read().decode("utf-8", "replace")
    if rc != 0:
        raise MysqlError("loading the dump %s into %s failed (mariadb rc %d): %s" % (
            dump, staging, rc, last_lines(err, secret=cfg.secret) or "no error text"))


def choose_backup(backup, backup_dir, database, stop_epoch):
    if backup:
        return backup, bm.load(backup)
    return bm.newest_before(backup_dir, database, stop_epoch)


def read_only_checks(cfg, database, stop, backup, backup_dir, staging, result):
    facts = server_facts(cfg, stop)
    result["server"] = dict((k, facts[k]) for k in ("version", "binlog_format", "time_zone", "system_time_zone", "now_utc"))
    stop_epoch = facts["stop_epoch"]
    result["stop_datetime_utc"] = bm.utc_text(stop_epoch)
    manifest_path, doc = choose_backup(backup, backup_dir, database, stop_epoch)
    result["backup"] = manifest_path
    result["manifest"] = doc
    if doc["database"] != database:
        raise MysqlError("manifest %s is a backup of database %s, not %s" % (manifest_path, doc["database"], database),
                         "manifest")
    dump = bm.verify_dump(manifest_path, doc)
    if stop_epoch <= bm.utc_epoch(doc["server_time_utc"]):
        raise MysqlError("the recovery point %s (%s UTC) is not after the backup's end %s: choose an older backup" % (
            stop, bm.utc_text(stop_epoch), doc["server_time_utc"]), "check")
    logs = cfg.query("SHOW BINARY LOGS", "listing the binary logs (SHOW BINARY LOGS needs BINLOG MONITOR)")
    files = br.files_to_replay(logs, doc["binlog_file"], doc["binlog_position"])
    result["binlog_files"] = files
    present = databases(cfg)
    if database not in present:
        raise MysqlError("database %s does not exist on %s" % (database, cfg.where()), "check")
    live_triggers = triggers(cfg, database)
    if live_triggers:
        raise MysqlError("database %s has triggers (%s): RENAME TABLE cannot move their tables to another database, "
                         "so the atomic swap is impossible; drop the triggers first or restore by hand" % (
                             database, ", ".join(live_triggers[:10])), "check")
    live = base_tables(cfg, database)
    result["rows_before"] = row_counts(cfg, database, live)
    decoded_all = cfg.scratch_path("binlog-all.sql")
    stop_utc = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stop_epoch))
    br.decode(cfg, files, doc["binlog_position"], stop_utc, decoded_all)
    naming = br.scan_file(decoded_all, database)
    os.unlink(decoded_all)
    if naming:
        raise MysqlError("the binary log holds statements that name %s inside their text (%s): replayed into a staging "
                         "database they would change the live one or be skipped; set binlog_format=ROW on the server "
                         "and restore by hand this time" % (database, "; ".join(
                             "line %d: %s" % item for item in naming)), "check")
    replay = cfg.scratch_path("binlog-replay.sql")
    warnings = br.decode(cfg, files, doc["binlog_position"], stop_utc, replay, database=database, rewrite_to=staging)
    if facts["stop_epoch"] > facts["now_epoch"]:
        result["warnings"].append("stop_datetime %s is in the future by the server's clock: every change up to now is "
                                  "replayed" % stop)
    if (facts["binlog_format"] or "").upper() != "ROW":
        result["warnings"].append("binlog_format is %s: statement events are replayed by their default database; "
                                  "ROW is the safe format for point-in-time recovery" % facts["binlog_format"])
    result["warnings"].extend(warnings[:5])
    return dict(dump=dump, doc=doc, files=files, live=live, present=present, facts=facts)


def run(params, check_mode=False):
    try:
        database, stop, backup, backup_dir = validate(params)
    except MysqlError as exc:
        raise TaskError("mysql_point_in_time_restore refused: %s. Nothing was read or changed." % exc.msg,
                        dict(changed=False))
    keep_previous = params.get("keep_previous", True)
    timeout = int(params.get("restore_timeout") or 3600)
    stamp = time.strftime(STAMP, time.gmtime())
    staging, previous = "%s_pitr_%s" % (database, stamp), "%s_before_pitr_%s" % (database, stamp)
    result = dict(changed=False, database=database, stop_datetime=stop, staging_database=staging,
                  previous_database=previous if keep_previous else None, binlog_files=[], rows_before={},
                  rows_after={}, tables=[], warnings=[], stage="check")
    created = []
    swapped = False
    try:
        with ClientConfig(params, params.get("bin_dir")) as cfg:
            checked = read_only_checks(cfg, database, stop, backup, backup_dir, staging, result)
            for name in (staging, previous):
                if name in checked["present"]:
                    raise MysqlError("database %s exists already; run again in a second" % name, "check")
            result["changed"] = True
            if check_mode:
                result["stage"] = "checked"
                result["msg"] = ("would load %s into %s, replay %s from position %d to %s, and swap its tables into %s "
                                 "with one RENAME TABLE%s" % (
                                     checked["dump"], staging, ", ".join(checked["files"]), checked["doc"]["binlog_position"],
                                     stop, database, ", keeping the old ones in %s" % previous if keep_previous else ""))
                return result
            # -- the staging database: the live one is not touched until the RENAME
            result["stage"] = "restore"
            charset = charset_clause(cfg, database)
            cfg.query("CREATE DATABASE %s%s" % (quote_ident(staging), charset), "creating %s" % staging, no_log_bin=True)
            created.append(staging)
            load_dump(cfg, checked["dump"], staging, timeout)
            dumped = base_tables(cfg, staging)
            replay = cfg.scratch_path("binlog-replay.sql")
            result["stage"] = "replay"
            br.apply_sql(cfg, replay, staging, timeout)
            result["stage"] = "verify"
            tables = base_tables(cfg, staging)
            missing = sorted(set(dumped) - set(tables))
            if missing:
                raise MysqlError("after the replay the staging database lacks table(s) of the dump: %s" % ", ".join(missing))
            staged_triggers = triggers(cfg, staging)
            if staged_triggers:
                raise MysqlError("the restored database has triggers (%s): RENAME TABLE cannot move their tables; "
                                 "restore by hand" % ", ".join(staged_triggers[:10]))
            result["tables"] = tables
            result["rows_after"] = row_counts(cfg, staging, tables)
            # -- the swap
            result["stage"] = "swap"
            cfg.query("CREATE DATABASE %s%s" % (quote_ident(previous), charset), "creating %s" % previous, no_log_bin=True)
            created.append(previous)
            pairs = ["%s.%s TO %s.%s" % (quote_ident(database), quote_ident(t), quote_ident(previous), quote_ident(t))
                     for t in checked["live"]]
            pairs += ["%s.%s TO %s.%s" % (quote_ident(staging), quote_ident(t), quote_ident(database), quote_ident(t))
                      for t in tables]
            if pairs:
                cfg.query("RENAME TABLE " + ", ".join(pairs), "swapping the restored tables into %s" % database,
                          no_log_bin=True)
            swapped = True
            result["stage"] = "cleanup"
            cfg.query("DROP DATABASE %s" % quote_ident(staging), "dropping the emptied %s" % staging, no_log_bin=True)
            created.remove(staging)
            if not keep_previous:
                cfg.query("DROP DATABASE %s" % quote_ident(previous), "dropping %s" % previous, no_log_bin=True)
            created.remove(previous)
            result["stage"] = "done"
            result["msg"] = "restored %s to %s: %d table(s) swapped in%s" % (
                database, stop, len(tables), "; the old tables are in %s" % previous if keep_previous else "")
            return result
    except MysqlError as exc:
        msg = "mysql_point_in_time_restore of %s failed at %s: %s." % (database, result["stage"], exc.msg)
        if swapped:
            msg += " The restored tables ARE live in %s; only the cleanup failed (drop %s by hand)." % (
                database, ", ".join(created))
        else:
            dropped = _drop_quietly(params, created)
            msg += " The live database %s was not changed%s." % (
                database, "; dropped %s" % ", ".join(dropped) if dropped else "")
            left = [c for c in created if c not in dropped]
            if left:
                msg += " Could not drop %s: drop by hand" % ", ".join(left)
            result["changed"] = bool(left)
        raise TaskError(msg, result)
    except OSError as exc:
        dropped = _drop_quietly(params, created) if not swapped else []
        raise TaskError("mysql_point_in_time_restore of %s failed at %s: %s%s" % (
            database, result["stage"], exc.strerror or exc, "" if swapped else "; the live database was not changed"
            + ("; dropped %s" % ", ".join(dropped) if dropped else "")), result)


def _drop_quietly(params, names):
    """Drop the databases we created (staging, an empty previous); the names dropped."""
    dropped = []
    if not names:
        return dropped
    try:
        with ClientConfig(params, params.get("bin_dir")) as cfg:
            for name in list(names):
                try:
                    cfg.query("DROP DATABASE IF EXISTS %s" % quote_ident(name), "dropping %s" % name, no_log_bin=True)
                    dropped.append(name)
                except MysqlError:
                    pass
    except (MysqlError, OSError):
        pass
    return dropped
