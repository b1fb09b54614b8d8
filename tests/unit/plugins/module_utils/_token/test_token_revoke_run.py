"""_token/token_revoke_run.py: concurrent revoke, retries of transient failures (loopback stub for 5xx, timeouts,
resets), partial failure reporting, refusals, check mode, no admin token in any result or error."""

import json
import threading
import time

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import (
    GatewayError,
    KeepAliveGatewayClient,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._token.token_revoke_run import (
    DEFAULT_CONCURRENCY,
    OPENING_AT_ONCE,
    revoke_tokens,
    run,
)

CANARY = "CANARY-admin-token-5e5e5e5e"
JSON = {"Content-Type": "application/json"}


def tok(n):
    return {"id": "tok_%d" % n, "prefix": "mcp_%04x" % n, "clientId": "ci-bot", "orgId": "org_acme", "revokedAt": None}


class FakeClient:
    """revoke_token in process: a shared dict of revoked ids; records which thread used which client."""

    def __init__(self, state):
        self.state = state
        self.closed = False

    def revoke_token(self, token_id):
        with self.state["lock"]:
            self.state["calls"].append((token_id, threading.current_thread().name, id(self)))
            if token_id not in self.state["known"]:
                raise GatewayError("POST", "/api/mcp-tokens/%s/revoke" % token_id, 404, "token_not_found", "no token")
            already = token_id in self.state["revoked"]
            self.state["revoked"].add(token_id)
        time.sleep(0.002)
        return {"id": token_id}, already

    def close(self):
        self.closed = True


def fake_state(known, revoked=()):
    return {"lock": threading.Lock(), "calls": [], "known": set(known), "revoked": set(revoked), "clients": []}


def test_concurrent_revoke_one_client_per_worker():
    tokens = [tok(n) for n in range(40)]
    state = fake_state([t["id"] for t in tokens], revoked={"tok_3"})

    def make():
        client = FakeClient(state)
        state["clients"].append(client)
        return client

    out = revoke_tokens(make, tokens, concurrency=8, retries=0).sorted()
    assert len(out["revoked"]) == 39 and [e["id"] for e in out["already_revoked"]] == ["tok_3"]
    assert out["failed"] == [] and out["not_found"] == []
    assert len(state["calls"]) == 40 and len({c[0] for c in state["calls"]}) == 40
    assert len(state["clients"]) == 8 and all(c.closed for c in state["clients"])
    # every client object was used by one thread only
    by_client = {}
    for _tid, thread, cid in state["calls"]:
        by_client.setdefault(cid, set()).add(thread)
    assert all(len(threads) == 1 for threads in by_client.values())
    assert out["revoked"][0] == {"id": "tok_0", "prefix": "mcp_0000", "clientId": "ci-bot", "orgId": "org_acme"}


def wait_for(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.005)
    return predicate()


def test_new_connections_open_a_few_at_a_time():
    """A short accept queue (socketserver's backlog is 5) drops a burst of connects: at most OPENING_AT_ONCE new
    clients have a first request unanswered; the others wait for one of them to be answered."""
    release = threading.Event()
    lock = threading.Lock()
    state = {"opening": 0, "most": 0, "first_calls": 0}

    class FirstCallHeld(FakeClient):
        def revoke_token(self, token_id):
            first = not getattr(self, "answered", False)
            if first:
                with lock:
                    state["opening"] += 1
                    state["first_calls"] += 1
                    state["most"] = max(state["most"], state["opening"])
                release.wait(10)
            try:
                return FakeClient.revoke_token(self, token_id)
            finally:
                if first:
                    self.answered = True
                    with lock:
                        state["opening"] -= 1

    tokens = [tok(n) for n in range(24)]
    shared = fake_state([t["id"] for t in tokens])
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(
        revoke_tokens(lambda: FirstCallHeld(shared), tokens, concurrency=12, retries=0).sorted()))
    runner.start()
    try:
        assert wait_for(lambda: state["first_calls"] == OPENING_AT_ONCE)
        time.sleep(0.2)  # the other 8 workers have a token each and would have connected by now without the gate
        assert state["first_calls"] == OPENING_AT_ONCE
    finally:
        release.set()
        runner.join(20)
    assert len(outcome["revoked"]) == 24 and outcome["failed"] == []
    assert state["most"] == OPENING_AT_ONCE and state["first_calls"] == 12


