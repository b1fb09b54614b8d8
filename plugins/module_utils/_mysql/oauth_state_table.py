# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ConnectorMCP's OAuth state table (runbook 4, "OAuth Flow Failures"): what it holds and its expired rows.

OAuthStateTable(table, expires_column) validates both names (letters, digits and _ only: they are spliced into
SQL between backquotes, so nothing else may reach it); check(session) makes sure the table exists in the
connected database with that column of a date/time type, else a MysqlError saying which is missing; the
statements are the runbook's own, with `expires_at < <the database's NOW()>` as a bound value read once, so that
counting, check mode and every batch of a cleanup mean the same rows. delete_batch deletes at most `limit` rows
in one autocommitted statement: a cleanup stopped half-way has deleted whole batches and nothing else.
No Ansible here.
"""

from __future__ import annotations

import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connect import mysql_error

IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}$")
TIME_TYPES = ("datetime", "timestamp", "date")

CLOCK_SQL = "SELECT NOW() AS db_now, UTC_TIMESTAMP() AS db_utc_now, DATABASE() AS db"
COLUMN_SQL = ("SELECT t.TABLE_NAME AS table_name, c.COLUMN_NAME AS column_name, c.DATA_TYPE AS data_type "
              "FROM information_schema.TABLES t LEFT JOIN information_schema.COLUMNS c "
              "ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND BINARY c.COLUMN_NAME = BINARY %s "
              "WHERE t.TABLE_SCHEMA = DATABASE() AND BINARY t.TABLE_NAME = BINARY %s")


class TableNameError(ValueError):
    """A table or column name that is not letters, digits and _ (raised before connecting)."""


def identifier(name, option):
    """name if it is letters, digits and _ (1 to 64), else TableNameError naming the option."""
    text = "" if name is None else str(name)
    if not IDENTIFIER.match(text):
        raise TableNameError("%s %r: use letters, digits and _ only (1 to 64 characters)" % (option, text))
    return text


def _iso(value):
    return None if value is None else str(value)


class OAuthStateTable:
    def __init__(self, table="oauth_states", expires_column="expires_at"):
        self.table = identifier(table, "table")
        self.column = identifier(expires_column, "expires_column")

    # The runbook's two diagnosis queries, as the operator would type them (for the result).
    def seed_queries(self):
        return ["SELECT COUNT(*) as states, MAX(%s) as latest FROM %s" % (self.column, self.table),
                "SELECT COUNT(*) as expired FROM %s WHERE %s < NOW()" % (self.table, self.column)]

    def clock(self, session):
        """{db_now, db_utc_now, db} by the database's clock."""
        return session.query(CLOCK_SQL, what="reading the database's clock (NOW(), UTC_TIMESTAMP())")[0]

    def check(self, session, database):
        """MysqlError unless the table exists in the connected database with the column, of a date/time type."""
        if not database:
            raise mysql_error("no database selected: set login_db to the database that holds the table %s" % self.table,
                              stage="input")
        rows = session.query(COLUMN_SQL, (self.column, self.table), what="looking up table %s" % self.table)
        if not rows:
            raise mysql_error("table %s does not exist in database %s (names are case-sensitive). Next: check table "
                              "and login_db; nothing was changed" % (self.table, database), stage="check")
        if rows[0]["column_name"] is None:
            raise mysql_error("table %s.%s has no column %s. Next: check expires_column; nothing was changed"
                              % (database, self.table, self.column), stage="check")
        data_type = str(rows[0]["data_type"]).lower()
        if data_type not in TIME_TYPES:
            raise mysql_error("column %s.%s.%s is %s, not a date/time type (%s): `%s < NOW()` would not compare "
                              "times. Next: check expires_column; nothing was changed"
                              % (database, self.table, self.column, data_type, ", ".join(TIME_TYPES), self.column),
                              stage="check")

    def counts(self, session, cutoff):
        """{total, expired, latest, oldest, oldest_expired} with expired meaning `column < cutoff`."""
        sql = ("SELECT COUNT(*) AS total, SUM(`{c}` < %s) AS expired, MAX(`{c}`) AS latest, MIN(`{c}`) AS oldest, "
               "MIN(CASE WHEN `{c}` < %s THEN `{c}` END) AS oldest_expired FROM `{t}`").format(c=self.column, t=self.table)
        row = session.query(sql, (cutoff, cutoff), what="counting the rows of %s" % self.table)[0]
        return dict(total=int(row["total"] or 0), expired=int(row["expired"] or 0), latest=_iso(row["latest"]),
                    oldest=_iso(row["oldest"]), oldest_expired=_iso(row["oldest_expired"]))

    def delete_batch(self, session, cutoff, limit):
        """Delete at most limit rows with column < cutoff, in one autocommitted statement; how many went."""
        sql = "DELETE FROM `{t}` WHERE `{c}` < %s LIMIT %s".format(t=self.table, c=self.column)
        return int(session.execute(sql, (cutoff, int(limit)), what="deleting expired rows of %s" % self.table))
