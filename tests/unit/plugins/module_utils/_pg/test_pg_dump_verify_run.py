"""pg_dump_verify's run(): what is refused before anything is read, integrity without a server, and the failures
that name the stage (a missing tool, a missing driver) as TaskError."""

import sys

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.pg_dump_verify_run import run

PLAIN = b"""--
-- PostgreSQL database dump
--
CREATE TABLE public.tokens (
    id integer NOT NULL
);
--
-- PostgreSQL database dump complete
--
"""
NO_DRIVER = ("psycopg", object())  # any connection attempt through it would raise AttributeError


def dump(tmp_path, data=PLAIN, name="a.sql"):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_missing_key_table_fails_at_integrity_before_any_connection(tmp_path):
    with pytest.raises(TaskError) as err:
        run(dict(path=dump(tmp_path), key_tables=["tokens", "clients"]), check_mode=False, driver=NO_DRIVER)
    assert "key table(s) public.clients not in the dump" in err.value.msg
    assert err.value.result["stage"] == "integrity" and err.value.result["kind"] == "plain"
    assert err.value.result["result"] == "failed" and err.value.result["duration_seconds"] >= 0


def test_check_mode_checks_integrity_only(tmp_path):
    result = run(dict(path=dump(tmp_path), key_tables=["tokens"]), check_mode=True, driver=NO_DRIVER)
    assert result["result"] == "integrity_ok" and result["restored"] is False and result["scratch_db"] is None
    assert result["stage"] == "done" and result["tables"] == 1 and result["key_tables"] == ["public.tokens"]
    assert result["changed"] is False and result["size_bytes"] == len(PLAIN)


def test_restore_false_is_ok_without_a_restore(tmp_path):
    result = run(dict(path=dump(tmp_path), key_tables=["tokens"], restore=False), driver=NO_DRIVER)
    assert result["result"] == "ok" and result["restored"] is False


@pytest.mark.parametrize("params,needle", [
    (dict(key_tables=["x; DROP"]), "key_tables"),
    (dict(scratch_db="Prod"), "scratch_db"),
    (dict(scratch_db="postgres"), "is login_db"),
    (dict(min_rows=-1), "min_rows must be 0 or more"),
])
def test_refused_input_reads_nothing(tmp_path, params, needle):
    with pytest.raises(TaskError, match=needle) as err:
        run(dict(dict(path=dump(tmp_path)), **params), check_mode=False, driver=NO_DRIVER)
    assert "Nothing was read or restored" in err.value.msg
    assert err.value.result == {"stage": "input", "result": "failed"}


def test_a_missing_dump_fails_at_integrity(tmp_path):
    with pytest.raises(TaskError, match="does not exist") as err:
        run(dict(path=str(tmp_path / "none.sql")), check_mode=False, driver=NO_DRIVER)
    assert err.value.result["stage"] == "integrity"


def test_a_missing_pg_restore_names_where_it_looked(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    with pytest.raises(TaskError) as err:
        run(dict(path=dump(tmp_path, b"PGDMP\x01\x0e", "a.dump"), bin_dir=str(empty)), driver=NO_DRIVER)
    assert err.value.msg.startswith("backup verification of %s: pg_restore not found (looked in %s)" % (
        tmp_path / "a.dump", empty))
    assert err.value.result["kind"] == "custom"


def test_a_missing_driver_is_a_missing_library(tmp_path, monkeypatch):
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "psql").write_text("#!/bin/sh\nexit 0\n")
    (tools / "psql").chmod(0o755)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    with pytest.raises(TaskError) as err:
        run(dict(path=dump(tmp_path), key_tables=["tokens"], bin_dir=str(tools)), check_mode=False)
    assert err.value.library == "psycopg (or psycopg2)"
    assert err.value.reason == "to create the scratch database; or delegate_to a host that has it"
    assert "psycopg" in err.value.exception
