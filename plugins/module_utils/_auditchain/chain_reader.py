# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit chain read from PostgreSQL in id order, a page at a time (keyset: id > last), so that a long chain is
never held in memory whole. Read-only: SELECTs in a read-only transaction."""

from __future__ import annotations

import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

COLUMNS = ("id", "ts", "actor", "action", "payload", "prev_hash", "hash", "signature", "signed_by")
TABLE_NAME = re.compile(r"\A[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?\Z")
PAGE = 1000


def check_table(name):
    """A bare or schema-qualified lowercase identifier, refused otherwise (it goes into SQL text)."""
    if not TABLE_NAME.match(name or ""):
        raise TaskError("table %r is not a plain identifier (schema.table, lowercase letters, digits, _)" % name)
    return name


def records(session, table, page=PAGE):
    """Every record as a dict of COLUMNS (ts as text), in id order."""
    sql = "SELECT %s FROM %s WHERE id > %%s ORDER BY id LIMIT %d" % (
        ", ".join("%s::text" % c if c == "ts" else c for c in COLUMNS), check_table(table), page)
    last = -1
    while True:
        rows = session.query(sql, (last,), what="reading the audit chain from %s" % table)
        yield from rows
        if len(rows) < page:
            return
        last = rows[-1]["id"]
