"""_token/mcp_token_info_run.py: mcp_token_info's listing, checked against a gateway that ignores query parameters."""

import datetime as dt

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._token.mcp_token_info_run import (
    list_tokens,
    run,
    validate_query,
)

NOW = dt.datetime(2026, 11, 24, 12, 0, 0, tzinfo=dt.timezone.utc)


def tok(n, client="cursor-ide", org="org_acme", revoked=None, expires=None):
    return {"id": "tok_%04d" % n, "prefix": "mcp_%04x" % n, "clientId": client, "orgId": org, "scopes": ["tools:read"],
            "revokedAt": revoked, "expiresAt": expires, "blocked": False, "secretHash": "sha256:" + "ab" * 32}


class IgnoringGateway:
    """Pages of 2, and every query parameter ignored: the filters must still hold."""

    def __init__(self, tokens):
        self.tokens = tokens
        self.queries = []

    def list_tokens(self, params, cursor=None):
        self.queries.append(dict(params))
        start = int(cursor or 0)
        return self.tokens[start:start + 2], (str(start + 2) if start + 2 < len(self.tokens) else None)


TOKENS = [tok(1), tok(2, revoked="2026-11-01T00:00:00Z"), tok(3, expires="2026-11-20T00:00:00Z"),
          tok(4, client="ci-bot"), tok(5, org="org_globex"), tok(6, expires="2027-01-01T00:00:00Z")]


@pytest.mark.parametrize("params, ids", [
    ({}, ["tok_0001", "tok_0002", "tok_0003", "tok_0004", "tok_0005", "tok_0006"]),
    ({"status": "active"}, ["tok_0001", "tok_0004", "tok_0005", "tok_0006"]),
    ({"status": "expired"}, ["tok_0003"]),
    ({"status": "revoked"}, ["tok_0002"]),
    ({"client_id": "ci-bot"}, ["tok_0004"]),
    ({"org_id": "org_globex", "status": "active"}, ["tok_0005"]),
    ({"prefix": "mcp_0003"}, ["tok_0003"]),
])
def test_filters_hold_whatever_the_gateway_returns(params, ids):
    gateway = IgnoringGateway(list(reversed(TOKENS)))
    result = list_tokens(gateway, validate_query(params), now=NOW)
    assert [t["id"] for t in result["tokens"]] == ids
    assert result["count"] == len(ids) and sum(result["by_status"].values()) == len(ids)
    assert len(gateway.queries) == 3  # every page of 2 was read
    assert not any("secretHash" in t for t in result["tokens"])


def test_the_query_sent_carries_the_filters():
    gateway = IgnoringGateway(TOKENS)
    list_tokens(gateway, validate_query({"status": "expired", "client_id": "ci-bot", "prefix": "mcp_00"}), now=NOW)
    assert gateway.queries[0] == {"status": "expired", "clientId": "ci-bot", "orgId": None, "prefix": "mcp_00", "limit": 100}


@pytest.mark.parametrize("params, needle", [
    ({"status": "deleted"}, "status must be one of"),
    ({"prefix": "mcp_"}, "invalid prefix"),
    ({"prefix": "x' OR 1=1"}, "invalid prefix"),
])
def test_bad_input_refused(params, needle):
    with pytest.raises(TaskError) as err:
        validate_query(params)
    assert needle in err.value.msg


def module_params(**kw):
    base = dict(status="any", client_id=None, org_id=None, prefix=None, api_url="http://127.0.0.1:9",
                api_token="CANARYinfoTOKEN0003", validate_certs=True, timeout=5)
    base.update(kw)
    return base


def test_run_returns_the_listing_unchanged_in_check_mode_too():
    for check_mode in (False, True):
        result = run(module_params(status="active"), check_mode, client=IgnoringGateway(TOKENS))
        assert result["changed"] is False and result["count"] == len(result["tokens"]) > 0
        assert all(t["status"] == "active" for t in result["tokens"])


def test_run_listing_failure_names_the_endpoint_and_hides_the_token(stub):
    stub.routes[("GET", "/api/mcp-tokens")] = (500, {"Content-Type": "application/json"},
                                               {"error": {"code": "internal", "message": "db down"}})
    with pytest.raises(TaskError) as err:
        run(module_params(api_url=stub.url))
    assert err.value.msg.startswith("listing tokens failed: GET %s/api/mcp-tokens?limit=100 -> HTTP 500 internal: db down"
                                    % stub.url)
    assert err.value.msg.endswith("nothing was changed (this module never changes anything)")
    assert err.value.result == {} and "CANARYinfoTOKEN0003" not in err.value.msg


def test_run_refuses_bad_input_before_any_request(stub):
    with pytest.raises(TaskError, match="status must be one of"):
        run(module_params(api_url=stub.url, status="deleted"))
    assert stub.requests == []


@pytest.mark.parametrize("params, needle", [
    ({"org_id": "org_acme\n"}, "invalid org_id 'org_acme\\n'"),
    ({"org_id": "org_acme "}, "invalid org_id 'org_acme '"),
    ({"client_id": "ci-bot\t"}, "invalid client_id 'ci-bot\\t'"),
    ({"client_id": "ci-b\u043et"}, "invalid client_id 'ci-b\\u043et'"),
    ({"prefix": "mcp_0003\n"}, "invalid prefix 'mcp_0003\\n'"),
], ids=["org-newline", "org-space", "client-tab", "client-lookalike", "prefix-newline"])
def test_near_misses_are_refused_not_answered_with_nothing(stub, params, needle):
    """An org id with a trailing newline matched no token: an empty answer that reads as "this org has none"."""
    with pytest.raises(TaskError) as err:
        run(module_params(api_url=stub.url, **params))
    assert needle in err.value.msg and err.value.msg.endswith("nothing was listed")
    assert stub.requests == []
