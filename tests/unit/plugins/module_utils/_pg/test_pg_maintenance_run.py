"""pg_maintenance's run() through a fake driver: it connects to the database itself, runs VACUUM ANALYZE and REINDEX
only as asked, nothing in check mode, and a refusal names what already ran (never the password)."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.pg_maintenance_run import run

TABLE = {"schema": "public", "table": "messages", "last_vacuum": "2026-12-05T14:00:00Z", "last_analyze": None}


class Cursor:
    def __init__(self, conn):
        self.conn, self.description, self.rows = conn, None, []

    def execute(self, sql, args):
        self.conn.statements.append(sql.strip())
        if sql.startswith("REINDEX") and self.conn.refuse_reindex:
            exc = Exception("ERROR:  must be owner of database db pw-canary")
            exc.sqlstate = "42501"
            raise exc
        if "pg_stat_user_tables" in sql:
            self.rows = [TABLE]
            self.description = [(k,) for k in TABLE]

    def fetchall(self):
        return [tuple(r.values()) for r in self.rows]

    def close(self):
        pass


class Driver:
    def __init__(self, refuse_reindex=False):
        self.statements, self.refuse_reindex, self.kwargs, self.autocommit = [], refuse_reindex, None, False

    def connect(self, **kwargs):
        self.kwargs = kwargs
        return self

    def cursor(self):
        return Cursor(self)

    def close(self):
        pass


def params(**extra):
    return dict(dict(database="cctelegram", vacuum_analyze=True, reindex=False, login_host="db", login_port=5432,
                     login_user="dba", login_password="pw-canary", login_db="postgres"), **extra)


def test_vacuum_analyze_on_the_database_itself():
    driver = Driver()
    result = run(params(), driver=("psycopg", driver))
    assert driver.kwargs["dbname"] == "cctelegram" and driver.autocommit is True
    assert driver.statements[0] == "VACUUM (ANALYZE)" and not any(s.startswith("REINDEX") for s in driver.statements)
    assert result["changed"] is True and result["ran"] == ["VACUUM ANALYZE"] and result["tables"] == [TABLE]


def test_reindex_only_when_asked_after_vacuum():
    driver = Driver()
    result = run(params(reindex=True), driver=("psycopg", driver))
    assert driver.statements[:2] == ["VACUUM (ANALYZE)", 'REINDEX DATABASE "cctelegram"']
    assert result["ran"] == ["VACUUM ANALYZE", "REINDEX DATABASE cctelegram"]


def test_check_mode_runs_no_statement_but_reads_the_statistics():
    driver = Driver()
    result = run(params(reindex=True), True, driver=("psycopg", driver))
    assert result["changed"] is False and result["ran"] == []
    assert result["statements"] == ["VACUUM ANALYZE", "REINDEX DATABASE cctelegram"]
    assert len(driver.statements) == 1 and "pg_stat_user_tables" in driver.statements[0]


def test_nothing_asked_is_refused_before_connecting():
    driver = Driver()
    with pytest.raises(TaskError, match="nothing to do"):
        run(params(vacuum_analyze=False), driver=("psycopg", driver))
    assert driver.kwargs is None


def test_a_refused_reindex_names_what_ran_and_never_the_password():
    with pytest.raises(TaskError) as err:
        run(params(reindex=True), driver=("psycopg", Driver(refuse_reindex=True)))
    assert "SQLSTATE 42501" in err.value.msg and "already done before the failure: VACUUM ANALYZE" in err.value.msg
    assert "owner or a superuser" in err.value.msg and "pw-canary" not in err.value.msg
    assert err.value.result["ran"] == ["VACUUM ANALYZE"]
