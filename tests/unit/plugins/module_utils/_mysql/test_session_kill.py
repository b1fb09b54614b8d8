"""KILL by integer id only, then wait until gone; 1094 counts as gone, 1095 as refused."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connect import mysql_error
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.session_filter import validate_filters
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.session_kill import kill_sessions, session_id


def row(ident, command="Sleep", time=700):
    return dict(id=ident, user="app", host="10.0.0.7", db="appdb", command=command, time=time, state="")


class FakeSession:
    """Selects `rows`; KILL removes a row unless its id is in `unknown` (1094) or `refused` (1095); `sticky` rows stay."""

    def __init__(self, rows, unknown=(), refused=(), sticky=()):
        self.rows = dict((r["id"], r) for r in rows)
        self.unknown, self.refused, self.sticky = set(unknown), set(refused), set(sticky)
        self.kills = []

    def query(self, sql, args=None, what=""):
        if sql.startswith("SELECT COUNT(*)"):
            return [{"n": len(self.rows) + 1}]
        if "WHERE p.ID IN" in sql:
            return [dict(r) for i, r in self.rows.items() if i in args]
        return [dict(r) for r in self.rows.values()]

    def execute(self, sql, args=None, what=""):
        assert sql == "KILL CONNECTION %s" and isinstance(args[0], int)
        self.kills.append(args[0])
        if args[0] in self.unknown:
            raise mysql_error("unknown", 1094)
        if args[0] in self.refused:
            raise mysql_error("(1095) You are not owner of thread %d" % args[0], 1095)
        if args[0] not in self.sticky:
            self.rows.pop(args[0], None)
        return 0


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += max(seconds, 0.001)


FLT = validate_filters(dict(users=["app"]))


def test_check_mode_kills_nothing():
    session = FakeSession([row(5), row(6)])
    result = kill_sessions(session, FLT, "killed", True, 10, diff=True)
    assert session.kills == [] and result["changed"] is True and result["count"] == 2 and result["gone"] == 0
    assert result["diff"] == {"before": "client_sessions: 3\nmatching: 2\n", "after": "client_sessions: 1\nmatching: 0\n"}


def test_kill_counts_vanished_sessions_as_gone():
    session = FakeSession([row(5), row(6)], unknown=[6])
    result = kill_sessions(session, FLT, "killed", False, 10)
    assert session.kills == [5, 6] and result["gone"] == 2 and result["changed"] is True and result["survived"] == []


def test_refused_kills_fail_naming_them_after_trying_all():
    session = FakeSession([row(5), row(6)], refused=[5])
    with pytest.raises(TaskError) as err:
        kill_sessions(session, FLT, "killed", False, 10)
    assert session.kills == [5, 6] and "refused to kill 1 of 2" in err.value.msg and "CONNECTION ADMIN" in err.value.msg
    assert [r["id"] for r in err.value.result["refused"]] == [5] and err.value.result["gone"] == 1


def test_survivors_fail_after_wait_timeout():
    session, clock = FakeSession([row(5), row(6)], sticky=[6]), Clock()
    with pytest.raises(TaskError) as err:
        kill_sessions(session, FLT, "killed", False, 2, sleep=clock.sleep, clock=clock)
    assert "1 of 2 killed sessions were still present after wait_timeout=2s (ids 6)" in err.value.msg
    assert clock.now >= 2 and [r["id"] for r in err.value.result["survived"]] == [6]


@pytest.mark.parametrize("bad", ["7", "7; DROP TABLE t", 0, -1, True, 7.0, None])
def test_a_kill_takes_a_positive_int_only(bad):
    with pytest.raises(TaskError):
        session_id(bad)
    assert session_id(7) == 7
