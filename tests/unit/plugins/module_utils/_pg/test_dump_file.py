"""Dump integrity without a server: the kind from the first bytes, plain dumps read to the end, their tables listed."""

import gzip
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.dump_file import (
    DumpError,
    check_integrity,
    dump_kind,
    file_facts,
)

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



def test_file_facts(tmp_path):
    path = write(tmp_path, "a.sql", PLAIN)
    os.utime(path, (0, 86400 + 61))
    assert file_facts(path) == {"size_bytes": len(PLAIN), "modified": "1970-01-02T00:01:01Z"}


def test_an_unreadable_archive_names_pg_restore_and_its_words(tmp_path):
    fake = tmp_path / "pg_restore"
    fake.write_text("#!/bin/sh\necho 'pg_restore: error: input file appears to be truncated' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(DumpError, match="table of contents is unreadable") as err:
        check_integrity(write(tmp_path, "a.dump", b"PGDMP\x01\x0e"), "custom", str(fake), timeout=30)
    assert "input file appears to be truncated" in err.value.msg and err.value.stage == "integrity"
