"""The info summary: counts against max_connections and the reserved slots, groups, idle in transaction, waits."""

from ansible_collections.mcpops.runbooks.plugins.module_utils.pg_activity import summarize

SETTINGS = dict(max_connections=100, superuser_reserved_connections=3, reserved_connections=2, server_version="16.4")


def session(pid, state="idle", user="app", db="appdb", addr="10.0.0.1", app="dash", xact=None, blocked=None, wait=None):
    return dict(pid=pid, user=user, database=db, client_addr=addr, application_name=app, state=state,
                state_seconds=float(pid), xact_seconds=xact, wait_event_type=wait, wait_event=None, blocked_by=blocked or [])


def test_summary():
    rows = [session(1), session(2, addr=None), session(3, state="idle in transaction", xact=50.0),
            session(4, state="idle in transaction", xact=80.0, user="report", app=""),
            session(5, state="active", blocked=[4], wait="Lock")]
    info = summarize(SETTINGS, rows)
    assert info["total"] == 5 and info["percent_used"] == 5.0 and info["available"] == 90
    assert info["by_state"] == [{"name": "idle", "count": 2}, {"name": "idle in transaction", "count": 2},
                                {"name": "active", "count": 1}]
    assert {"name": "local", "count": 1} in info["by_client_addr"]
    assert {"name": "", "count": 1} in info["by_application_name"]
    assert info["by_user"][0] == {"name": "app", "count": 4}
    assert info["oldest_idle_in_transaction"]["pid"] == 4
    assert info["oldest_idle_in_transaction"]["transaction_seconds"] == 80.0
    assert info["waiting"] == [dict(pid=5, user="app", database="appdb", application_name="dash", wait_event_type="Lock",
                                    wait_event=None, blocked_by=[4], waiting_seconds=5.0)]


def test_full_server_never_negative():
    info = summarize(SETTINGS, [session(i) for i in range(1, 101)])
    assert info["available"] == 0 and info["percent_used"] == 100.0 and info["oldest_idle_in_transaction"] is None
