# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's "test restore": a dump restored into a scratch database, its key tables counted, dropped again.

ScratchDatabase creates a database that did not exist (it never adopts, and so never drops, one it did not
create). restore_dump runs pg_restore (custom, tar) or psql (plain SQL, gzip decompressed on the fly) into it,
stopping at the first error, in one transaction. count_key_tables counts the rows of each key table, naming a
missing one. Names reach SQL only after a strict pattern check and identifier quoting. No Ansible here.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import tempfile
import time
import zlib

from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.client_tools import last_lines, libpq_env
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.dump_file import CHUNK, DumpError

SCRATCH_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
IDENT = r"[A-Za-z_][A-Za-z0-9_$]{0,62}"
KEY_TABLE = re.compile(r"^(?:(%s)\.)?(%s)$" % (IDENT, IDENT))


def quote_ident(name):
    return '"%s"' % name.replace('"', '""')


def parse_key_table(text):
    """'tokens' -> ('public', 'tokens'); 'audit.events' -> ('audit', 'events'); ValueError otherwise."""
    match = KEY_TABLE.match(str(text))
    if not match:
        raise ValueError("key_tables: %r is not a table name (name or schema.name: letters, digits, _ and $)" % text)
    return match.group(1) or "public", match.group(2)


def check_scratch_name(name):
    if not SCRATCH_NAME.match(str(name)):
        raise ValueError("scratch_db %r: use lowercase letters, digits and _ (up to 63, not starting with a digit)" % name)
    return name


class ScratchDatabase:
    """CREATE DATABASE on enter (refusing an existing name), DROP DATABASE on exit."""

    def __init__(self, session, name):
        self.session = session
        self.name = check_scratch_name(name)
        self.created = False

    def create(self):
        exists = self.session.query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = %(name)s",
                                    {"name": self.name}, what="looking up the scratch database")
        if exists:
            raise DumpError("scratch database %s already exists on the server; it is not ours to overwrite or drop: "
                            "drop it by hand if it is a leftover, or choose another scratch_db" % self.name, "restore")
        self.session.query("CREATE DATABASE %s TEMPLATE template0" % quote_ident(self.name),
                           what="creating the scratch database %s (the login role needs CREATEDB)" % self.name)
        self.created = True

    def drop(self):
        if not self.created:
            return
        version = int(self.session.query("SELECT current_setting('server_version_num') AS v", what="reading server_version_num")[0]["v"])
        force = " WITH (FORCE)" if version >= 130000 else ""  # FORCE ends sessions a failed restore left behind
        self.session.query("DROP DATABASE IF EXISTS %s%s" % (quote_ident(self.name), force),
                           what="dropping the scratch database %s" % self.name)
        self.created = False

    def __enter__(self):
        self.create()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.drop()
        except Exception as drop_error:
            if exc is None:
                raise
            # The restore's own error is the one to report; name the leftover in it.
            if isinstance(exc, DumpError):
                exc.msg += " (and the scratch database %s could not be dropped: %s; drop it by hand)" % (
                    self.name, getattr(drop_error, "msg", drop_error))


def _feed(proc, path, compressed, deadline):
    """Stream the plain dump into psql's stdin; stops quietly when psql exits early (its stderr says why)."""
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as handle:
            while time.monotonic() < deadline:
                block = handle.read(CHUNK)
                if not block:
                    break
                proc.stdin.write(block)
    except (BrokenPipeError, ConnectionResetError):
        pass
    except (EOFError, OSError, zlib.error) as exc:
        raise DumpError("%s does not decompress to its end while restoring: %s" % (path, exc), "restore")
    finally:
        try:
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass


def restore_dump(path, kind, scratch_name, params, tools, timeout):
    """Restore into scratch_name; DumpError naming the tool, its exit code and its last lines of stderr."""
    env = libpq_env(params, dbname=scratch_name)
    if kind in ("custom", "tar"):
        cmd = [tools["pg_restore"], "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
               "--dbname", scratch_name, path]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise DumpError("pg_restore of %s into %s did not finish within restore_timeout=%ss" % (path, scratch_name, timeout), "restore")
        rc, err, tool = proc.returncode, proc.stderr, "pg_restore"
    else:
        cmd = [tools["psql"], "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", scratch_name, "-f", "-"]
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=env)
            try:
                _feed(proc, path, kind == "plain.gz", time.monotonic() + timeout)
                rc = proc.wait(timeout=max(1, timeout))
            except subprocess.TimeoutExpired:
                proc.kill()  # our own child, by its Popen handle
                proc.wait()
                raise DumpError("psql restore of %s into %s did not finish within restore_timeout=%ss" % (path, scratch_name, timeout), "restore")
            except DumpError:
                proc.wait()
                raise
            errors.seek(0)
            err = errors.read().decode("utf-8", "replace")
        tool = "psql"
    if rc != 0:
        raise DumpError("%s could not restore %s into the scratch database %s (rc %d): %s" % (
            tool, path, scratch_name, rc, last_lines(err) or "no error text"), "restore")


def count_key_tables(session, key_tables):
    """{'schema.table': rows} for each key table of the restored database; DumpError naming the missing ones."""
    parsed = [parse_key_table(t) for t in key_tables]
    missing = [
        "%s.%s" % (schema, table) for schema, table in parsed
        if not session.query("SELECT to_regclass(%(name)s) IS NOT NULL AS present",
                             {"name": "%s.%s" % (quote_ident(schema), quote_ident(table))},
                             what="looking up key table %s.%s" % (schema, table))[0]["present"]
    ]
    if missing:
        raise DumpError("key table(s) %s missing from the restored dump" % ", ".join(missing), "sanity")
    counts = {}
    for schema, table in parsed:
        row = session.query("SELECT count(*) AS n FROM %s.%s" % (quote_ident(schema), quote_ident(table)),
                            what="counting the rows of %s.%s" % (schema, table))[0]
        counts["%s.%s" % (schema, table)] = int(row["n"])
    return counts
