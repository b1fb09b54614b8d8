"""token_revoke and mcp_token run for real through ansible-playbook against the reference gateway (a real
process on 127.0.0.1 with a seeded data dir), plus a loopback stub for a gateway that answers 500 or hangs.

Every run: the admin token goes in a 0600 extra-vars file, never on the command line, and neither it nor a
new token's secret may appear in ansible's output. Token changes are checked by listing every token through
the API before and after and comparing."""

import json
import os
import stat
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gateway_process import gateway_factory  # noqa: F401 (fixture)
from mcpops.lab.seed import seed_data_dir

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
ADMIN = "adm-CANARY-" + "Z9y8X7w6" * 4

pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook not in the venv")


# ---------------------------------------------------------------------------- gateway and API helpers


@pytest.fixture
def seeded(tmp_path):
    data = tmp_path / "data"
    result = seed_data_dir(str(data), rng_seed=11)
    result["data_dir"] = str(data)
    return result


@pytest.fixture
def gw(seeded, gateway_factory):  # noqa: F811
    return gateway_factory(seeded["data_dir"], admin_token=ADMIN, secrets=[seeded["ops_token_secret"]])


def all_tokens(gw):
    """{id: record} of every token, following nextCursor."""
    out, cursor = {}, None
    while True:
        path = "/api/mcp-tokens?limit=100" + ("&cursor=" + cursor if cursor else "")
        r = gw.request("GET", path)
        assert r.status == 200, r
        for t in r.json["tokens"]:
            out[t["id"]] = t
        cursor = r.json["nextCursor"]
        if not cursor:
            return out


def changed_ids(before, after):
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def revoked_lines(gw):
    with open(os.path.join(gw.data_dir, "audit.jsonl")) as fh:
        return [line for line in fh if '"token.revoked"' in line]


def is_active(t):
    return not t["revokedAt"] and not (t.get("expiresAt") and t["expiresAt"] <= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


# ---------------------------------------------------------------------------- ansible runner


def ansible_env():
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_LOCALHOST_WARNING="0", PATH="%s:%s" % (BIN, env.get("PATH", "")), no_proxy="127.0.0.1,localhost")
    env.pop("ONEC_MCP_HTTP_TOKEN", None)
    return env


class Runner:
    """Writes a playbook per call (tasks run with ignore_errors so each reports); the admin token is in a
    0600 extra-vars file. `secrets` collects every secret that must never show in ansible's output."""

    def __init__(self, workdir, api_url, admin=ADMIN):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.api_url = api_url
        self.secrets = [admin]
        self.count = 0
        self.vars_file = self.workdir / "secret-vars.json"
        fd = os.open(str(self.vars_file), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"api_token": admin}, fh)
        self.outputs = []

    def run(self, tasks, check=False, diff=False):
        """tasks: [(module, args)]; returns the host result of each task, in order."""
        self.count += 1
        play_tasks = []
        for n, (module, args) in enumerate(tasks):
            args = dict(args)
            args.setdefault("api_url", self.api_url)
            args.setdefault("api_token", "{{ api_token }}")
            play_tasks.append({"name": "t%d" % n, "mcpops.runbooks.%s" % module: args, "ignore_errors": True})
        play = [{"hosts": "localhost", "gather_facts": False,
                 "vars": {"ansible_python_interpreter": sys.executable}, "tasks": play_tasks}]
        playbook = self.workdir / ("play-%02d.yml" % self.count)
        playbook.write_text(json.dumps(play))
        cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook), "-e", "@%s" % self.vars_file]
        cmd += ["--check"] if check else []
        cmd += ["--diff"] if diff else []
        proc = subprocess.run(cmd, cwd=str(self.workdir), env=ansible_env(), capture_output=True, text=True, timeout=300)
        self.outputs.append(proc.stdout + proc.stderr)
        self.assert_no_secret()
        doc = json.loads(proc.stdout[proc.stdout.index("{"):])
        results = [t["hosts"]["localhost"] for t in doc["plays"][0]["tasks"]]
        assert len(results) == len(tasks), proc.stdout[-3000:]
        return results

    def one(self, module, check=False, diff=False, **args):
        return self.run([(module, args)], check=check, diff=diff)[0]

    def assert_no_secret(self):
        for out in self.outputs:
            for secret in self.secrets:
                assert secret not in out, "a secret leaked into ansible's output"


@pytest.fixture
def runner(tmp_path, gw):
    return Runner(tmp_path / "ansible", "http://127.0.0.1:%d" % gw.port)


def ok(result):
    assert not result.get("failed"), json.dumps(result, indent=1)[:3000]
    return result


def ids(entries):
    return sorted(e["id"] for e in entries)


# ---------------------------------------------------------------------------- token_revoke