def test_run_defaults_and_bounds_concurrency(stub):
    list_route(stub, [])
    base = {"api_url": stub.url, "api_token": CANARY, "client_id": "ci-bot", "retries": 3}
    assert run(dict(base))["revoked"] == [] and DEFAULT_CONCURRENCY == 32
    for bad in (0, 65, -1):
        with pytest.raises(TaskError, match="concurrency must be 1..64"):
            run(dict(base, concurrency=bad))


def test_nothing_to_revoke_makes_no_client():
    made = []
    out = revoke_tokens(lambda: made.append(1), [], concurrency=8)
    assert out.sorted()["revoked"] == [] and made == []


def revoke_route(stub, behaviour):
    """Route POST /api/mcp-tokens/{id}/revoke for ids tok_0..tok_19 through behaviour(id, attempt)."""
    attempts = {}
    lock = threading.Lock()

    def handler(h, body):
        token_id = h.path.split("/")[3]
        with lock:
            attempts[token_id] = attempts.get(token_id, 0) + 1
            n = attempts[token_id]
        return behaviour(h, token_id, n)

    for n in range(20):
        stub.routes[("POST", "/api/mcp-tokens/tok_%d/revoke" % n)] = handler
    return attempts


def ok_answer(token_id):
    return 200, JSON, {"token": {"id": token_id, "prefix": "mcp_x", "clientId": "ci-bot", "orgId": "org_acme"}, "alreadyRevoked": False}


def test_5xx_retried_with_backoff_then_ok(stub):
    def behaviour(h, token_id, n):
        if n <= 2:
            return 503, JSON, {"error": {"code": "unavailable", "message": "busy"}}
        return ok_answer(token_id)
    attempts = revoke_route(stub, behaviour)
    tokens = [tok(n) for n in range(10)]
    sleeps = []
    out = revoke_tokens(lambda: KeepAliveGatewayClient(stub.url, CANARY, timeout=2), tokens, concurrency=4,
                        retries=3, backoff=0.01, sleep=sleeps.append).sorted()
    assert len(out["revoked"]) == 10 and out["failed"] == []
    assert all(attempts["tok_%d" % n] == 3 for n in range(10))
    assert sorted(set(sleeps)) == [0.01, 0.02]


def test_persistent_500_fails_with_status_and_message(stub):
    attempts = revoke_route(stub, lambda h, tid, n: (500, JSON, {"error": {"code": "internal", "message": "db down"}}) if tid == "tok_1" else ok_answer(tid))
    out = revoke_tokens(lambda: KeepAliveGatewayClient(stub.url, CANARY, timeout=2), [tok(0), tok(1), tok(2)],
                        concurrency=3, retries=2, backoff=0.001).sorted()
    assert [e["id"] for e in out["revoked"]] == ["tok_0", "tok_2"]
    (failed,) = out["failed"]
    assert failed["id"] == "tok_1" and failed["status"] == 500 and failed["attempts"] == 3
    assert "HTTP 500 internal: db down" in failed["message"] and "/api/mcp-tokens/tok_1/revoke" in failed["message"]
    assert attempts["tok_1"] == 3 and CANARY not in json.dumps(out)


def test_4xx_is_not_retried(stub):
    attempts = revoke_route(stub, lambda h, tid, n: (400, JSON, {"error": {"code": "bad", "message": "no"}}))
    out = revoke_tokens(lambda: KeepAliveGatewayClient(stub.url, CANARY, timeout=2), [tok(0)], retries=3, backoff=0.001).sorted()
    assert out["failed"][0]["status"] == 400 and attempts["tok_0"] == 1


def test_timeout_is_retried(stub):
    def behaviour(h, token_id, n):
        if n == 1:
            time.sleep(1.2)
        return ok_answer(token_id)
    attempts = revoke_route(stub, behaviour)
    out = revoke_tokens(lambda: KeepAliveGatewayClient(stub.url, CANARY, timeout=0.5), [tok(0), tok(1)],
                        concurrency=2, retries=2, backoff=0.001).sorted()
    assert len(out["revoked"]) == 2 and attempts == {"tok_0": 2, "tok_1": 2}


def test_connection_reset_is_retried(stub):
    def behaviour(h, token_id, n):
        if n == 1:
            h.close_connection = True
            h.connection.shutdown(2)
            raise ConnectionResetError("reset by the test")
        return ok_answer(token_id)
    attempts = revoke_route(stub, behaviour)
    out = revoke_tokens(lambda: KeepAliveGatewayClient(stub.url, CANARY, timeout=2), [tok(0)], retries=1, backoff=0.001).sorted()
    assert [e["id"] for e in out["revoked"]] == ["tok_0"] and attempts["tok_0"] == 2


