"""redis_keys' run() in process against the real private Redis: input refused before connecting, check mode,
limit, only_without_ttl, TaskError messages without the password."""

import pytest

from redis_testbed import CANARY, admin, free_port, params

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.redis_keys_run import run

DB = 9


@pytest.fixture()
def client(server):
    c = admin(server, DB)
    c.flushdb()
    pipe = c.pipeline(transaction=False)
    for i in range(500):
        pipe.set("ratelimit:10.0.%d.%d" % (i % 4, i), 2, ex=300)
    for i in range(50):
        pipe.set("ratelimit:10.9.9.%d" % i, 9)
    pipe.set("keep", 1)
    pipe.execute()
    yield c
    c.flushdb()


def args(server, **extra):
    return dict(params(server, login_db=DB), pattern="ratelimit:*", **extra)


@pytest.mark.parametrize("extra,words", [
    (dict(pattern="*"), "no literal character"),
    (dict(pattern="ratelimit:["), "no closing"),
    (dict(state="expired"), "needs ttl"),
    (dict(state="expired", ttl=0), "ttl must be 1 or more"),
    (dict(scan_count=0), "scan_count must be 1 or more"),
    (dict(limit=0, state="absent"), "limit must be 1 or more"),
    (dict(group_by_segment=-1), "group_by_segment"),
    (dict(details=["type", "size"]), "details may hold only"),
    (dict(state="gone"), "state must be one of"),
])
def test_bad_input_is_refused_before_connecting(extra, words):
    with pytest.raises(TaskError) as err:  # nothing listens on this port: a refusal here never tried to connect
        run(dict(login_host="127.0.0.1", login_port=free_port(), login_password=CANARY, **dict(dict(pattern="x:*"), **extra)))
    assert words in err.value.msg and "Nothing was read or changed" in err.value.msg and CANARY not in err.value.msg


def test_check_mode_then_limit_then_the_rest(server, client):
    would = run(args(server, state="absent", only_without_ttl=True), check_mode=True, diff=True)
    assert would["changed"] and would["changed_keys"] == 50 and client.dbsize() == 551
    assert would["diff"]["before"] == "keys matching 'ratelimit:*' without a TTL: 50\n"
    part = run(args(server, state="absent", only_without_ttl=True, limit=20, scan_count=5))
    assert part["changed_keys"] == 20 and part["limit_reached"] and client.dbsize() == 531
    rest = run(args(server, state="absent", only_without_ttl=True))
    assert rest["changed_keys"] == 30 and not rest["limit_reached"] and client.dbsize() == 501
    again = run(args(server, state="absent", only_without_ttl=True))
    assert again["changed"] is False and again["matched"] == 0


def test_info_top_and_names_only(server, client):
    full = run(args(server, group_by_segment=1, top=2, sample=1))
    assert full["matched"] == 550 and full["without_ttl"] == 50 and len(full["sample"]) == 1
    assert full["top"][0]["keys"] == 1 and full["top_by_total"][0]["total"] == 9  # one key a client; leaks count 9
    assert full["top_by_total"][0]["client"].startswith("10.9.9.") and full["clients_counted"] == 550
    quick = run(args(server, details=[], group_by_segment=1))
    assert quick["matched"] == 550 and quick["clients_counted"] == 550 and quick["changed"] is False


def test_wrong_password_message(server, client):
    with pytest.raises(TaskError) as err:
        run(args(server, login_password=CANARY + "-bad"))
    assert "WRONGPASS" in err.value.msg and CANARY not in err.value.msg