def test_revoke_by_prefix_check_mode_then_real_then_idempotent(gw, runner):
    before = all_tokens(gw)
    target = next(t for t in sorted(before.values(), key=lambda t: t["id"]) if is_active(t) and t["orgId"] == "org_acme")
    audit_before = revoked_lines(gw)

    check = ok(runner.one("token_revoke", check=True, prefixes=[target["prefix"]]))
    assert check["changed"] is True and ids(check["revoked"]) == [target["id"]]
    assert check["revoked"][0] == {k: target[k] for k in ("id", "prefix", "clientId", "orgId")}
    assert all_tokens(gw) == before and revoked_lines(gw) == audit_before

    real = ok(runner.one("token_revoke", prefixes=[target["prefix"]]))
    assert real["changed"] is True and ids(real["revoked"]) == [target["id"]] and real["failed_tokens"] == []
    after = all_tokens(gw)
    assert changed_ids(before, after) == [target["id"]] and after[target["id"]]["revokedAt"]
    assert len(revoked_lines(gw)) == len(audit_before) + 1

    again = ok(runner.one("token_revoke", prefixes=[target["prefix"]]))
    assert again["changed"] is False and again["revoked"] == [] and ids(again["already_revoked"]) == [target["id"]]
    assert all_tokens(gw) == after


def test_revoke_by_ids_and_client_exactly_those(gw, runner):
    before = all_tokens(gw)
    active = sorted((t for t in before.values() if is_active(t)), key=lambda t: t["id"])
    picked = [active[0]["id"], active[1]["id"]]
    already = next(t["id"] for t in before.values() if t["revokedAt"])
    res = ok(runner.one("token_revoke", ids=picked + [already], concurrency=2))
    assert ids(res["revoked"]) == sorted(picked) and ids(res["already_revoked"]) == [already] and res["changed"]
    assert changed_ids(before, all_tokens(gw)) == sorted(picked)

    client = active[2]["clientId"]
    before = all_tokens(gw)
    want = sorted(t["id"] for t in before.values() if t["clientId"] == client and is_active(t))
    res = ok(runner.one("token_revoke", client_id=client))
    assert ids(res["revoked"]) == want
    assert changed_ids(before, all_tokens(gw)) == want


def test_all_in_org_over_many_pages(gw, runner):
    for n in range(130):
        r = gw.request("POST", "/api/mcp-tokens", body={"clientId": "ci-bot", "orgId": "org_globex", "scopes": ["tools:read"]})
        assert r.status == 201
    before = all_tokens(gw)
    want = sorted(t["id"] for t in before.values() if t["orgId"] == "org_globex" and is_active(t))
    assert len(want) > 130
    # the default concurrency (64 connections) against the reference gateway's accept queue of 5: every token revoked
    res = ok(runner.one("token_revoke", org_id="org_globex", all_in_org=True))
    assert res["changed"] is True and ids(res["revoked"]) == want and res["failed_tokens"] == []
    after = all_tokens(gw)
    assert changed_ids(before, after) == want
    assert not [t for t in after.values() if t["orgId"] == "org_globex" and is_active(t)]
    again = ok(runner.one("token_revoke", org_id="org_globex", all_in_org=True))
    assert again["changed"] is False and again["revoked"] == []


def test_refusals_touch_nothing(gw, runner):
    before = all_tokens(gw)
    audit_before = revoked_lines(gw)
    some_id = sorted(before)[0]
    results = runner.run([
        ("token_revoke", {"ids": ["../x"]}),
        ("token_revoke", {}),
        ("token_revoke", {"org_id": "org_acme"}),
        ("token_revoke", {"all_in_org": True}),
        ("token_revoke", {"ids": [some_id, "tok_doesnotexist"]}),
        ("token_revoke", {"prefixes": ["mcp_"]}),
        ("token_revoke", {"org_id": "org_nobody", "all_in_org": True}),
    ])
    msgs = [r.get("msg", "") for r in results]
    assert all(r.get("failed") for r in results[:6]), msgs
    assert "invalid token id" in msgs[0] and "no filter given" in msgs[1]
    assert "all_in_org: true to confirm" in msgs[2] and "explicit org_id" in msgs[3]
    assert "tok_doesnotexist" in msgs[4] and ids(results[4]["not_found"]) == ["tok_doesnotexist"]
    assert "invalid prefix" in msgs[5]
    assert not results[6].get("failed") and results[6]["changed"] is False and results[6]["revoked"] == []
    assert all_tokens(gw) == before and revoked_lines(gw) == audit_before


# ---------------------------------------------------------------------------- gateway_health check_tokens (INC-006 step 2)


