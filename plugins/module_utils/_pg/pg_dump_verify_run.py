# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_dump_verify's work: the dump's integrity, then a test restore with the key tables counted.

The test restore (restore: true) goes into a scratch database, which is always dropped.

run(params, check_mode, driver=None) returns the result (the facts a backup verification log records) or
raises TaskError(msg, result) whose result says which stage failed and carries what was learnt before; a
missing driver is a TaskError with library set (missing_required_lib). No Ansible here.
"""

from __future__ import annotations

import os
import secrets
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.client_tools import ToolError, find_tool
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.connect import (
    DriverMissing,
    PgError,
    connect,
    missing_driver,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.dump_file import (
    DumpError,
    check_integrity,
    dump_kind,
    file_facts,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.scratch_restore import (
    ScratchDatabase,
    check_scratch_name,
    count_key_tables,
    parse_key_table,
    restore_dump,
)


def validate(params):
    """Refuse bad input before any file is read or any connection made."""
    key_tables = ["%s.%s" % parse_key_table(t) for t in params.get("key_tables") or []]
    scratch = params.get("scratch_db") or "mcpops_verify_%s" % secrets.token_hex(4)
    check_scratch_name(scratch)
    if scratch == (params.get("login_db") or "postgres"):
        raise ValueError("scratch_db %s is login_db: the scratch database is dropped at the end" % scratch)
    if int(params.get("min_rows") or 0) < 0:
        raise ValueError("min_rows must be 0 or more")
    return key_tables, scratch


def _restore_and_count(params, path, kind, scratch, key_tables, timeout, driver):
    tool = "pg_restore" if kind in ("custom", "tar") else "psql"
    tools = {tool: find_tool(tool, params.get("bin_dir") or None)}
    with connect(params, driver) as admin:
        with ScratchDatabase(admin, scratch):
            restore_dump(path, kind, scratch, params, tools, timeout)
            with connect(dict(params, login_db=scratch), driver) as restored:
                return count_key_tables(restored, key_tables)


def run(params, check_mode=False, *, driver=None):
    """driver: (name, module) instead of importing psycopg (tests)."""
    started = time.monotonic()
    path = params["path"]
    try:
        key_tables, scratch = validate(params)
    except ValueError as exc:
        raise TaskError("pg_dump_verify refused: %s. Nothing was read or restored." % exc, dict(stage="input", result="failed"))
    result = dict(changed=False, path=path, name=os.path.basename(path), key_tables=key_tables, restored=False,
                  scratch_db=None, row_counts={}, stage="integrity", result="failed")

    def fail(msg):
        result["duration_seconds"] = round(time.monotonic() - started, 3)
        raise TaskError(msg, result)

    try:
        if not os.path.isfile(path):
            raise DumpError("the dump %s does not exist or is not a regular file" % path)
        result.update(file_facts(path))
        kind = result["kind"] = dump_kind(path)
        pg_restore = find_tool("pg_restore", params.get("bin_dir") or None) if kind in ("custom", "tar") else None
        facts = check_integrity(path, kind, pg_restore, timeout=params.get("restore_timeout") or 3600)
        result.update(toc_entries=facts.toc_entries, tables=len(facts.tables))
        missing = [t for t in key_tables if t not in facts.tables]
        if missing:
            raise DumpError("key table(s) %s not in the dump (it creates %d tables%s)" % (
                ", ".join(missing), len(facts.tables), ": " + ", ".join(facts.tables[:20]) if facts.tables else ""))
        if params.get("restore", True) and not check_mode:
            result.update(stage="restore", scratch_db=scratch)
            result["row_counts"] = _restore_and_count(params, path, kind, scratch, key_tables,
                                                      params.get("restore_timeout") or 3600, driver)
            result["restored"] = True
            result["stage"] = "sanity"
            low = dict((t, n) for t, n in result["row_counts"].items() if n < int(params.get("min_rows") or 0))
            if low:
                raise DumpError("key table(s) with fewer than min_rows=%s rows after the restore: %s" % (
                    params.get("min_rows"), ", ".join("%s (%d)" % item for item in sorted(low.items()))), "sanity")
    except DumpError as exc:
        result["stage"] = exc.stage
        fail("backup verification of %s failed at %s: %s" % (path, exc.stage, exc.msg))
    except ToolError as exc:
        fail("backup verification of %s: %s" % (path, exc))
    except PgError as exc:
        fail("backup verification of %s failed at %s: %s" % (path, result["stage"], exc.msg))
    except DriverMissing as exc:
        raise missing_driver(exc, "to create the scratch database; or delegate_to a host that has it")
    result.update(stage="done", result="ok" if result["restored"] or not params.get("restore", True) else "integrity_ok",
                  duration_seconds=round(time.monotonic() - started, 3))
    return result
