"""The scratch database: never an existing one, always dropped when we created it, the restore's error kept."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.connect import PgError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.dump_file import DumpError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.scratch_restore import (
    ScratchDatabase,
    check_scratch_name,
    count_key_tables,
    parse_key_table,
    quote_ident,
)


class Session:
    def __init__(self, exists=False, fail_drop=False, present=True, rows=3):
        self.exists, self.fail_drop, self.present, self.rows = exists, fail_drop, present, rows
        self.sql = []

    def query(self, sql, args=None, what=""):
        self.sql.append(sql)
        if "FROM pg_catalog.pg_database" in sql:
            return [{"?column?": 1}] if self.exists else []
        if "server_version_num" in sql:
            return [{"v": "150018"}]
        if sql.startswith("DROP") and self.fail_drop:
            raise PgError("dropping failed: database is being accessed by other users")
        if "to_regclass" in sql:
            return [{"present": self.present}]
        if "count(*)" in sql:
            return [{"n": self.rows}]
        return []


def test_created_then_dropped_with_force():
    session = Session()
    with ScratchDatabase(session, "mcpops_verify_ab"):
        pass
    assert session.sql[1] == 'CREATE DATABASE "mcpops_verify_ab" TEMPLATE template0'
    assert session.sql[-1] == 'DROP DATABASE IF EXISTS "mcpops_verify_ab" WITH (FORCE)'


def test_an_existing_database_is_never_adopted_nor_dropped():
    session = Session(exists=True)
    with pytest.raises(DumpError, match="already exists"):
        with ScratchDatabase(session, "mcpops_verify_ab"):
            pass
    assert not any(s.startswith(("CREATE", "DROP")) for s in session.sql)


def test_the_restore_error_wins_and_names_a_leftover():
    session = Session(fail_drop=True)
    with pytest.raises(DumpError) as err:
        with ScratchDatabase(session, "mcpops_verify_ab"):
            raise DumpError("pg_restore failed", "restore")
    assert err.value.msg.startswith("pg_restore failed (and the scratch database mcpops_verify_ab could not be dropped")


def test_key_tables_counted_with_quoted_identifiers():
    session = Session(rows=7)
    assert count_key_tables(session, ["tokens", "audit.Events"]) == {"public.tokens": 7, "audit.Events": 7}
    assert 'SELECT count(*) AS n FROM "audit"."Events"' in session.sql
    with pytest.raises(DumpError, match="missing from the restored dump"):
        count_key_tables(Session(present=False), ["tokens"])


def test_key_table_names():
    assert parse_key_table("tokens") == ("public", "tokens")
    assert parse_key_table("audit.events") == ("audit", "events")
    for bad in ["tokens; DROP TABLE x", 'a"b', "a.b.c", "", "1abc"]:
        with pytest.raises(ValueError):
            parse_key_table(bad)
    assert check_scratch_name("mcpops_verify_1") == "mcpops_verify_1"
    for bad in ["Verify", "x-y", "a;b", "9abc"]:
        with pytest.raises(ValueError):
            check_scratch_name(bad)
    assert quote_ident('we"ird') == '"we""ird"'
