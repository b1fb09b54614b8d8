# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Database maintenance statements (VACUUM ANALYZE, REINDEX DATABASE) and the table statistics that show they ran.

A database name is only ever an identifier quoted here, never spliced otherwise; a name with a control character
or a NUL is refused. No Ansible here.
"""

from __future__ import annotations

import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME = 63  # NAMEDATALEN - 1: a longer name would be truncated by the server, silently naming another database

# Per user table: when it was last vacuumed and analyzed by hand (not autovacuum), oldest first.
TABLE_STATS = """
SELECT schemaname AS schema, relname AS table,
       to_char(last_vacuum AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_vacuum,
       to_char(last_analyze AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_analyze
FROM pg_stat_user_tables ORDER BY schemaname, relname
"""


def quote_ident(name):
    """name as a SQL identifier ("x""y"); TaskError for an empty, too long or control-character name."""
    if not isinstance(name, str) or not name or len(name.encode("utf-8")) > MAX_NAME or _BAD_NAME.search(name):
        raise TaskError("database must be a database name of 1 to %d bytes without control characters, got %r"
                        % (MAX_NAME, name))
    return '"%s"' % name.replace('"', '""')


def statements(database, vacuum_analyze, reindex):
    """The statements to run, in order, as (what, sql): VACUUM ANALYZE before REINDEX (a rebuilt index gets fresh
    statistics either way, and VACUUM leaves less to rebuild)."""
    todo = []
    if vacuum_analyze:
        todo.append(("VACUUM ANALYZE", "VACUUM (ANALYZE)"))
    if reindex:
        todo.append(("REINDEX DATABASE %s" % database, "REINDEX DATABASE %s" % quote_ident(database)))
    return todo
