"""The chain read a page at a time in id order, from a table whose name is checked before it goes into SQL."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._auditchain.chain_reader import check_table, records
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError


class Session:
    def __init__(self, ids):
        self.ids = ids
        self.calls = []

    def query(self, sql, args, what):
        self.calls.append((sql, args))
        after, limit = args[0], int(sql.rsplit("LIMIT", 1)[1])
        return [{"id": i} for i in self.ids if i > after][:limit]


def test_every_record_in_order_a_page_at_a_time():
    session = Session(list(range(1, 8)))
    assert [r["id"] for r in records(session, "audit_log", page=3)] == list(range(1, 8))
    assert [args for _sql, args in session.calls] == [(-1,), (3,), (6,)]
    assert "ts::text" in session.calls[0][0] and "FROM audit_log WHERE id > %s ORDER BY id" in session.calls[0][0]


def test_an_exact_multiple_of_the_page_ends_with_an_empty_page():
    session = Session([1, 2])
    assert [r["id"] for r in records(session, "audit_log", page=2)] == [1, 2]
    assert len(session.calls) == 2


@pytest.mark.parametrize("name", ["audit_log", "lego.audit_log"])
def test_plain_names_pass(name):
    assert check_table(name) == name


@pytest.mark.parametrize("name", ["audit_log; DROP TABLE x", "Audit", "a.b.c", "", "audit log", "1abc"])
def test_anything_else_is_refused(name):
    with pytest.raises(TaskError, match="not a plain identifier"):
        check_table(name)