def test_run_refuses_before_any_request(stub):
    for params in ({"ids": ["../x"]}, {}, {"org_id": "org_acme"}, {"all_in_org": True}):
        base = {"api_url": stub.url, "api_token": CANARY, "concurrency": 8, "retries": 3}
        with pytest.raises(TaskError):
            run(dict(base, **params))
    assert stub.requests == []


def list_route(stub, tokens):
    stub.routes[("GET", "/api/mcp-tokens")] = (200, JSON, {"tokens": tokens, "nextCursor": None})


def test_run_partial_failure_names_how_many_were_left(stub):
    list_route(stub, [tok(n) for n in range(5)])
    revoke_route(stub, lambda h, tid, n: (502, JSON, "bad gateway") if tid in ("tok_1", "tok_3") else ok_answer(tid))
    params = {"api_url": stub.url, "api_token": CANARY, "client_id": "ci-bot", "concurrency": 3, "retries": 1, "backoff": 0.001}
    with pytest.raises(TaskError) as exc:
        run(params)
    assert exc.value.msg.startswith("2 of 5 selected tokens were not revoked and are left active")
    result = exc.value.result
    assert [e["id"] for e in result["failed_tokens"]] == ["tok_1", "tok_3"] and len(result["revoked"]) == 3
    assert result["changed"] is True and CANARY not in json.dumps(result) + exc.value.msg


def test_run_check_mode_sends_no_revoke(stub):
    list_route(stub, [tok(n) for n in range(3)] + [dict(tok(9), revokedAt="2026-01-01T00:00:00Z")])
    result = run({"api_url": stub.url, "api_token": CANARY, "client_id": "ci-bot", "concurrency": 8, "retries": 3}, check_mode=True)
    assert [e["id"] for e in result["revoked"]] == ["tok_0", "tok_1", "tok_2"] and result["changed"] is True
    assert [e["id"] for e in result["already_revoked"]] == ["tok_9"]
    assert all(r["method"] == "GET" for r in stub.requests)


def test_run_unknown_ids_fail_before_revoking_unless_ignored(stub):
    stub.routes[("GET", "/api/mcp-tokens/tok_0")] = (200, JSON, {"token": tok(0)})
    revoke_route(stub, lambda h, tid, n: ok_answer(tid))
    params = {"api_url": stub.url, "api_token": CANARY, "ids": ["tok_0", "tok_missing"], "concurrency": 8, "retries": 3}
    with pytest.raises(TaskError) as exc:
        run(params)
    assert "tok_missing" in exc.value.msg and exc.value.result["not_found"][0]["id"] == "tok_missing"
    assert all(r["method"] == "GET" for r in stub.requests)
    result = run(dict(params, ignore_missing=True))
    assert [e["id"] for e in result["revoked"]] == ["tok_0"] and [e["id"] for e in result["not_found"]] == ["tok_missing"]


def test_run_listing_failure_revokes_nothing(stub):
    stub.routes[("GET", "/api/mcp-tokens")] = (500, JSON, {"error": {"code": "internal", "message": "x"}})
    with pytest.raises(TaskError) as exc:
        run({"api_url": stub.url, "api_token": CANARY, "client_id": "ci-bot", "concurrency": 8, "retries": 3})
    assert "nothing was revoked" in exc.value.msg and "HTTP 500" in exc.value.msg


@pytest.mark.parametrize("params", [
    {"org_id": "org_acme\n", "all_in_org": True}, {"org_id": "org_acme ", "all_in_org": True},
    {"client_id": "ci-bot\n"}, {"prefixes": ["mcp_0001\n"]}, {"ids": ["tok_1\n"]},
    {"org_id": "org_\u0430cme", "all_in_org": True},
], ids=["org-newline", "org-space", "client-newline", "prefix-newline", "id-newline", "org-lookalike"])
def test_run_refuses_a_near_miss_before_any_request(stub, params):
    """INC-006 with org_id "org_acme\\n" revoked 0 tokens and went on: the module refuses it now."""
    base = {"api_url": stub.url, "api_token": CANARY, "concurrency": 8, "retries": 3, "status": "any"}
    with pytest.raises(TaskError) as exc:
        run(dict(base, **params))
    assert "nothing was revoked" in exc.value.msg and exc.value.result["revoked"] == []
    assert stub.requests == []
