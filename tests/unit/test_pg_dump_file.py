"""Dump integrity without a server: the kind from the first bytes, plain dumps read to the end, key tables named."""

import gzip

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils.pg_dump_file import DumpError, check_integrity, dump_kind
from ansible_collections.mcpops.runbooks.plugins.module_utils.pg_dump_verify_task import DumpVerifyError, run_dump_verify
from ansible_collections.mcpops.runbooks.plugins.module_utils.pg_scratch_restore import check_scratch_name, parse_key_table

PLAIN = b"""--
-- PostgreSQL database dump
--
SET statement_timeout = 0;
CREATE TABLE public.tokens (
    id integer NOT NULL
);
CREATE UNLOGGED TABLE audit."Events" (
    x text
);
COPY public.tokens (id) FROM stdin;
1
\\.
--
-- PostgreSQL database dump complete
--
"""


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_kinds(tmp_path):
    assert dump_kind(write(tmp_path, "a.dump", b"PGDMP\x01\x0e")) == "custom"
    assert dump_kind(write(tmp_path, "a.sql.gz", gzip.compress(PLAIN))) == "plain.gz"
    assert dump_kind(write(tmp_path, "a.tar", b"x" * 257 + b"ustar\x0000" + b"\0" * 200)) == "tar"
    assert dump_kind(write(tmp_path, "a.sql", PLAIN)) == "plain"
    with pytest.raises(DumpError, match="empty"):
        dump_kind(write(tmp_path, "empty.sql", b""))


def test_plain_dump_tables_and_trailer(tmp_path):
    facts = check_integrity(write(tmp_path, "a.sql", PLAIN), "plain")
    assert facts.tables == ["audit.Events", "public.tokens"]
    facts = check_integrity(write(tmp_path, "a.sql.gz", gzip.compress(PLAIN)), "plain.gz")
    assert facts.kind == "plain.gz" and facts.tables == ["audit.Events", "public.tokens"]


def test_truncated_plain_dumps(tmp_path):
    with pytest.raises(DumpError, match="trailer"):
        check_integrity(write(tmp_path, "cut.sql", PLAIN[: len(PLAIN) // 2]), "plain")
    packed = gzip.compress(PLAIN * 50)
    with pytest.raises(DumpError, match="does not decompress to its end"):
        check_integrity(write(tmp_path, "cut.sql.gz", packed[: len(packed) - 20]), "plain.gz")


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


def test_missing_key_table_fails_at_integrity_before_any_connection(tmp_path):
    path = write(tmp_path, "a.sql", PLAIN)
    with pytest.raises(DumpVerifyError) as err:
        run_dump_verify(dict(path=path, key_tables=["tokens", "clients"]), check_mode=False,
                        driver=("psycopg", object()))  # any connection attempt would raise
    assert "key table(s) public.clients not in the dump" in err.value.msg
    assert err.value.result["stage"] == "integrity" and err.value.result["kind"] == "plain"


def test_check_mode_checks_integrity_only(tmp_path):
    result = run_dump_verify(dict(path=write(tmp_path, "a.sql", PLAIN), key_tables=["tokens"]), check_mode=True,
                             driver=("psycopg", object()))
    assert result["result"] == "integrity_ok" and result["restored"] is False and result["scratch_db"] is None


@pytest.mark.parametrize("params,needle", [
    (dict(key_tables=["x; DROP"]), "key_tables"),
    (dict(scratch_db="Prod"), "scratch_db"),
    (dict(scratch_db="postgres"), "is login_db"),
    (dict(path="/nonexistent/dump.sql"), "does not exist"),
])
def test_refusals(tmp_path, params, needle):
    full = dict(dict(path=write(tmp_path, "a.sql", PLAIN)), **params)
    with pytest.raises(DumpVerifyError, match=needle):
        run_dump_verify(full, check_mode=False, driver=("psycopg", object()))