def test_health_check_tokens_proves_which_admin_token_the_gateway_takes(gw, runner):
    """The running gateway takes ADMIN and refuses any other token: check_tokens passes for a rotation that took
    effect and fails, naming list and position only, for one the gateway did not read. No token in any output."""
    old = "adm-OLD-" + "Q1w2E3r4" * 4
    runner.secrets.append(old)
    rotated, not_read = runner.run([
        ("gateway_health", {"check_tokens": {"accepted": ["{{ api_token }}"], "refused": [old]}, "retries": 0}),
        ("gateway_health", {"check_tokens": {"accepted": [old], "refused": ["{{ api_token }}"]}, "retries": 1, "delay": 0}),
    ], check=True)
    ok(rotated)
    assert rotated["healthy"] is True and rotated["changed"] is False
    assert rotated["token_checks"] == {"accepted": [{"status": 200, "ok": True}], "refused": [{"status": 401, "ok": True}]}
    assert not_read.get("failed") and not_read["attempts"] == 2
    url = "http://127.0.0.1:%d/api/system/storage-meta" % gw.port
    assert not_read["problems"] == ["check_tokens: GET %s answered 401 to accepted token #1 (wanted 200)" % url,
                                    "check_tokens: GET %s answered 200 to refused token #1 (wanted 401)" % url]
    assert not_read["msg"].startswith("gateway at http://127.0.0.1:%d unhealthy after 2 checks: check_tokens:" % gw.port)


# ---------------------------------------------------------------------------- mcp_token_info


def test_token_info_lists_every_page_by_status_and_client_in_check_mode(gw, runner):
    for n in range(130):
        r = gw.request("POST", "/api/mcp-tokens", body={"clientId": "ci-bot", "orgId": "org_globex", "scopes": ["tools:read"]})
        assert r.status == 201
    some = sorted(t["id"] for t in all_tokens(gw).values() if t["orgId"] == "org_globex")[:3]
    for token_id in some:
        assert gw.request("POST", "/api/mcp-tokens/%s/revoke" % token_id).status == 200
    before = all_tokens(gw)
    listed = runner.run([
        ("mcp_token_info", {"client_id": "ci-bot", "org_id": "org_globex", "status": "active"}),
        ("mcp_token_info", {"status": "revoked"}),
        ("mcp_token_info", {}),
        ("mcp_token_info", {"prefix": "mcp_"}),
        ("mcp_token_info", {"status": "expired"}),
    ], check=True)
    active_globex, revoked, everything, refused, expired = listed
    want = sorted(t["id"] for t in before.values() if t["orgId"] == "org_globex" and t["clientId"] == "ci-bot" and is_active(t))
    assert len(want) >= 127 and ids(ok(active_globex)["tokens"]) == want and active_globex["count"] == len(want)
    assert active_globex["changed"] is False
    assert ids(ok(revoked)["tokens"]) == sorted(t["id"] for t in before.values() if t["revokedAt"])
    assert set(some) <= set(ids(revoked["tokens"]))
    assert ok(everything)["count"] == len(before) and sum(everything["by_status"].values()) == len(before)
    assert all(t["status"] == "expired" and not t["revokedAt"] for t in ok(expired)["tokens"])
    assert refused.get("failed") and "invalid prefix" in refused["msg"]
    assert not any("secretHash" in t for t in everything["tokens"])
    assert all_tokens(gw) == before


# ---------------------------------------------------------------------------- mcp_token


