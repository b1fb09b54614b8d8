"""Signal then wait: all sessions polled together, bounded by wait_timeout, pid reuse not taken for a survivor."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.session_filter import validate_filters
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.session_signal import signal_sessions


def row(pid, state="idle", start="2026-01-01 00:00:00+00", query_start="q0", signalled=True):
    return dict(pid=pid, user="app", database="appdb", client_addr="127.0.0.1", application_name="dash", state=state,
                idle_seconds=700.0, backend_start=start, query_start=query_start, signalled=signalled)


class FakeSession:
    """Answers the select-and-signal statement, then one poll answer after another."""

    def __init__(self, selected, polls):
        self.selected = selected
        self.polls = list(polls)
        self.statements = []

    def query(self, sql, args=None, what=""):
        self.statements.append((sql, args))
        if "WITH target" in sql:
            return self.selected
        return self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


FLT = validate_filters({"states": ["idle"]})


def test_waits_until_every_session_is_gone():
    clock = Clock()
    session = FakeSession([row(1), row(2)], [[row(1), row(2)], [row(2)], []])
    result = signal_sessions(session, FLT, "terminated", False, 30, clock.sleep, clock)
    assert result["changed"] and result["gone"] == 2 and result["survived"] == []
    assert [r["pid"] for r in result["sessions"]] == [1, 2]
    assert session.statements[0][1]["action"] == "terminate"
    assert len(session.statements) == 4  # one statement + three polls, each for both pids at once
    assert session.statements[1][1] == {"pids": [1, 2]}


def test_check_mode_signals_nothing_and_does_not_wait():
    session = FakeSession([row(1, signalled=None)], [[row(1)]])
    result = signal_sessions(session, FLT, "terminated", True, 30)
    assert session.statements[0][1]["action"] == "none" and len(session.statements) == 1
    assert result["changed"] and result["count"] == 1 and result["gone"] == 0


def test_survivors_fail_after_the_timeout_and_are_listed():
    clock = Clock()
    session = FakeSession([row(1), row(2)], [[row(2)]])
    with pytest.raises(TaskError) as err:
        signal_sessions(session, FLT, "terminated", False, 2, clock.sleep, clock)
    assert "1 of 2 terminated sessions were still present after wait_timeout=2s (pids 2)" in err.value.msg
    assert [r["pid"] for r in err.value.result["survived"]] == [2]
    assert 2 <= clock.now < 3


def test_a_reused_pid_is_not_a_survivor():
    session = FakeSession([row(7)], [[row(7, start="2026-01-01 00:05:00+00")]])
    result = signal_sessions(session, FLT, "terminated", False, 5)
    assert result["survived"] == [] and result["gone"] == 1


def test_cancel_waits_for_the_query_not_the_session():
    clock = Clock()
    session = FakeSession([row(3, state="active")], [[row(3, state="active")], [row(3, state="idle")]])
    result = signal_sessions(session, validate_filters({"states": ["active"]}), "cancelled", False, 30, clock.sleep, clock)
    assert session.statements[0][1]["action"] == "cancel" and result["survived"] == []


def test_sessions_gone_before_the_signal_are_not_waited_for():
    session = FakeSession([row(4, signalled=False)], [[]])
    result = signal_sessions(session, FLT, "terminated", False, 5)
    assert result["count"] == 1 and result["gone"] == 0 and len(session.statements) == 1
    assert result["changed"] is False  # nothing was signalled
