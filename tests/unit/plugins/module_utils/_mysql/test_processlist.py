"""The info picture: counts, groups and the longest-idle sessions, never a query text."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.processlist import summarize


def session(ident, user, host, db, command, time, own=False):
    return dict(id=ident, user=user, host=host, db=db, command=command, time=time, state="", own=own, info="secret")


def test_summarize():
    rows = [session(1, "app", "10.0.0.7", "connectorMCP", "Sleep", 900), session(2, "app", "10.0.0.8", "connectorMCP", "Sleep", 30),
            session(3, "report", "10.0.0.7", None, "Query", 12), session(4, "root", "127.0.0.1", None, "Sleep", 0, own=True)]
    info = summarize({"threads_connected": "4", "threads_running": "2", "max_used_connections": "9"},
                     {"max_connections": "8", "version": "10.11.6-MariaDB"}, rows)
    assert info["percent_used"] == 50.0 and info["available"] == 4 and info["max_used_connections"] == 9
    assert info["by_user"] == [{"name": "app", "count": 2}, {"name": "report", "count": 1}, {"name": "root", "count": 1}]
    assert info["by_database"][0] == {"name": "", "count": 2}
    assert [r["id"] for r in info["longest_idle"]] == [1, 2]  # never our own session
    assert [r["id"] for r in info["longest_running"]] == [3]
    assert "info" not in info["longest_running"][0] and info["extra_max_connections"] is None
