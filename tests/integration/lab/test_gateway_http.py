"""The reference gateway over real HTTP: a real process on 127.0.0.1, a seeded data dir in tmp_path."""

import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import signal
import time

import pytest

from gateway_process import assert_no_secret, gateway_factory, read_text, run_once  # noqa: F401 (fixture)
from mcpops.lab.seed import seed_data_dir

CANARY_ADMIN = "canary-admin-" + "Zq9Xw8Vu7T" * 3
PROTOCOL = "2025-06-18"


@pytest.fixture
def seeded(tmp_path):
    data = tmp_path / "data"
    result = seed_data_dir(str(data), rng_seed=7)
    env_file = tmp_path / "gateway.env"
    # hr-prod's password is deliberately left out so its profile health fails
    env_file.write_text("".join("%s=%s\n" % (k, v) for k, v in result["password_env"].items()
                                if k != "ONEC_HR_PROD_PASSWORD"))
    result["data_dir"] = str(data)
    result["env_file"] = str(env_file)
    return result


@pytest.fixture
def gw(seeded, gateway_factory):
    secrets_ = [seeded["ops_token_secret"]] + list(seeded["password_env"].values())
    return gateway_factory(seeded["data_dir"], admin_token=CANARY_ADMIN, secrets=secrets_,
                           ONEC_MCP_ENV_FILE=seeded["env_file"], ONEC_MCP_DISCOVER_SECONDS="5")


def audit_lines(data_dir):
    with open(os.path.join(data_dir, "audit.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def usage_lines(data_dir):
    with open(os.path.join(data_dir, "usage.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def tokens_file(data_dir):
    with open(os.path.join(data_dir, "tokens.json"), encoding="utf-8") as handle:
        return json.load(handle)["tokens"]


def data_snapshot(data_dir):
    out = {}
    for root, dirs, files in os.walk(data_dir):
        rel_root = os.path.relpath(root, data_dir)
        if rel_root == ".":
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "backups"]
            files = [f for f in files if not f.startswith(".")]
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, data_dir)] = handle.read()
    return out


def init_msg(rid=1, version=PROTOCOL):
    return {"jsonrpc": "2.0", "id": rid, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {},
                       "clientInfo": {"name": "pytest", "version": "0"}}}


def call(name, args=None, rid=3):
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": name, "arguments": args or {}}}


def issue(gw, **body):
    req = {"clientId": "cursor-ide", "orgId": "org_acme", "scopes": ["tools:read"]}
    req.update(body)
    resp = gw.request("POST", "/api/mcp-tokens", req)
    assert resp.status == 201, resp
    return resp.json


# --------------------------------------------------------------------------- health and admin auth

def test_health_ready_and_unknown_paths(gw):
    r = gw.request("GET", "/healthz", token=None)
    assert r.status == 200 and r.json["status"] == "ok" and r.json["version"]
    r = gw.request("GET", "/readyz", token=None)
    assert r.status == 200 and r.json == {"status": "ready", "checks": {"storage": "ok", "index": "ok"}}
    r = gw.request("GET", "/nope", token=None)
    assert r.status == 404 and r.json["error"]["code"] == "not_found"
    r = gw.request("GET", "/api/nope")
    assert r.status == 404 and r.json["error"]["code"] == "not_found"


def test_readyz_reports_failing_index(gw):
    shutil.rmtree(os.path.join(gw.data_dir, "index"))
    r = gw.request("GET", "/readyz", token=None)
    assert r.status == 503
    assert r.json["status"] == "not_ready" and r.json["checks"]["storage"] == "ok"
    assert r.json["checks"]["index"] != "ok"


@pytest.mark.parametrize("path,method", [
    ("/api/system/storage-meta", "GET"), ("/api/system/backups", "GET"), ("/api/system/backups", "POST"),
    ("/api/system/jobs", "GET"), ("/api/system/index/discover", "POST"), ("/api/mcp-tokens", "GET"),
    ("/api/mcp-tokens", "POST"), ("/api/mcp-tokens/tok_x/revoke", "POST"), ("/api/mcp-tokens/tok_x", "PATCH"),
    ("/api/system/backups/abc/restore", "POST"),
])
def test_admin_endpoints_need_the_admin_token(gw, path, method):
    for token in (None, "wrong-" + CANARY_ADMIN, CANARY_ADMIN[:-1]):
        r = gw.request(method, path, body={}, token=token)
        assert r.status == 401, (path, token, r)
        assert r.json["error"]["code"] == "unauthorized"
    assert not os.path.isdir(os.path.join(gw.data_dir, "backups"))  # nothing happened


