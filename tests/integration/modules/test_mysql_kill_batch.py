"""_mysql/connect.MysqlSession.run_batch against a private MariaDB: a thousand-KILL text in one round trip records a
statement's tolerated error (1094: the session is already gone) and still runs the ones after it; an error not
tolerated stops the batch there; multi-statements are off again afterwards, so a stacked statement in one
execute() is refused as before."""

import pymysql
import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.connect import UNKNOWN_THREAD, connect
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.errors import MysqlError
from loopback import free_port
from mcpops.lab.fixtures.mariadb_server import MariaDbServer


@pytest.fixture(scope="module")
def server():
    srv = MariaDbServer(free_port()).start()
    try:
        admin = srv.admin()
        with admin.cursor() as cur:
            cur.execute("CREATE USER root@'127.0.0.1' IDENTIFIED BY %s", (srv.root_password,))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION")
            cur.execute("CREATE USER app@'127.0.0.1' IDENTIFIED BY 'app-pw'")
        admin.close()
        yield srv
    finally:
        srv.stop()


def params(srv):
    return dict(login_host="127.0.0.1", login_port=srv.port, login_user="root", login_password=srv.root_password)


def sessions(srv, count):
    return [pymysql.connect(host="127.0.0.1", port=srv.port, user="app", password="app-pw", ssl_disabled=True)
            for _ in range(count)]


def present(session, ids):
    rows = session.query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE ID IN (%s)"
                         % ", ".join("%d" % i for i in ids))
    return {row["id"] for row in rows}


def test_a_gone_session_in_the_middle_is_recorded_and_the_rest_still_killed(server):
    conns = sessions(server, 4)
    ids = [c.thread_id() for c in conns]
    try:
        with connect(params(server)) as session:
            texts = ["KILL CONNECTION %d" % i for i in ids[:2]] + ["KILL CONNECTION 99999999"] + [
                "KILL CONNECTION %d" % i for i in ids[2:]]
            failed = session.run_batch(texts, "KILL CONNECTION", (UNKNOWN_THREAD,))
            assert [(index, exc.errno) for index, exc in failed] == [(2, UNKNOWN_THREAD)]
            for _ in range(200):
                if not present(session, ids):
                    break
            assert present(session, ids) == set()
            # multi-statements are off again: a stacked statement is refused, not run
            with pytest.raises(MysqlError):
                session.query("SELECT 1; SELECT 2")
    finally:
        for conn in conns:
            try:
                conn.close()
            except Exception:
                pass


def test_an_error_not_tolerated_stops_the_batch_there(server):
    conns = sessions(server, 2)
    ids = [c.thread_id() for c in conns]
    try:
        with connect(params(server)) as session:
            with pytest.raises(MysqlError) as caught:
                session.run_batch(["KILL CONNECTION %d" % ids[0], "KILL CONNECTION 99999999",
                                   "KILL CONNECTION %d" % ids[1]], "KILL CONNECTION", ())
            assert caught.value.errno == UNKNOWN_THREAD
            assert ids[1] in present(session, ids)  # the statement after the error never ran
            assert session.query("SELECT 1 AS one") == [{"one": 1}]  # the session is still usable
    finally:
        for conn in conns:
            try:
                conn.close()
            except Exception:
                pass
