"""redis_keys and redis_keys_info run for real through ansible-playbook -vvv against a private Redis (mcpops.lab.fixtures.redis_server)
whose default user has a password (requirepass, a canary) and an ACL user `ops` limited to ratelimit:* keys (its
password a canary too). The keyspace is the rate limit storm of the runbook plus keys it must never touch: counters
with and without a TTL, a hash, a non-integer value, keys with spaces, quotes, a newline and bytes that are not
UTF-8, and other:* keys. Every change is checked against the keyspace read by redis-py before and after (each key,
its type, its value and its absolute expiry, PEXPIRETIME, so that time passing changes nothing); check mode must
leave it identical. No canary may appear in the output, the results or the incident report."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from loopback import free_port
from mcpops.lab.fixtures.redis_server import RedisServer
from ansible_collections.mcpops.runbooks.plugins.module_utils._redis.key_text import key_bytes

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
CANARY = "CANARY-redis-" + secrets.token_hex(8)
OPS_PASSWORD = CANARY + "-ops"
ODD = [b"ratelimit:with space", b"ratelimit:quo\"te'", b"ratelimit:new\nline", b"ratelimit:bad\xff\xfeutf8",
       b"ratelimit:back\\slash\\x41", "ratelimit:ünï🚀".encode()]

pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook not in the venv")


@pytest.fixture(scope="module")
def server():
    srv = RedisServer(free_port()).start()
    try:
        admin = redis.Redis(host="127.0.0.1", port=srv.port)
        admin.config_set("requirepass", CANARY)
        admin = redis.Redis(host="127.0.0.1", port=srv.port, password=CANARY)
        admin.acl_setuser("ops", enabled=True, passwords=["+" + OPS_PASSWORD], keys=["ratelimit:*"], commands=["+@all"])
        yield srv
    finally:
        srv.stop()


@pytest.fixture()
def db(server):
    """A fresh keyspace in db 3: the storm and its bystanders."""
    client = redis.Redis(host="127.0.0.1", port=server.port, password=CANARY, db=3)
    client.flushdb()
    pipe = client.pipeline(transaction=False)
    pipe.set("ratelimit:127.0.0.77", 400, ex=600)              # the storm's client, with its window
    for i in range(30):
        pipe.set("ratelimit:10.0.0.%d" % i, i % 5 + 1, ex=600)   # ordinary clients
    for i in range(12):
        pipe.set("ratelimit:10.9.9.%d" % i, 7)                  # leaked counters: no TTL
    pipe.set("ratelimit:10.0.0.3:1700000000", 50, ex=600)     # a per-window key of client 10.0.0.3
    pipe.set("ratelimit:notanumber", "abc", ex=600)
    pipe.hset("ratelimit:hash", "f", "v")
    for raw in ODD:
        pipe.set(raw, 1)                                        # odd names, no TTL
    for i in range(25):
        pipe.set("other:%d" % i, "keep", ex=900)
        pipe.set("ratelimitx:%d" % i, "keep")                   # not matched by ratelimit:*
    pipe.execute()
    yield client
    client.flushdb()


def keyspace(client):
    """Every key of the db: (type, value, absolute expiry in ms or -1)."""
    out = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        value = client.get(key) if kind == "string" else client.hgetall(key)
        out[key] = (kind, value, client.execute_command("PEXPIRETIME", key))
    return out


def ansible_env(report_dir):
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0",
               MCPOPS_REPORT_DIR=str(report_dir), PATH="%s:%s" % (BIN, env.get("PATH", "")))
    return env


def run_play(workdir, server, tasks, *flags):
    """One play of redis_keys tasks (each a dict of options, `_module` redis_keys_info for a read; connection options
    added, passwords from a 0600 vars file), -vvv. Returns ([result a task], all text the run wrote)."""
    vars_file = workdir / "secret-vars.json"
    fd = os.open(str(vars_file), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"redis_password": CANARY, "ops_password": OPS_PASSWORD}, handle)
    results = workdir / "results.json"
    play_tasks = []
    for n, options in enumerate(tasks):
        options = dict(options)
        check = options.pop("_check", False)
        module = options.pop("_module", "redis_keys")
        args = dict(login_host="127.0.0.1", login_port=server.port, login_db=3,
                    login_password="{{ redis_password }}")
        args.update(options)
        play_tasks.append({"name": "%s %d" % (module, n), "mcpops.runbooks." + module: args, "register": "r%d" % n,
                           "check_mode": check, "ignore_errors": True, "diff": True})
    play_tasks.append({
        "name": "Keep the results",
        "ansible.builtin.copy": {"dest": str(results), "mode": "0600",
                                 "content": "{{ [%s] | to_json }}" % ", ".join("r%d" % n for n in range(len(tasks)))},
        "check_mode": False,
    })
    play = [{"name": "redis_keys against a private Redis", "hosts": "localhost", "gather_facts": False,
             "vars": {"ansible_python_interpreter": sys.executable,
                      "mcpops_runbook": {"id": "redis-keys-test", "incident": None, "title": "redis_keys test",
                                         "purpose": "the module through ansible-playbook", "changes": True}},
             "tasks": play_tasks}]
    playbook = workdir / "play.yml"
    playbook.write_text(json.dumps(play))
    report_dir = workdir / "report"
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook), "-e", "@%s" % vars_file,
           "-vvv"]
    proc = subprocess.run(cmd + list(flags), cwd=str(workdir), env=ansible_env(report_dir), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    texts = [proc.stdout, proc.stderr, results.read_text()]
    texts += [p.read_text(errors="replace") for p in sorted(report_dir.rglob("*")) if p.is_file()]
    text = "\n".join(texts)
    assert CANARY not in text, "a password reached the output, the results or the report"
    return json.loads(results.read_text()), text


def ok(result):
    assert not result.get("failed"), result.get("msg", result)
    return result


MATCHED = 1 + 30 + 12 + 1 + 1 + 1 + len(ODD)  # every ratelimit:* key


INFO = "redis_keys_info"


def test_info_counts_ttls_top_clients_and_odd_names(tmp_path, server, db):
    before = keyspace(db)
    (info, names, leak, ops, star, old), text = run_play(tmp_path, server, [
        dict(_module=INFO, pattern="ratelimit:*", group_by_segment=1, top=3, sample=100),
        dict(_module=INFO, pattern="ratelimit:*", details=[], group_by_segment=1, top=2, sample=5, scan_count=7),
        dict(_module=INFO, pattern="ratelimit:*", only_without_ttl=True, details=[], sample=100, _check=True),
        dict(_module=INFO, pattern="ratelimit:127.*", login_user="ops", login_password="{{ ops_password }}"),
        dict(_module=INFO, pattern="*"),
        dict(pattern="ratelimit:127.*", state="info"),  # the deprecated way, until 2.0.0
    ])
    assert keyspace(db) == before
    ok(info)
    assert info["changed"] is False and info["matched"] == MATCHED and "deprecations" not in info
    assert info["types"] == {"string": MATCHED - 1, "hash": 1}
    assert info["without_ttl"] == 12 + 1 + len(ODD) and info["with_ttl"] == MATCHED - info["without_ttl"]
    assert info["ttl_min"] > 500 and info["ttl_max"] <= 600
    assert info["top"][0] == {"client": "10.0.0.3", "keys": 2, "total": 4 + 50}
    assert info["top_by_total"][0] == {"client": "127.0.0.77", "keys": 1, "total": 400}
    assert info["top_by_total"][1] == {"client": "10.0.0.3", "keys": 2, "total": 54}
    assert len(info["sample"]) == MATCHED and info["server_version"].startswith(("6.", "7.", "8."))
    by_key = {key_bytes(s["key"]): s for s in info["sample"]}
    assert set(by_key) == {k for k in before if k.startswith(b"ratelimit:")}
    assert set(ODD) <= set(by_key)  # every odd name survives the text round trip
    assert by_key[b"ratelimit:127.0.0.77"]["value"] == 400 and by_key[b"ratelimit:notanumber"]["value"] is None
    assert by_key[b"ratelimit:hash"]["type"] == "hash" and by_key[b"ratelimit:hash"]["ttl"] == -1
    assert "\\xff\\xfe" in by_key[b"ratelimit:bad\xff\xfeutf8"]["key"]

    ok(names)
    assert names["matched"] == MATCHED and "types" not in names and "with_ttl" not in names
    assert names["top"][0] == {"client": "10.0.0.3", "keys": 2, "total": None} and len(names["sample"]) == 5

    ok(leak)
    assert leak["details"] == ["ttl"] and leak["matched"] == 12 + 1 + len(ODD) and leak["with_ttl"] == 0
    assert {key_bytes(s["key"]) for s in leak["sample"]} == {k for k, v in before.items()
                                                             if k.startswith(b"ratelimit:") and v[2] == -1}
    ok(ops)
    assert ops["matched"] == 1 and ops["sample"][0]["value"] == 400
    assert star["failed"] and "no literal character" in star["msg"] and "force=true" in star["msg"]
    ok(old)
    assert old["matched"] == 1 and old["changed"] is False and "changed_keys" not in old
    assert [d["version"] for d in old["deprecations"]] == ["2.0.0"] and INFO in old["deprecations"][0]["msg"]


def test_check_mode_changes_nothing_then_absent_deletes_exactly_the_matches_once(tmp_path, server, db):
    before = keyspace(db)
    matched = {k for k in before if k.startswith(b"ratelimit:")}
    (would_del, would_exp, would_leak), _ = run_play(tmp_path, server, [
        dict(pattern="ratelimit:*", state="absent", _check=True),
        dict(pattern="ratelimit:*", state="expired", ttl=60, _check=True),
        dict(pattern="ratelimit:*", state="expired", ttl=60, only_without_ttl=True, _check=True, details=[]),
    ])
    assert keyspace(db) == before, "check mode changed the keyspace"
    assert ok(would_del)["changed"] is True and would_del["changed_keys"] == MATCHED
    assert "%d (%d deleted)" % (0, MATCHED) in would_del["diff"]["after"]
    assert ok(would_exp)["changed_keys"] == MATCHED  # every TTL is 600 s or none: all would expire sooner
    assert ok(would_leak)["changed_keys"] == 12 + 1 + len(ODD)

    (first, second), _ = run_play(tmp_path, server, [
        dict(pattern="ratelimit:*", state="absent", sample=100),
        dict(pattern="ratelimit:*", state="absent"),
    ])
    assert ok(first)["changed"] is True and first["changed_keys"] == MATCHED
    assert {key_bytes(k) for k in first["changed_sample"]} == matched
    assert ok(second)["changed"] is False and second["changed_keys"] == 0 and second["matched"] == 0
    assert keyspace(db) == {k: v for k, v in before.items() if k not in matched}


def test_expired_gives_leaked_counters_a_ttl_idempotently_and_limit_caps_changes(tmp_path, server, db):
    before = keyspace(db)
    leaked = {k for k, v in before.items() if k.startswith(b"ratelimit:10.9.9.")}
    (first, again, limited), _ = run_play(tmp_path, server, [
        dict(pattern="ratelimit:10.9.9.*", state="expired", ttl=120, only_without_ttl=True),
        dict(pattern="ratelimit:10.9.9.*", state="expired", ttl=120, only_without_ttl=True),
        dict(pattern="ratelimit:10.0.0.*", state="absent", limit=5, details=[]),
    ])
    assert ok(first)["changed"] is True and first["changed_keys"] == 12
    assert ok(again)["changed"] is False and again["changed_keys"] == 0 and again["matched"] == 0
    assert ok(limited)["changed_keys"] == 5 and limited["limit_reached"] is True and limited["matched"] == 31
    after = keyspace(db)
    for key in leaked:
        assert 0 < after[key][2] and after[key][:2] == before[key][:2]
    deleted = {key_bytes(k) for k in limited["changed_sample"]}
    assert len(deleted) == 5 and all(k.startswith(b"ratelimit:10.0.0.") for k in deleted)
    untouched = {k: v for k, v in before.items() if k not in leaked and k not in deleted}
    assert {k: after[k] for k in untouched} == untouched and set(after) == set(before) - deleted

    # a shorter ttl lowers the longer ones, a longer one changes nothing (never lengthens a key's life)
    (longer, shorter), _ = run_play(tmp_path, server, [
        dict(pattern="other:*", state="expired", ttl=3600),
        dict(pattern="other:*", state="expired", ttl=300),
    ])
    assert ok(longer)["changed"] is False and ok(shorter)["changed_keys"] == 25
    assert all(0 < db.ttl("other:%d" % i) <= 300 for i in range(25))


def test_refusals_and_a_wrong_password_touch_nothing_and_say_why(tmp_path, server, db):
    before = keyspace(db)
    results, text = run_play(tmp_path, server, [
        dict(pattern="*", state="absent"),
        dict(pattern="[a-z]*", state="absent"),
        dict(pattern="ratelimit:[0-9", state="absent"),
        dict(pattern="ratelimit:*", state="absent", login_password=CANARY + "-wrong"),
        dict(pattern="ratelimit:*", state="absent", login_user="ops", login_password="{{ redis_password }}"),
        dict(pattern="other:*", state="absent", login_user="ops", login_password="{{ ops_password }}"),
        dict(pattern="ratelimit:*", login_port=free_port(), connect_timeout=5),
    ])
    star, klass, unclosed, wrong, wrong_user, noperm, refused = results
    assert keyspace(db) == before
    assert star["failed"] and "no literal character" in star["msg"] and "force=true" in star["msg"]
    assert klass["failed"] and "'[a-z]*' is refused" in klass["msg"]
    assert unclosed["failed"] and "no closing ']'" in unclosed["msg"]
    assert wrong["failed"] and "AUTH" in wrong["msg"] and "check login_password" in wrong["msg"]
    assert wrong_user["failed"] and "as user ops" in wrong_user["msg"] and "WRONGPASS" in wrong_user["msg"]
    assert noperm["failed"] and "NOPERM" in noperm["msg"] and "ACL" in noperm["msg"]
    assert refused["failed"] and "nothing listens there" in refused["msg"]
    assert "Redis at 127.0.0.1:%d db 3" % server.port in wrong["msg"]
    assert CANARY not in text


def test_force_allows_a_match_all_pattern(tmp_path, server, db):
    before = keyspace(db)
    (checked,), _ = run_play(tmp_path, server, [dict(pattern="*", state="absent", force=True, _check=True)])
    assert ok(checked)["changed_keys"] == len(before) and keyspace(db) == before
