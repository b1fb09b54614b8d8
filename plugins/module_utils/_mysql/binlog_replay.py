# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replaying the binary log from a backup's coordinates up to a recovery point, into a staging database.

What was found by testing MariaDB 10.11's mariadb-binlog (the lab's), and what this file relies on:
- `--database=<db>` filters on the ORIGINAL database name, also with `--rewrite-db='<db>-><staging>'`: row
  events by their table map's database, statement events by their default database (`USE`). (MySQL's
  mysqlbinlog documents the opposite order; we pass the original name, which is what MariaDB wants.)
- `--rewrite-db` rewrites the table maps and the `USE` of statement events, NOT database names written inside
  a statement's text. With binlog_format STATEMENT or MIXED (the server default), `INSERT INTO <db>.t` replayed
  into staging would change the LIVE table, and the same statement run under another default database is
  filtered out (lost). statements_naming() finds such statements in the unfiltered log, so that the restore is
  refused before anything is changed (it may refuse a statement that only has the name in a string value:
  failing closed).
- `--stop-datetime` is read in the client's local time zone and stops at the first event at or after it; we
  run mariadb-binlog with TZ=UTC and give it the recovery point converted to UTC by the server.
No Ansible here.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.client_tools import check_db_name, last_lines
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.errors import MysqlError

STOP_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$")
MAX_REPORTED = 5


def parse_stop_datetime(text):
    """'YYYY-MM-DD HH:MM:SS' -> the same text re-rendered from its parsed numbers (so only digits, '-', ':' and
    one space can reach SQL); MysqlError otherwise."""
    match = STOP_DATETIME.match(str(text or "").strip())
    if not match:
        raise MysqlError("stop_datetime %r is not of the form 'YYYY-MM-DD HH:MM:SS'" % (text,), "input")
    try:
        parsed = time.strptime(match.group(0), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise MysqlError("stop_datetime %r is not a real date and time" % (text,), "input")
    if parsed.tm_year < 1971:
        raise MysqlError("stop_datetime %r is before 1971" % (text,), "input")
    return time.strftime("%Y-%m-%d %H:%M:%S", parsed)


def files_to_replay(binary_logs, start_file, start_position):
    """The binary log files from start_file to the newest, from SHOW BINARY LOGS rows [[name, size, ...]];
    MysqlError when start_file is gone (purged) or the position is past its end."""
    names = [row[0] for row in binary_logs]
    sizes = dict((row[0], int(row[1])) for row in binary_logs)
    if start_file not in names:
        raise MysqlError("the binary log %s where the backup stops is no longer on the server (it has %s): it was "
                         "purged or rotated away, so the changes since the backup cannot be replayed; use a newer "
                         "backup" % (start_file, ", ".join(names) or "none"), "check")
    if start_position > sizes[start_file]:
        raise MysqlError("the backup's position %s:%d is past the end of that binary log (%d bytes): the log on the "
                         "server is not the one the backup was taken from"
                         % (start_file, start_position, sizes[start_file]), "check")
    return names[names.index(start_file):]


def decode_argv(cfg, files, start_position, stop_utc, database=None, rewrite_to=None):
    """mariadb-binlog reading from the server (the connection in cfg's defaults file, never in argv)."""
    args = ["--read-from-remote-server", "--start-position=%d" % int(start_position),
            "--stop-datetime=%s" % stop_utc]
    if database:
        args.append("--database=%s" % check_db_name(database))
    if rewrite_to:
        args.append("--rewrite-db=%s->%s" % (check_db_name(database), check_db_name(rewrite_to)))
        args.append("--disable-log-bin")
    return cfg.argv("mariadb-binlog", *args) + ["--"] + list(files)


def decode(cfg, files, start_position, stop_utc, out_path, database=None, rewrite_to=None, timeout=3600):
    """Run mariadb-binlog into out_path (TZ=UTC, so --stop-datetime is UTC); MysqlError on failure."""
    env = dict(os.environ, TZ="UTC")
    with tempfile.TemporaryFile() as errors:
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            proc = subprocess.run(decode_argv(cfg, files, start_position, stop_utc, database, rewrite_to),
                                  stdout=fd, stderr=errors, stdin=subprocess.DEVNULL, env=env, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise MysqlError("mariadb-binlog did not finish reading %s within %ss" % (", ".join(files), timeout))
        finally:
            os.close(fd)
        errors.seek(0)
        err = errors.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        cfg.fail("reading the binary logs %s from the server" % ", ".join(files), "mariadb-binlog", proc.returncode, err)
    return [line for line in err.splitlines() if line.strip() and "Did not reach stop datetime" not in line]


def statements_naming(lines, database):
    """Statement text in mariadb-binlog output that names `database` (as a whole identifier): [(line number,
    excerpt)], at most MAX_REPORTED. Comments (#...), `use` lines, SET lines and BINLOG base64 blocks (row
    events: their table maps are rewritten and filtered properly) are skipped; everything else is looked at."""
    word = re.compile(r"(?<![A-Za-z0-9_$])%s(?![A-Za-z0-9_$])" % re.escape(database))
    found, in_binlog = [], False
    for number, line in enumerate(lines, 1):
        if in_binlog:
            if line.startswith("'"):
                in_binlog = False
            continue
        if line.startswith("BINLOG '"):
            in_binlog = not line.rstrip().endswith("'/*!*/;") or line.strip() == "BINLOG '"
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("DELIMITER"):
            continue
        lowered = stripped.lower()
        if lowered.startswith("use `") or lowered.startswith("set "):
            continue
        if word.search(stripped):
            found.append((number, stripped[:200]))
            if len(found) >= MAX_REPORTED:
                break
    return found


def scan_file(path, database):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return statements_naming((line.rstrip("\n") for line in handle), database)


def apply_sql(cfg, sql_path, staging, timeout=3600):
    """Feed the decoded (rewritten) SQL into `mariadb <staging>` with sql_log_bin=0; MysqlError on failure."""
    argv = cfg.argv("mariadb", "--binary-mode", "--default-character-set=utf8mb4",
                    "--init-command=SET SESSION sql_log_bin=0", "--database=" + check_db_name(staging))
    with open(sql_path, "rb") as sql, tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.run(argv, stdin=sql, stdout=subprocess.DEVNULL, stderr=errors, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise MysqlError("replaying the binary logs into %s did not finish within %ss" % (staging, timeout))
        errors.seek(0)
        err = errors.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise MysqlError("replaying the binary logs into %s failed (mariadb rc %d): %s" % (
            staging, proc.returncode, last_lines(err, secret=cfg.secret) or "no error text"))
