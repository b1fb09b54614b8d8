"""pg_connections and pg_connections_info through Ansible against a private PostgreSQL cluster (initdb/pg_ctl as `postgres`, 127.0.0.1,
max_connections 200) with real client sessions opened by the test: idle ones of two ages, idle in transaction,
a long active query, two application names, two users, a superuser, a unix-socket client. Every test reads
pg_stat_activity before and after and asserts that exactly the intended sessions are gone."""

import os
import subprocess
import time

import pytest

from loopback import free_port
from pg_testbed import (  # noqa: F401 (cluster, sessions, run_dir are fixtures)
    cluster,
    run_dir,
    sessions,
    CANARY,
    PASSWORDS,
    assert_no_canary,
    live_pids,
    login,
    run_module,
    wait_for,
)

MODULE = "mcpops.runbooks.pg_connections"
INFO = "mcpops.runbooks.pg_connections_info"
AGE = 6  # seconds the "old" sessions sit idle before a test runs; idle_for below is smaller
IDLE_FOR = "4s"


def open_mix(s):
    """The sessions of a connection exhaustion, old ones aged AGE seconds; young ones kept fresh."""
    for i in (1, 2, 3):
        s.open("old_dash_%d" % i)                              # app @ appdb, dashboard, idle
    s.open("old_dash_socket", tcp=False)                       # the same over the unix socket (no client_addr)
    s.open("old_report_1", user="report", app="reporter")
    s.open("old_report_2", user="report", db="otherdb", app="reporter")
    s.idle_in_transaction("tx_dash")                           # app, dashboard, idle in transaction
    s.open("old_dba", user="dba")                              # a superuser's idle dashboard session
    s.active("busy_report", user="report", db="otherdb", app="reporter")  # SELECT pg_sleep(600)
    time.sleep(AGE)
    s.open("young_dash_1")
    s.open("young_dash_2")
    s.keep_fresh("young_dash_1", "young_dash_2")


def pids(result):
    return sorted(r["pid"] for r in result["sessions"])


def run(run_dir, cluster, args, check=False, user="dba", password=None, python=None, module=MODULE):
    full = dict(login(cluster, user), **args)
    if module == MODULE:
        full.setdefault("wait_timeout", 60)
    return run_module(run_dir, module, full, PASSWORDS[user] if password is None else password, check=check, python=python)


def test_check_mode_lists_then_terminate_kills_exactly_the_old_idle_dashboard_sessions(cluster, sessions, run_dir):
    open_mix(sessions)
    expected = sessions.pids("old_dash_1", "old_dash_2", "old_dash_3", "old_dash_socket")
    args = dict(state="terminated", states=["idle"], idle_for=IDLE_FOR, application_names=["dashboard"])
    before = live_pids(cluster)

    checked, out1 = run(run_dir, cluster, args, check=True)
    assert checked["changed"] is True and not checked.get("failed"), checked
    assert pids(checked) == expected
    assert live_pids(cluster) == before, "check mode terminated something"

    done, out2 = run(run_dir, cluster, args)
    assert done["changed"] is True and not done.get("failed"), done
    assert pids(done) == expected
    assert done["survived"] == [] and done["gone"] == 4
    assert live_pids(cluster) == before - set(expected)
    socket_row = [r for r in done["sessions"] if r["pid"] == sessions.pid("old_dash_socket")][0]
    assert socket_row["client_addr"] is None and socket_row["user"] == "app" and socket_row["state"] == "idle"
    assert all(r["idle_seconds"] >= 4 for r in done["sessions"])

    again, out3 = run(run_dir, cluster, args)
    assert again["changed"] is False and again["sessions"] == []
    assert_no_canary(run_dir, out1, out2, out3)


