"""The info summary: counts against max_connections and the reserved slots, groups, idle in transaction, waits."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.activity import activity_info, count_by, summarize

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


class Session:
    """Answers the settings read, then the sessions read, and records what each was for."""

    def __init__(self, rows):
        self.rows, self.what = rows, []

    def query(self, sql, args=None, what="query"):
        self.what.append(what)
        return [SETTINGS] if "max_connections" in sql else self.rows


def test_activity_info_reads_settings_then_sessions():
    fake = Session([session(1), session(2, addr=None)])
    info = activity_info(fake)
    assert fake.what == ["reading max_connections", "reading pg_stat_activity"]
    assert info["total"] == 2 and info["by_client_addr"] == [{"name": "10.0.0.1", "count": 1}, {"name": "local", "count": 1}]


def test_count_by_most_first_then_by_name():
    rows = [{"k": "b"}, {"k": "a"}, {"k": "b"}, {"k": None}]
    assert count_by(rows, "k", "none") == [{"name": "b", "count": 2}, {"name": "a", "count": 1},
                                           {"name": "none", "count": 1}]