def test_issue_secret_to_0600_file_and_it_authenticates(gw, runner, tmp_path):
    before = all_tokens(gw)
    dest_dir = tmp_path / "operator"
    dest_dir.mkdir(mode=0o700)
    dest = dest_dir / "cursor-ide.token"
    args = dict(client_id="cursor-ide", org_id="org_acme", scopes=["tools:read"], rate_limit=45, expires_in=3600,
                secret_dest=str(dest))

    check = ok(runner.one("mcp_token", check=True, **args))
    assert check["changed"] is True and check["token"]["id"] is None and not dest.exists()
    assert all_tokens(gw) == before

    missing = runner.one("mcp_token", **dict(args, secret_dest=str(tmp_path / "nodir" / "x.token")))
    assert missing.get("failed") and "does not exist" in missing["msg"] and all_tokens(gw) == before

    res = ok(runner.one("mcp_token", **args))
    assert res["changed"] is True
    new = res["token"]
    secret = dest.read_text().strip()
    runner.secrets.append(secret)
    runner.assert_no_secret()
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600 and os.listdir(str(dest_dir)) == ["cursor-ide.token"]
    assert secret.startswith(res["prefix"]) and new["prefix"] == res["prefix"]
    assert "secret" not in res and not {"secret", "secretHash"} & set(new) and res["secret_dest"] == str(dest)
    assert new["rateLimit"] == {"requestsPerMinute": 45} and new["expiresAt"] and new["clientId"] == "cursor-ide"
    after = all_tokens(gw)
    assert changed_ids(before, after) == [new["id"]]
    r = gw.mcp(secret, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert r.status == 200, r
    assert gw.mcp(secret[:-1] + ("A" if secret[-1] != "A" else "B"), {"jsonrpc": "2.0", "id": 1, "method": "ping"}).status == 401


def test_update_idempotent_with_diff_and_check_mode(gw, runner):
    before = all_tokens(gw)
    target = next(t for t in sorted(before.values(), key=lambda t: t["id"]) if is_active(t) and not t["blocked"])
    rpm = target["rateLimit"]["requestsPerMinute"] + 7

    check = ok(runner.one("mcp_token", check=True, diff=True, id=target["id"], rate_limit=rpm, blocked=True))
    assert check["changed"] is True and check["token"]["blocked"] is True
    assert check["diff"]["before"] == {"blocked": False, "rateLimit": target["rateLimit"]}
    assert check["diff"]["after"] == {"blocked": True, "rateLimit": {"requestsPerMinute": rpm}}
    assert all_tokens(gw) == before

    res = ok(runner.one("mcp_token", diff=True, id=target["id"], rate_limit=rpm, blocked=True))
    assert res["changed"] is True and res["token"]["rateLimit"] == {"requestsPerMinute": rpm} and res["token"]["blocked"]
    after = all_tokens(gw)
    assert changed_ids(before, after) == [target["id"]]

    same = ok(runner.one("mcp_token", id=target["id"], rate_limit=rpm, blocked=True))
    assert same["changed"] is False and "diff" not in same and all_tokens(gw) == after

    exp = ok(runner.one("mcp_token", id=target["id"], expires_at="2031-02-03T04:05:06.789+01:00"))
    assert exp["changed"] is True and exp["token"]["expiresAt"] == "2031-02-03T03:05:06Z"
    exp2 = ok(runner.one("mcp_token", id=target["id"], expires_at="2031-02-03T03:05:06Z"))
    assert exp2["changed"] is False

    bad = runner.run([("mcp_token", {"id": "tok_doesnotexist", "rate_limit": 5}),
                      ("mcp_token", {"id": "../x", "blocked": True}),
                      ("mcp_token", {"client_id": "cursor-ide", "org_id": "org_acme", "scopes": ["tools:read"]})])
    assert all(r.get("failed") for r in bad)
    assert "no token with id tok_doesnotexist" in bad[0]["msg"] and "invalid token id" in bad[1]["msg"]
    assert "secret_dest" in bad[2]["msg"]


# ---------------------------------------------------------------------------- a gateway that fails


class FailingGateway(BaseHTTPRequestHandler):
    """Lists three tokens; revoking tok_ok works, tok_500 always answers 500, tok_slow never answers in time."""

    protocol_version = "HTTP/1.1"
    tokens = [{"id": i, "prefix": "mcp_%s" % h, "clientId": "ci-bot", "orgId": "org_acme", "revokedAt": None}
              for i, h in (("tok_ok", "0a0a"), ("tok_500", "0b0b"), ("tok_slow", "0c0c"))]

    def send_json(self, status, body):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        self.server.hits.append(("GET", self.path))
        self.send_json(200, {"tokens": self.tokens, "nextCursor": None})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.hits.append(("POST", self.path))
        token_id = self.path.split("/")[3]
        if token_id == "tok_500":
            self.send_json(500, {"error": {"code": "internal", "message": "store write failed"}})
        elif token_id == "tok_slow":
            time.sleep(2.5)
            self.close_connection = True
        else:
            self.send_json(200, {"token": dict(self.tokens[0], revokedAt="2026-01-01T00:00:00Z"), "alreadyRevoked": False})

    def log_message(self, *args):
        pass


@pytest.fixture
def failing_gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FailingGateway)
    server.daemon_threads = True
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_500_and_timeout_are_retried_then_reported(failing_gateway, tmp_path):
    runner = Runner(tmp_path / "ansible", "http://127.0.0.1:%d" % failing_gateway.server_address[1])
    res = runner.one("token_revoke", client_id="ci-bot", retries=1, timeout=1, concurrency=3)
    assert res["failed"] is True
    assert res["msg"].startswith("2 of 3 selected tokens were not revoked and are left active")
    assert ids(res["revoked"]) == ["tok_ok"]
    failed = {e["id"]: e for e in res["failed_tokens"]}
    assert sorted(failed) == ["tok_500", "tok_slow"]
    assert failed["tok_500"]["status"] == 500 and "store write failed" in failed["tok_500"]["message"]
    assert failed["tok_slow"]["status"] is None and "timed out" in failed["tok_slow"]["message"]
    assert all(e["attempts"] == 2 for e in failed.values())
    posts = [p for m, p in failing_gateway.hits if m == "POST"]
    assert posts.count("/api/mcp-tokens/tok_500/revoke") == 2 and posts.count("/api/mcp-tokens/tok_ok/revoke") == 1