def test_user_network_database_and_limit_filters(cluster, sessions, run_dir):
    open_mix(sessions)
    before = live_pids(cluster)

    one, _ = run(run_dir, cluster, dict(state="terminated", states=["idle"], users=["report"],
                                        client_addrs=["127.0.0.1/32"], databases=["otherdb"]))
    assert pids(one) == sessions.pids("old_report_2")
    assert live_pids(cluster) == before - {sessions.pid("old_report_2")}

    nothing, _ = run(run_dir, cluster, dict(state="terminated", client_addrs=["10.0.0.0/8", "2001:db8::/32"]))
    assert nothing["changed"] is False and nothing["sessions"] == []

    limited, _ = run(run_dir, cluster, dict(state="terminated", states=["idle"], idle_for=IDLE_FOR, users=["app"], limit=1))
    old_app = set(sessions.pids("old_dash_1", "old_dash_2", "old_dash_3", "old_dash_socket"))
    assert len(limited["sessions"]) == 1 and set(pids(limited)) <= old_app
    assert live_pids(cluster) == before - {sessions.pid("old_report_2")} - set(pids(limited))


def test_superuser_sessions_only_with_include_superusers(cluster, sessions, run_dir):
    open_mix(sessions)
    args = dict(state="terminated", users=["dba"], states=["idle"])
    before = live_pids(cluster)

    skipped, _ = run(run_dir, cluster, args)
    assert skipped["changed"] is False and skipped["sessions"] == []
    assert live_pids(cluster) == before

    done, _ = run(run_dir, cluster, dict(args, include_superusers=True))
    assert pids(done) == sessions.pids("old_dba")  # never the module's own session, though it is dba's too
    assert live_pids(cluster) == before - {sessions.pid("old_dba")}


def test_cancel_ends_the_query_and_keeps_the_session(cluster, sessions, run_dir):
    open_mix(sessions)
    before = live_pids(cluster)
    busy = sessions.pid("busy_report")

    done, _ = run(run_dir, cluster, dict(state="cancelled", states=["active"], users=["report"]))
    assert pids(done) == [busy] and done["survived"] == []
    assert live_pids(cluster) == before  # cancelled, not terminated
    wait_for(lambda: sessions.state(busy) == "idle", "the cancelled session to be idle")


def test_hostile_filter_values_only_filter(cluster, sessions, run_dir):
    with cluster.admin() as admin:
        admin.execute("CREATE ROLE \"zoë 🚀\" LOGIN PASSWORD '%s'" % PASSWORDS["app"])
    with cluster.admin("appdb") as admin:
        admin.execute("CREATE TABLE canary (x int)")
    PASSWORDS["zoë 🚀"] = PASSWORDS["app"]
    try:
        open_mix(sessions)
        sessions.open("quote_app", app="x'; DROP TABLE canary; --")
        sessions.open("unicode_user", user="zoë 🚀", db="appdb", app="dashboard")
        before = live_pids(cluster)

        hostile = ["x'; DROP TABLE canary; --", "dashboard' OR '1'='1", 'a"b); DROP DATABASE appdb; --', "\\'; --",
                   "ünïcødé 🚀", "%s", "%(users)s", "$1"]
        done, out = run(run_dir, cluster, dict(state="terminated", application_names=hostile))
        assert pids(done) == sessions.pids("quote_app"), done
        assert live_pids(cluster) == before - {sessions.pid("quote_app")}

        none, _ = run(run_dir, cluster, dict(state="terminated", users=["app'; DROP ROLE report; --", "' OR 1=1 --"],
                                             databases=["appdb; DROP DATABASE appdb", "ünï"]))
        assert none["changed"] is False and none["sessions"] == []

        uni, _ = run(run_dir, cluster, dict(state="terminated", users=["zoë 🚀"]))
        assert pids(uni) == sessions.pids("unicode_user") and uni["sessions"][0]["user"] == "zoë 🚀"
        assert live_pids(cluster) == before - set(sessions.pids("quote_app", "unicode_user"))

        with cluster.admin("appdb") as admin:
            assert admin.execute("SELECT to_regclass('public.canary') IS NOT NULL").fetchone()[0]
            assert admin.execute("SELECT count(*) FROM pg_roles WHERE rolname IN ('report', 'app')").fetchone()[0] == 2
            assert admin.execute("SELECT count(*) FROM pg_database WHERE datname = 'appdb'").fetchone()[0] == 1
        assert_no_canary(run_dir, out)
    finally:
        PASSWORDS.pop("zoë 🚀", None)


