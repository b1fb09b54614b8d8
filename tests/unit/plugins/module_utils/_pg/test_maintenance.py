"""maintenance: the database name only ever as a quoted identifier, refused when it could not be one; the
statements in order, REINDEX only when asked."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.maintenance import quote_ident, statements


def test_quote_ident_doubles_quotes_and_refuses_what_cannot_be_a_name():
    assert quote_ident("cctelegram") == '"cctelegram"'
    assert quote_ident('x"; DROP DATABASE y; --') == '"x""; DROP DATABASE y; --"'
    for bad in ("", "a\nb", "a\x00", "x" * 64, None):
        with pytest.raises(TaskError, match="database must be"):
            quote_ident(bad)


def test_statements_vacuum_first_reindex_only_when_asked():
    assert statements("db", True, False) == [("VACUUM ANALYZE", "VACUUM (ANALYZE)")]
    assert statements("db", True, True) == [("VACUUM ANALYZE", "VACUUM (ANALYZE)"),
                                            ("REINDEX DATABASE db", 'REINDEX DATABASE "db"')]
    assert statements("db", False, False) == []