def test_storage_meta_counts_the_seeded_stores(gw, seeded):
    r = gw.request("GET", "/api/system/storage-meta")
    assert r.status == 200
    body = r.json
    assert body["schemaVersion"] == 3
    assert body["appliedMigrations"] == ["001_init", "002_tokens_org", "003_rate_limits"]
    stores = body["stores"]
    assert set(stores) == {"tokens", "profiles", "clients", "audit", "usage"}
    assert stores["tokens"] == {"records": 51, "ok": True}
    assert stores["profiles"] == {"records": 3, "ok": True}
    assert stores["audit"] == {"records": 3000, "ok": True}
    assert stores["usage"]["records"] == len(usage_lines(seeded["data_dir"]))
    assert stores["clients"]["records"] >= 4


def test_bad_json_body_is_400(gw):
    r = gw.request("POST", "/api/mcp-tokens", raw_body=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.json["error"]["code"] == "invalid_json"


# --------------------------------------------------------------------------- tokens

def test_token_pagination_returns_every_token_exactly_once(gw, seeded):
    on_disk = tokens_file(seeded["data_dir"])
    seen, cursor, pages = [], None, 0
    while True:
        path = "/api/mcp-tokens?limit=7" + ("&cursor=" + cursor if cursor else "")
        r = gw.request("GET", path)
        assert r.status == 200, r
        page = r.json
        assert len(page["tokens"]) <= 7
        for token in page["tokens"]:
            assert "secretHash" not in token
        seen += [t["id"] for t in page["tokens"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert pages < 20
    assert pages == 8  # 51 tokens / 7
    assert len(seen) == len(set(seen)) == 51
    assert set(seen) == {t["id"] for t in on_disk}
    order = sorted(on_disk, key=lambda t: (t["createdAt"], t["id"]))
    assert seen == [t["id"] for t in order]
    r = gw.request("GET", "/api/mcp-tokens")
    assert len(r.json["tokens"]) == 50 and r.json["nextCursor"] is not None
    r = gw.request("GET", "/api/mcp-tokens?limit=1000")
    assert len(r.json["tokens"]) == 51 and r.json["nextCursor"] is None
    assert gw.request("GET", "/api/mcp-tokens?cursor=%%%").status == 400
    assert gw.request("GET", "/api/mcp-tokens?status=weird").status == 400


def test_token_filters(gw, seeded):
    on_disk = tokens_file(seeded["data_dir"])
    r = gw.request("GET", "/api/mcp-tokens?orgId=org_globex&limit=100")
    assert {t["id"] for t in r.json["tokens"]} == {t["id"] for t in on_disk if t["orgId"] == "org_globex"}
    r = gw.request("GET", "/api/mcp-tokens?clientId=mcpops-oncall&limit=100")
    assert [t["id"] for t in r.json["tokens"]] == [seeded["ops_token_id"]]
    revoked = {t["id"] for t in on_disk if t["revokedAt"]}
    assert revoked
    r = gw.request("GET", "/api/mcp-tokens?status=revoked&limit=100")
    assert {t["id"] for t in r.json["tokens"]} == revoked
    r = gw.request("GET", "/api/mcp-tokens?status=expired&limit=100")
    expired = {t["id"] for t in r.json["tokens"]}
    assert expired and not expired & revoked
    r = gw.request("GET", "/api/mcp-tokens?status=active&limit=100")
    active = {t["id"] for t in r.json["tokens"]}
    assert seeded["ops_token_id"] in active and not active & (expired | revoked)
    assert len(active | expired | revoked) == 51
    prefix = on_disk[3]["prefix"]
    r = gw.request("GET", "/api/mcp-tokens?prefix=" + prefix)
    assert [t["prefix"] for t in r.json["tokens"]] == [prefix]


def test_issue_token(gw, seeded):
    body = issue(gw, clientId="ci-bot", orgId="org_initech", scopes=["tools:read", "tools:write"],
                 rateLimit={"requestsPerMinute": 5}, expiresIn=3600)
    token, secret = body["token"], body["secret"]
    assert re.fullmatch(r"mcp_[0-9a-f]{4}", token["prefix"])
    assert secret.startswith(token["prefix"]) and len(secret) == 48
    assert re.fullmatch(r"[A-Za-z0-9_-]{40}", secret[8:])
    assert token["clientId"] == "ci-bot" and token["orgId"] == "org_initech" and token["revokedAt"] is None
    assert token["rateLimit"] == {"requestsPerMinute": 5} and token["expiresAt"] and "secretHash" not in token
    stored = [t for t in tokens_file(seeded["data_dir"]) if t["id"] == token["id"]]
    assert len(stored) == 1 and stored[0]["secretHash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in read_text(os.path.join(seeded["data_dir"], "tokens.json"))
    assert [e for e in audit_lines(seeded["data_dir"]) if e["event"] == "token.issued" and e.get("tokenId") == token["id"]]
    listed = gw.request("GET", "/api/mcp-tokens?prefix=" + token["prefix"]).json["tokens"]
    assert [t["id"] for t in listed] == [token["id"]] and "secret" not in json.dumps(listed)
    r = gw.mcp(secret, init_msg())
    assert r.status == 200 and r.json["result"]["protocolVersion"] == PROTOCOL
    assert_no_secret(gw, [secret])


@pytest.mark.parametrize("body,code", [
    ({"clientId": "cursor-ide", "orgId": "org_acme", "scopes": ["tools:admin"]}, "invalid_scopes"),
    ({"clientId": "cursor-ide", "orgId": "org_acme", "scopes": []}, "invalid_scopes"),
    ({"clientId": "evil-client", "orgId": "org_acme", "scopes": ["tools:read"]}, "unknown_client"),
    ({"clientId": "cursor-ide", "scopes": ["tools:read"]}, "invalid_org"),
    ({"clientId": "cursor-ide", "orgId": "org_acme", "scopes": ["tools:read"], "profile": "nope"}, "unknown_profile"),
    ({"clientId": "cursor-ide", "orgId": "org_acme", "scopes": ["tools:read"], "rateLimit": {"requestsPerMinute": 0}},
     "invalid_rate_limit"),
])
def test_issue_token_rejects_bad_requests(gw, seeded, body, code):
    before = read_text(os.path.join(seeded["data_dir"], "tokens.json"))
    r = gw.request("POST", "/api/mcp-tokens", body)
    assert r.status == 400 and r.json["error"]["code"] == code
    assert read_text(os.path.join(seeded["data_dir"], "tokens.json")) == before


def test_revoke_twice_keeps_first_revoked_at(gw, seeded):
    body = issue(gw)
    tid, secret = body["token"]["id"], body["secret"]
    r1 = gw.request("POST", "/api/mcp-tokens/%s/revoke" % tid)
    assert r1.status == 200 and r1.json["alreadyRevoked"] is False and r1.json["token"]["revokedAt"]
    time.sleep(1.1)
    r2 = gw.request("POST", "/api/mcp-tokens/%s/revoke" % tid)
    assert r2.status == 200 and r2.json["alreadyRevoked"] is True
    assert r2.json["token"]["revokedAt"] == r1.json["token"]["revokedAt"]
    stored = [t for t in tokens_file(seeded["data_dir"]) if t["id"] == tid][0]
    assert stored["revokedAt"] == r1.json["token"]["revokedAt"]
    assert gw.request("POST", "/api/mcp-tokens/tok_nope/revoke").status == 404
    # a revoked token is refused on /mcp with 403 and an audit line that names it, never its secret
    r = gw.mcp(secret, init_msg())
    assert r.status == 403
    failed = [e for e in audit_lines(seeded["data_dir"]) if e["event"] == "auth.failed" and e.get("tokenId") == tid]
    assert failed and failed[-1]["reason"] == "revoked" and failed[-1]["status"] == 403
    assert failed[-1]["tokenPrefix"] == body["token"]["prefix"] and failed[-1]["clientId"] == "cursor-ide"
    assert failed[-1]["orgId"] == "org_acme" and failed[-1]["ip"] == "127.0.0.1" and failed[-1]["path"] == "/mcp"
    revokes = [e for e in audit_lines(seeded["data_dir"]) if e["event"] == "token.revoked" and e.get("tokenId") == tid]
    assert len(revokes) == 2
    assert_no_secret(gw, [secret])


def test_concurrent_revokes_each_reach_the_disk(gw, seeded):
    """Token writes are group-committed: requests in flight share one write of tokens.json. Every
    revoke that got its 200 must be in the file on disk, whoever wrote it."""
    ids = [issue(gw)["token"]["id"] for _ in range(40)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda tid: gw.request("POST", "/api/mcp-tokens/%s/revoke" % tid), ids))
    assert [r.status for r in answers] == [200] * len(ids)
    revoked_at = {r.json["token"]["id"]: r.json["token"]["revokedAt"] for r in answers}
    stored = {t["id"]: t["revokedAt"] for t in tokens_file(seeded["data_dir"])}
    assert {tid: stored[tid] for tid in ids} == revoked_at
    assert all(revoked_at.values())


def test_patch_token(gw, seeded):
    body = issue(gw)
    tid, secret = body["token"]["id"], body["secret"]
    r = gw.request("PATCH", "/api/mcp-tokens/" + tid, {"rateLimit": {"requestsPerMinute": 3}, "blocked": True,
                                                       "expiresAt": "2099-01-01T00:00:00Z"})
    assert r.status == 200
    assert r.json["token"]["rateLimit"] == {"requestsPerMinute": 3} and r.json["token"]["blocked"] is True
    assert r.json["token"]["expiresAt"] == "2099-01-01T00:00:00Z"
    stored = [t for t in tokens_file(seeded["data_dir"]) if t["id"] == tid][0]
    assert stored["blocked"] is True and stored["rateLimit"] == {"requestsPerMinute": 3}
    r = gw.mcp(secret, init_msg())
    assert r.status == 403
    assert audit_lines(seeded["data_dir"])[-1]["reason"] == "blocked"
    assert gw.request("PATCH", "/api/mcp-tokens/" + tid, {"blocked": False}).status == 200
    assert gw.mcp(secret, init_msg()).status == 200
    assert gw.request("PATCH", "/api/mcp-tokens/" + tid, {"scopes": ["admin:read"]}).status == 400
    assert gw.request("PATCH", "/api/mcp-tokens/" + tid, {"blocked": "yes"}).status == 400
    assert gw.request("PATCH", "/api/mcp-tokens/tok_nope", {"blocked": True}).status == 404
    past = "2020-01-01T00:00:00Z"
    assert gw.request("PATCH", "/api/mcp-tokens/" + tid, {"expiresAt": past}).status == 200
    r = gw.mcp(secret, init_msg())
    assert r.status == 403 and audit_lines(seeded["data_dir"])[-1]["reason"] == "expired"
    assert [e for e in audit_lines(seeded["data_dir"]) if e["event"] == "token.updated" and e.get("tokenId") == tid]


# --------------------------------------------------------------------------- /mcp

def test_mcp_auth_failures(gw, seeded):
    canary_unknown = "mcp_dead" + "Qw3Er5Ty7U" * 4
    r = gw.mcp(None, init_msg())
    assert r.status == 401 and r.header("WWW-Authenticate")
    r = gw.mcp(canary_unknown, init_msg())
    assert r.status == 401
    events = audit_lines(seeded["data_dir"])[-2:]
    assert [e["event"] for e in events] == ["auth.failed", "auth.failed"]
    assert [e["reason"] for e in events] == ["missing_token", "unknown_token"]
    assert all(e["status"] == 401 and e["path"] == "/mcp" and e["ip"] == "127.0.0.1" for e in events)
    assert events[1]["tokenPrefix"] == "mcp_dead"
    assert gw.request("GET", "/mcp", token=seeded["ops_token_secret"]).status == 405
    assert_no_secret(gw, [canary_unknown])


def test_rate_limit_429_with_retry_after(gw, seeded):
    body = issue(gw, rateLimit={"requestsPerMinute": 3})
    secret = body["secret"]
    for i in range(3):
        assert gw.mcp(secret, {"jsonrpc": "2.0", "id": i, "method": "ping"}).status == 200
    r = gw.mcp(secret, {"jsonrpc": "2.0", "id": 9, "method": "ping"})
    assert r.status == 429
    assert int(r.header("Retry-After")) in range(1, 61)
    event = audit_lines(seeded["data_dir"])[-1]
    assert event["event"] == "rate_limit.exceeded" and event["status"] == 429
    assert event["tokenPrefix"] == body["token"]["prefix"] and event["clientId"] == "cursor-ide"
    assert event["orgId"] == "org_acme" and event["ip"] == "127.0.0.1" and event["path"] == "/mcp"
    # another token is not affected
    assert gw.mcp(seeded["ops_token_secret"], {"jsonrpc": "2.0", "id": 1, "method": "ping"}).status == 200


def test_mcp_session_and_tools(gw, seeded):
    secret = seeded["ops_token_secret"]
    r = gw.mcp(secret, init_msg(version="2025-03-26"))
    assert r.status == 200 and r.header("Content-Type").startswith("application/json")
    result = r.json["result"]
    assert r.json["id"] == 1 and result["protocolVersion"] == "2025-03-26"
    assert result["capabilities"]["tools"] is not None and result["serverInfo"]["name"]
    session = r.header("Mcp-Session-Id")
    assert session and re.fullmatch(r"[\x21-\x7e]+", session)
    r = gw.mcp(secret, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session=session)
    assert r.status == 202 and r.raw == b""
    r = gw.mcp(secret, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session=session)
    names = [t["name"] for t in r.json["result"]["tools"]]
    assert set(names) == {"list_profiles", "get_active_profile", "check_profile_health", "check_connection_health"}
    assert not [n for n in names if n.startswith(("write_", "create_", "update_", "delete_"))]

    usage_before = len(usage_lines(seeded["data_dir"]))
    r = gw.mcp(secret, call("list_profiles"), session=session)
    res = r.json["result"]
    assert res["isError"] is False
    assert [p["name"] for p in res["structuredContent"]["profiles"]] == ["erp-prod", "hr-prod", "erp-staging"]
    assert json.loads(res["content"][0]["text"]) == res["structuredContent"] and res["content"][0]["type"] == "text"
    event = audit_lines(seeded["data_dir"])[-1]
    assert event["event"] == "tool.called" and event["tool"] == "list_profiles" and event["rows"] == 3
    assert event["tokenId"] == seeded["ops_token_id"] and event["clientId"] == "mcpops-oncall"
    usage = usage_lines(seeded["data_dir"])
    assert len(usage) == usage_before + 1
    assert usage[-1] == {"ts": usage[-1]["ts"], "tokenId": seeded["ops_token_id"], "tokenPrefix": secret[:8],
                         "clientId": "mcpops-oncall", "orgId": "org_ops", "tool": "list_profiles", "status": "ok"}

    r = gw.mcp(secret, call("get_active_profile"), session=session)
    assert r.json["result"]["structuredContent"]["profile"]["name"] == "erp-prod"

    r = gw.mcp(secret, call("check_profile_health", {"profile": "erp-prod"}), session=session)
    health = r.json["result"]["structuredContent"]
    assert health["healthy"] is True and r.json["result"]["isError"] is False
    r = gw.mcp(secret, call("check_profile_health", {"profile": "hr-prod"}), session=session)
    health = r.json["result"]["structuredContent"]
    assert health["healthy"] is False
    assert [c for c in health["checks"] if c["name"] == "password_env"][0]["present"] is False
    r = gw.mcp(secret, call("check_profile_health", {"profile": "nope"}), session=session)
    assert r.json["result"]["isError"] is True and r.json["result"]["structuredContent"]["healthy"] is False

    # nothing listens on the seeded upstream port in this test: unhealthy, with an error, never the password
    r = gw.mcp(secret, call("check_connection_health", {"profile": "erp-prod"}), session=session)
    conn = r.json["result"]["structuredContent"]
    assert conn["healthy"] is False and conn["error"] and isinstance(conn["latency_ms"], int)
    assert conn["url"].endswith("/odata/standard.odata/$metadata")

    r = gw.mcp(secret, call("create_document", {"entity": "Document_X", "fields": {}}), session=session)
    assert r.status == 200 and "error" in r.json and "result" not in r.json
    denied = audit_lines(seeded["data_dir"])[-1]
    assert denied["tool"] == "create_document" and denied["result"] == "denied"

    r = gw.mcp(secret, {"jsonrpc": "2.0", "id": 5, "method": "no/such"}, session=session)
    assert r.json["error"]["code"] == -32601
    r = gw.mcp(secret, {"jsonrpc": "2.0", "id": 6, "method": "ping"}, session="not-a-session")
    assert r.status == 404
    r = gw.request("DELETE", "/mcp", token=secret, headers={"Mcp-Session-Id": session})
    assert r.status == 200
    r = gw.mcp(secret, {"jsonrpc": "2.0", "id": 7, "method": "ping"}, session=session)
    assert r.status == 404
    r = gw.request("POST", "/mcp", token=secret, raw_body=b"{oops")
    assert r.status == 400 and r.json["error"]["code"] == -32700


def test_write_tools_only_for_a_staging_token(gw, seeded):
    body = issue(gw, scopes=["tools:read", "tools:write"], profile="erp-staging")
    secret = body["secret"]
    r = gw.mcp(secret, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    names = {t["name"] for t in r.json["result"]["tools"]}
    assert {"create_document", "update_document"} <= names
    r = gw.mcp(secret, call("create_document", {"entity": "Document_X", "fields": {"a": 1}}))
    assert r.json["result"]["isError"] is False
    assert r.json["result"]["structuredContent"]["profile"] == "erp-staging"
    r = gw.mcp(secret, call("create_document", {"profile": "erp-prod", "entity": "Document_X", "fields": {}}))
    assert "error" in r.json
    assert_no_secret(gw, [secret])


# --------------------------------------------------------------------------- backups, jobs

def wait_job_done(gw, job_id, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = gw.request("GET", "/api/system/jobs").json["jobs"]
        job = [j for j in jobs if j["id"] == job_id][0]
        if job["state"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError("job %s still running" % job_id)


def test_backup_then_restore_returns_the_data_dir_to_the_backed_up_state(gw, seeded):
    data = seeded["data_dir"]
    snapshot = data_snapshot(data)  # the backup.created audit line is written after the copy
    r = gw.request("POST", "/api/system/backups")
    assert r.status == 201, r
    backup = r.json["backup"]
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", backup["id"])
    assert backup["schemaVersion"] == 3 and backup["files"] == 7 and backup["sizeBytes"] > 0
    assert audit_lines(data)[-1]["event"] == "backup.created"
    bdir = os.path.join(data, "backups", backup["id"])
    manifest = json.load(open(os.path.join(bdir, "manifest.json")))
    assert [f["path"] for f in manifest["files"]] == sorted(snapshot) and manifest["createdAt"].endswith("Z")
    for entry in manifest["files"]:
        content = open(os.path.join(bdir, "data", entry["path"]), "rb").read()
        assert hashlib.sha256(content).hexdigest() == entry["sha256"] and len(content) == entry["size"]
    assert not [n for n in os.listdir(os.path.join(data, "backups")) if n.startswith(".")]
    time.sleep(1.1)
    second = gw.request("POST", "/api/system/backups").json["backup"]
    listed = gw.request("GET", "/api/system/backups").json["backups"]
    assert [b["id"] for b in listed] == [second["id"], backup["id"]]

    # change the data: issue a token, revoke the ops token, rewrite a profile
    new = issue(gw)["token"]["id"]
    gw.request("POST", "/api/mcp-tokens/%s/revoke" % seeded["ops_token_id"])
    with open(os.path.join(data, "index", "extra.json"), "w") as handle:
        handle.write("{}")
    assert data_snapshot(data) != snapshot

    r = gw.request("POST", "/api/system/backups/%s/restore" % backup["id"])
    assert r.status == 200, r
    assert r.json == {"restored": backup["id"], "schemaVersion": 3}
    after = data_snapshot(data)
    audit_after = after.pop("audit.jsonl")
    audit_before = snapshot.pop("audit.jsonl")
    assert after == snapshot
    assert audit_after.startswith(audit_before)
    tail = [json.loads(line) for line in audit_after[len(audit_before):].splitlines()]
    assert [e["event"] for e in tail] == ["backup.restored"] and tail[0]["backupId"] == backup["id"]
    assert not [n for n in os.listdir(data) if n.startswith(".restore")]
    assert sorted(os.listdir(os.path.join(data, "backups"))) == sorted([backup["id"], second["id"]])
    # the in-memory stores were reloaded: the new token is gone, the ops token works again
    assert gw.request("GET", "/api/mcp-tokens?limit=100").json["tokens"].__len__() == 51
    assert new not in json.dumps(gw.request("GET", "/api/mcp-tokens?limit=100").json)
    assert gw.mcp(seeded["ops_token_secret"], init_msg()).status == 200
    events = [e["event"] for e in audit_lines(data)]
    assert "backup.restored" in events


def test_restore_errors(gw, seeded):
    data = seeded["data_dir"]
    r = gw.request("POST", "/api/system/backups/../x/restore")
    assert r.status == 400 and r.json["error"]["code"] == "invalid_backup_id"
    r = gw.request("POST", "/api/system/backups/..%2Fx/restore")
    assert r.status == 400
    r = gw.request("POST", "/api/system/backups/.hidden/restore")
    assert r.status == 400
    r = gw.request("POST", "/api/system/backups/20990101T000000Z-abcdef/restore")
    assert r.status == 404 and r.json["error"]["code"] == "backup_not_found"

    backup = gw.request("POST", "/api/system/backups").json["backup"]
    before = data_snapshot(data)
    # tampered: one byte of tokens.json changed, same size
    path = os.path.join(data, "backups", backup["id"], "data", "tokens.json")
    content = bytearray(open(path, "rb").read())
    content[content.index(b"org_")] = ord("O")
    open(path, "wb").write(bytes(content))
    r = gw.request("POST", "/api/system/backups/%s/restore" % backup["id"])
    assert r.status == 422 and r.json["error"]["code"] == "backup_invalid"
    assert "tokens.json" in r.json["error"]["message"]
    after = data_snapshot(data)
    assert after == before

    # a verified backup whose schemaVersion is newer than the gateway supports
    future = os.path.join(data, "backups", "future-1")
    shutil.copytree(os.path.join(data, "backups", backup["id"]), future)
    shutil.copy(os.path.join(data, "tokens.json"), os.path.join(future, "data", "tokens.json"))
    meta_path = os.path.join(future, "data", "storage-meta.json")
    open(meta_path, "w").write(json.dumps({"schemaVersion": 7, "appliedMigrations": []}))
    manifest = json.load(open(os.path.join(future, "manifest.json")))
    for entry in manifest["files"]:
        blob = open(os.path.join(future, "data", entry["path"]), "rb").read()
        entry["size"], entry["sha256"] = len(blob), hashlib.sha256(blob).hexdigest()
    open(os.path.join(future, "manifest.json"), "w").write(json.dumps(manifest))
    r = gw.request("POST", "/api/system/backups/future-1/restore")
    assert r.status == 422 and r.json["error"]["code"] == "schema_too_new", r
    assert "7" in r.json["error"]["message"]
    assert data_snapshot(data) == before

    # a job is running: 409 and nothing touched
    r = gw.request("POST", "/api/system/index/discover")
    assert r.status == 202 and r.json["job"]["state"] == "running" and r.json["job"]["kind"] == "index.discover"
    job = r.json["job"]
    good = gw.request("POST", "/api/system/backups").json["backup"]
    before = data_snapshot(data)
    r = gw.request("POST", "/api/system/backups/%s/restore" % good["id"])
    assert r.status == 409 and r.json["error"]["code"] == "index_job_running"
    assert data_snapshot(data) == before
    done = wait_job_done(gw, job["id"])
    assert done["state"] == "done" and done["startedAt"]
    catalog = json.load(open(os.path.join(data, "index", "catalog.json")))
    assert catalog["jobId"] == job["id"]
    r = gw.request("POST", "/api/system/backups/%s/restore" % good["id"])
    assert r.status == 200


def test_discover_job_lifecycle(gw, seeded):
    started = time.monotonic()
    job = gw.request("POST", "/api/system/index/discover").json["job"]
    jobs = gw.request("GET", "/api/system/jobs").json["jobs"]
    assert [j["state"] for j in jobs if j["id"] == job["id"]] == ["running"]
    done = wait_job_done(gw, job["id"])
    assert done["state"] == "done" and time.monotonic() - started >= 4.5


def test_backup_without_room_is_507_and_leaves_nothing(seeded, gateway_factory):
    gw = gateway_factory(seeded["data_dir"], ONEC_MCP_BACKUP_RESERVE_BYTES=str(10 ** 18))
    r = gw.request("POST", "/api/system/backups")
    assert r.status == 507 and r.json["error"]["code"] == "insufficient_storage"
    root = os.path.join(seeded["data_dir"], "backups")
    assert not os.path.isdir(root) or os.listdir(root) == []
    assert gw.request("GET", "/api/system/backups").json == {"backups": []}


# --------------------------------------------------------------------------- start-up

def one_runner_line(proc):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1, proc
    assert len(lines) == 1, lines
    assert lines[0].startswith("StoreMigrationRunner: ")
    return lines[0]


def test_startup_refuses_invalid_json(seeded):
    path = os.path.join(seeded["data_dir"], "tokens.json")
    open(path, "w").write('{"tokens": [}')
    line = one_runner_line(run_once(seeded["data_dir"]))
    assert line == "StoreMigrationRunner: invalid JSON in tokens.json at line 1 column 13"


def test_startup_refuses_invalid_jsonl_line(seeded):
    with open(os.path.join(seeded["data_dir"], "audit.jsonl"), "a") as handle:
        handle.write('{"ts": "2026-11-23T10:00:00Z", "event": "auth.ok"\n')
    line = one_runner_line(run_once(seeded["data_dir"]))
    assert line.startswith("StoreMigrationRunner: invalid JSON in audit.jsonl at line 3001 ")


def test_startup_refuses_future_schema(seeded):
    open(os.path.join(seeded["data_dir"], "storage-meta.json"), "w").write(
        json.dumps({"schemaVersion": 7, "appliedMigrations": ["001_init"]}))
    line = one_runner_line(run_once(seeded["data_dir"]))
    assert line == ("StoreMigrationRunner: schemaVersion 7 in storage-meta.json is newer than this binary "
                    "supports (3)")


def test_startup_refuses_unknown_migration(seeded):
    open(os.path.join(seeded["data_dir"], "storage-meta.json"), "w").write(json.dumps(
        {"schemaVersion": 3, "appliedMigrations": ["001_init", "002_tokens_org", "003_rate_limits", "099_future"]}))
    line = one_runner_line(run_once(seeded["data_dir"]))
    assert line == "StoreMigrationRunner: unknown migration 099_future"


def test_startup_refuses_an_interrupted_restore(seeded):
    open(os.path.join(seeded["data_dir"], ".restore-journal.json"), "w").write("{}")
    line = one_runner_line(run_once(seeded["data_dir"]))
    assert line.startswith("StoreMigrationRunner: interrupted restore in %s" % seeded["data_dir"])


def test_startup_missing_store_in_a_non_empty_dir(seeded):
    os.unlink(os.path.join(seeded["data_dir"], "profiles.json"))
    line = one_runner_line(run_once(seeded["data_dir"]))
    assert "profiles.json" in line


def test_empty_data_dir_is_initialised(tmp_path, gateway_factory):
    data = tmp_path / "fresh"
    gw = gateway_factory(str(data))
    meta = gw.request("GET", "/api/system/storage-meta").json
    assert meta["schemaVersion"] == 3 and meta["stores"]["tokens"] == {"records": 0, "ok": True}
    assert json.load(open(data / "storage-meta.json"))["appliedMigrations"] == [
        "001_init", "002_tokens_org", "003_rate_limits"]


def test_second_gateway_on_the_same_data_dir_exits_1(gw, seeded):
    proc = run_once(seeded["data_dir"])
    assert proc.returncode == 1
    assert ".gateway.lock" in proc.stderr
    assert gw.request("GET", "/healthz", token=None).status == 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_shutdown(seeded, gateway_factory, sig):
    gw = gateway_factory(seeded["data_dir"])
    assert gw.request("GET", "/healthz", token=None).status == 200
    assert gw.stop(sig) == 0
    # the lock is released: a new gateway can start on the same data dir
    again = gateway_factory(seeded["data_dir"])
    assert again.request("GET", "/healthz", token=None).status == 200


def test_version_flags():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "mcpops.lab.gateway", "--schema-version"], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 0 and out.stdout.strip() == "3"
    out = subprocess.run([sys.executable, "-m", "mcpops.lab.gateway", "--version"], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+\S*", out.stdout.strip())


def test_admin_token_file_wins_and_no_canary_leaks(seeded, gateway_factory, tmp_path):
    token_file = tmp_path / "admin_token"
    file_token = "file-admin-" + "K7m3P9q2R5" * 3
    token_file.write_text(file_token + "\n")
    gw = gateway_factory(seeded["data_dir"], admin_token=CANARY_ADMIN, secrets=[file_token,
                         seeded["ops_token_secret"]], ONEC_MCP_HTTP_TOKEN_FILE=str(token_file))
    assert gw.request("GET", "/api/system/jobs").status == 401  # env token loses to the file
    assert gw.request("GET", "/api/system/jobs", token=file_token).status == 200
    assert gw.mcp(seeded["ops_token_secret"], call("list_profiles")).status == 200
    assert gw.request("GET", "/api/mcp-tokens?prefix=" + seeded["ops_token_secret"][:8], token=file_token).status == 200
    assert_no_secret(gw, [CANARY_ADMIN, file_token, seeded["ops_token_secret"]])


def test_check_connection_health_against_a_local_upstream(seeded, gateway_factory):
    """A plain-HTTP stand-in for the 1C publication: status, latency and error, never the password."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen = []

    class Upstream(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            if self.path.startswith("/erp/"):
                body = b'<?xml version="1.0"?><edmx:Edmx Version="1.0"/>'
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
            else:
                body = b"no"
                self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    try:
        port = upstream.server_address[1]
        path = os.path.join(seeded["data_dir"], "profiles.json")
        profiles = json.load(open(path))
        for p in profiles["profiles"]:
            p["odataUrl"] = p["odataUrl"].replace("https://127.0.0.1:8443", "http://127.0.0.1:%d" % port)
        open(path, "w").write(json.dumps(profiles))
        password = seeded["password_env"]["ONEC_ERP_PROD_PASSWORD"]
        gw = gateway_factory(seeded["data_dir"], secrets=[seeded["ops_token_secret"], password],
                             ONEC_MCP_ENV_FILE=seeded["env_file"])
        secret = seeded["ops_token_secret"]
        res = gw.mcp(secret, call("check_connection_health", {"profile": "erp-prod"})).json["result"]
        ok = res["structuredContent"]
        assert ok["healthy"] is True and ok["status"] == 200 and ok["error"] is None
        assert isinstance(ok["latency_ms"], int) and 0 <= ok["latency_ms"] < 5000
        assert seen[0][0] == "/erp/odata/standard.odata/$metadata"
        user_pass = base64.b64decode(seen[0][1].split()[1]).decode()
        assert user_pass.endswith(":" + password)
        assert password not in json.dumps(res)
        bad = gw.mcp(secret, call("check_connection_health", {"profile": "hr-prod"})).json["result"]
        assert bad["structuredContent"]["healthy"] is False and bad["structuredContent"]["status"] == 503
        assert "503" in bad["structuredContent"]["error"]
        # the profile check flags a non-https odataUrl
        health = gw.mcp(secret, call("check_profile_health", {"profile": "erp-prod"})).json["result"]
        assert health["structuredContent"]["healthy"] is False
        assert [c for c in health["structuredContent"]["checks"] if c["name"] == "odata_https"][0]["ok"] is False
    finally:
        upstream.shutdown()
        upstream.server_close()