def test_info_counts_sources_idle_in_transaction_and_blocked(cluster, sessions, run_dir):
    with cluster.admin("appdb") as admin:
        admin.execute("CREATE TABLE IF NOT EXISTS locked (x int)")
        admin.execute("GRANT ALL ON locked TO app")
    open_mix(sessions)
    locker = sessions.idle_in_transaction("locker")
    locker.execute("LOCK TABLE locked IN ACCESS EXCLUSIVE MODE")
    sessions.active("blocked", sql="SELECT * FROM locked")
    live = live_pids(cluster)

    info, out = run(run_dir, cluster, {}, module=INFO)
    assert info["changed"] is False and not info.get("failed"), info
    assert info["max_connections"] == 200 and info["superuser_reserved_connections"] == 3
    assert info["total"] == len(live) + 1  # + the module's own session
    assert info["percent_used"] == round(100.0 * info["total"] / 200, 1)
    assert info["available"] == 200 - 3 - info["reserved_connections"] - info["total"]
    counts = {k: dict((g["name"], g["count"]) for g in info[k]) for k in ("by_application_name", "by_user", "by_client_addr", "by_database", "by_state")}
    assert counts["by_application_name"]["reporter"] == 3
    assert counts["by_user"]["report"] == 3 and counts["by_user"]["dba"] == 2  # old_dba + the module
    assert counts["by_client_addr"]["local"] == 1
    assert counts["by_database"]["otherdb"] == 2
    assert counts["by_state"]["idle in transaction"] == 2
    assert info["oldest_idle_in_transaction"]["pid"] == sessions.pid("tx_dash")
    blocked = [w for w in info["waiting"] if w["pid"] == sessions.pid("blocked")]
    assert blocked and blocked[0]["blocked_by"] == [sessions.pid("locker")] and blocked[0]["wait_event_type"] == "Lock"
    assert live_pids(cluster) == live
    assert_no_canary(run_dir, out)


def test_refusals_before_anything_is_touched(cluster, sessions, run_dir):
    open_mix(sessions)
    before = live_pids(cluster)
    no_filter, out1 = run(run_dir, cluster, dict(state="terminated", exclude_users=["dba"], limit=5))
    assert no_filter["failed"] and "refused: no filter" in no_filter["msg"] and "all_matching" in no_filter["msg"]
    bad_net, out2 = run(run_dir, cluster, dict(state="terminated", client_addrs=["10.0.0.0/33"]))
    assert bad_net["failed"] and "10.0.0.0/33" in bad_net["msg"]
    bad_age, out3 = run(run_dir, cluster, dict(state="terminated", idle_for="ten minutes"))
    assert bad_age["failed"] and "idle_for" in bad_age["msg"]
    assert live_pids(cluster) == before
    assert_no_canary(run_dir, out1, out2, out3)


def test_unreachable_server_is_named(cluster, run_dir):
    port = free_port()
    result, out = run(run_dir, cluster, dict(login_port=port), module=INFO)
    assert result["failed"]
    assert "could not connect as user dba to database postgres at 127.0.0.1:%d" % port in result["msg"]
    assert "pg_isready" in result["msg"]
    assert_no_canary(run_dir, out)


def test_wrong_password_is_named_and_never_shown(cluster, run_dir):
    result, out = run(run_dir, cluster, {}, user="app", password=CANARY + "-wrong", module=INFO)
    assert result["failed"]
    assert "password authentication failed" in result["msg"] and "check login_password for role app" in result["msg"]
    assert_no_canary(run_dir, out)


def test_missing_driver_says_which_library(cluster, run_dir):
    python = "/usr/bin/python3"
    probe = subprocess.run([python, "-c", "import psycopg"], capture_output=True)
    probe2 = subprocess.run([python, "-c", "import psycopg2"], capture_output=True)
    if not os.path.exists(python) or probe.returncode == 0 or probe2.returncode == 0:
        pytest.skip("%s has a PostgreSQL driver (or is missing): no interpreter without one to run the module with" % python)
    result, out = run(run_dir, cluster, {}, python=python, module=INFO)
    assert result["failed"]
    assert "Failed to import the required Python library (psycopg (or psycopg2))" in result["msg"]
    assert "delegate_to" in result["msg"]
    assert_no_canary(run_dir, out)
