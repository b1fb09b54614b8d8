"""_token/selection.py: filters refused before any request, AND of filters, nextCursor pagination, status split."""

import datetime as dt

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import GatewayError
from ansible_collections.mcpops.runbooks.plugins.module_utils._token.selection import (
    SelectionError,
    parse_ts,
    select_tokens,
    token_status,
    validate_filters,
)

NOW = dt.datetime(2026, 11, 23, 12, 0, 0, tzinfo=dt.timezone.utc)
PAST = "2026-11-01T00:00:00Z"
FUTURE = "2027-01-01T00:00:00Z"


def tok(n, org="org_acme", client="cursor-ide", revoked=None, expires=None):
    return {"id": "tok_%04d" % n, "prefix": "mcp_%04x" % n, "clientId": client, "orgId": org,
            "revokedAt": revoked, "expiresAt": expires, "scopes": ["tools:read"]}


class FakeClient:
    """The gateway's listing semantics in process: server-side filters, pages of `limit`, opaque cursors."""

    def __init__(self, tokens, page_limit_cap=100):
        self.tokens = tokens
        self.cap = page_limit_cap
        self.calls = []

    def list_tokens(self, params, cursor=None):
        self.calls.append(("list", dict(params), cursor))
        rows = [t for t in self.tokens
                if (params.get("orgId") is None or t["orgId"] == params["orgId"])
                and (params.get("clientId") is None or t["clientId"] == params["clientId"])
                and (params.get("prefix") is None or t["prefix"].startswith(params["prefix"]))]
        start = int(cursor) if cursor else 0
        limit = min(params.get("limit", 50), self.cap)
        page = rows[start:start + limit]
        more = start + limit < len(rows)
        return page, (str(start + limit) if more else None)

    def get_token(self, token_id):
        self.calls.append(("get", token_id))
        for t in self.tokens:
            if t["id"] == token_id:
                return dict(t)
        raise GatewayError("GET", "/api/mcp-tokens/" + token_id, 404, "token_not_found", "no token")


def filters(**kw):
    return validate_filters(kw)


@pytest.mark.parametrize("params,needle", [
    ({}, "no filter given"),
    ({"status": "any"}, "no filter given"),
    ({"org_id": "org_acme"}, "all_in_org: true to confirm"),
    ({"all_in_org": True}, "needs an explicit org_id"),
    ({"all_in_org": True, "org_id": "o", "client_id": "c"}, "do not combine"),
    ({"ids": ["../x"]}, "invalid token id"),
    ({"ids": ["ok", "a/b"]}, "invalid token id"),
    ({"ids": [".."]}, "only dots"),
    ({"ids": ["x" * 129]}, "invalid token id"),
    ({"prefixes": ["mcp_"]}, "invalid prefix"),
    ({"prefixes": ["mc"]}, "invalid prefix"),
    ({"ids": ["tok_1"], "status": "revoked"}, "status must be"),
])
def test_refused_before_any_request(params, needle):
    with pytest.raises(SelectionError) as exc:
        validate_filters(params)
    assert needle in str(exc.value)


def test_accepted_filters_are_normalized():
    f = filters(ids=["tok_1", "tok_1", "a.b-c_D"], client_id="ci-bot")
    assert f["ids"] == ["tok_1", "a.b-c_D"] and f["status"] == "active" and f["client_id"] == "ci-bot"
    assert filters(org_id="org_acme", all_in_org=True)["org_id"] == "org_acme"
    assert filters(org_id="org_acme", client_id="ci-bot")["client_id"] == "ci-bot"


def test_pagination_follows_next_cursor_to_the_end():
    tokens = [tok(n) for n in range(250)] + [tok(1000 + n, org="org_globex") for n in range(30)]
    client = FakeClient(tokens)
    sel = select_tokens(client, filters(org_id="org_acme", all_in_org=True), now=NOW)
    assert [t["id"] for t in sel.to_revoke] == ["tok_%04d" % n for n in range(250)]
    lists = [c for c in client.calls if c[0] == "list"]
    assert len(lists) == 3 and all(c[1]["limit"] == 100 and c[1]["orgId"] == "org_acme" for c in lists)
    assert [c[2] for c in lists] == [None, "100", "200"]


def test_a_cursor_that_does_not_advance_is_an_error():
    class Loop(FakeClient):
        def list_tokens(self, params, cursor=None):
            return [tok(1)], "same"
    with pytest.raises(SelectionError) as exc:
        select_tokens(Loop([]), filters(client_id="cursor-ide"), now=NOW)
    assert "twice" in str(exc.value)


def test_status_split_revoked_expired_active():
    tokens = [tok(1), tok(2, revoked=PAST), tok(3, expires=PAST), tok(4, expires=FUTURE), tok(5, client="ci-bot")]
    sel = select_tokens(FakeClient(tokens), filters(client_id="cursor-ide"), now=NOW)
    assert [t["id"] for t in sel.to_revoke] == ["tok_0001", "tok_0004"]
    assert [t["id"] for t in sel.already_revoked] == ["tok_0002"]
    assert sel.skipped == [{"id": "tok_0003", "prefix": "mcp_0003", "clientId": "cursor-ide", "orgId": "org_acme", "status": "expired"}]
    expired = select_tokens(FakeClient(tokens), filters(client_id="cursor-ide", status="expired"), now=NOW)
    assert [t["id"] for t in expired.to_revoke] == ["tok_0003"]
    both = select_tokens(FakeClient(tokens), filters(client_id="cursor-ide", status="any"), now=NOW)
    assert [t["id"] for t in both.to_revoke] == ["tok_0001", "tok_0003", "tok_0004"]


def test_ids_are_fetched_one_by_one_and_unknown_ones_reported():
    tokens = [tok(1), tok(2, revoked=PAST), tok(3, org="org_globex")]
    client = FakeClient(tokens)
    sel = select_tokens(client, filters(ids=["tok_0001", "tok_0002", "tok_nope", "tok_0003"], org_id="org_acme"), now=NOW)
    assert [t["id"] for t in sel.to_revoke] == ["tok_0001"]
    assert [t["id"] for t in sel.already_revoked] == ["tok_0002"]
    assert sel.not_found == [{"id": "tok_nope", "prefix": None, "clientId": None, "orgId": None}]
    assert not [c for c in client.calls if c[0] == "list"]


def test_prefixes_any_of_and_with_client():
    tokens = [tok(0x1a01), tok(0x1a02, client="ci-bot"), tok(0x2b01), tok(0x3c01)]
    sel = select_tokens(FakeClient(tokens), filters(prefixes=["mcp_1a", "mcp_2b01"], client_id="cursor-ide"), now=NOW)
    assert sorted(t["prefix"] for t in sel.to_revoke) == ["mcp_1a01", "mcp_2b01"]


def test_other_errors_of_get_propagate():
    class Broken(FakeClient):
        def get_token(self, token_id):
            raise GatewayError("GET", "/api/mcp-tokens/x", 500, None, "boom")
    with pytest.raises(GatewayError):
        select_tokens(Broken([]), filters(ids=["x"]), now=NOW)


def test_timestamps_and_status():
    assert parse_ts("2026-11-23T10:00:00.123Z") == dt.datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=dt.timezone.utc)
    assert parse_ts("2026-11-23T12:00:00+02:00") == dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)
    assert token_status({"expiresAt": "garbage"}, NOW) == "expired"
    assert token_status({"expiresAt": None}, NOW) == "active"


# -- every filter value must match its whole pattern (issue 23: "org_acme\n" selected nothing, and INC-006 went on) --

# Values that look like a good one to an operator in a hurry: a trailing newline (`$` matched before it), a
# trailing or leading space, a tab, a NUL, a unicode look-alike (Cyrillic а, fullwidth ｏ), a Unicode digit, empty.
NEAR_MISSES = ["org_acme\n", "org_acme ", " org_acme", "org_acme\t", "org\tacme", "org_acme\x00", "org_acme\r\n",
               "org_\u0430cme", "\uff4frg_acme", "org_acme\u0661", "org_acme\u00a0", "\n"]


@pytest.mark.parametrize("value", NEAR_MISSES, ids=ascii)
@pytest.mark.parametrize("option", ["org_id", "client_id"])
def test_client_and_org_ids_must_match_the_whole_pattern(option, value):
    params = {"org_id": value, "all_in_org": True} if option == "org_id" else {"client_id": value}
    with pytest.raises(SelectionError) as exc:
        validate_filters(params)
    msg = str(exc.value)
    assert msg.startswith("invalid %s %s: must be 1-128 ASCII letters" % (option, ascii(value)))
    assert msg.endswith("nothing was revoked")
    assert "\n" not in msg and "\t" not in msg  # the value is shown escaped, never raw


@pytest.mark.parametrize("value", ["mcp_ab12\n", "mcp_ab12 ", "mcp_ab12\t", "mcp_\u0430b12", "mcp_ab12\r"], ids=ascii)
def test_prefixes_must_match_the_whole_pattern(value):
    with pytest.raises(SelectionError) as exc:
        validate_filters({"prefixes": ["mcp_ab12", value]})
    assert "invalid prefix %s" % ascii(value) in str(exc.value)


@pytest.mark.parametrize("value", ["tok_0001\n", "tok_0001 ", "tok_0001\t", "tok_\u0430001", "tok_0001\r\n"], ids=ascii)
def test_ids_must_match_the_whole_pattern(value):
    with pytest.raises(SelectionError) as exc:
        validate_filters({"ids": ["tok_0002", value]})
    assert "invalid token id" in str(exc.value) and str(exc.value).endswith("nothing was revoked")


@pytest.mark.parametrize("value", [5, ["org_acme"], {"org": "org_acme"}], ids=["int", "list", "dict"])
def test_an_org_id_that_is_not_a_string_is_refused(value):
    with pytest.raises(SelectionError, match="invalid org_id"):
        validate_filters({"org_id": value, "all_in_org": True})


def test_an_empty_org_id_is_no_org_id():
    with pytest.raises(SelectionError, match="needs an explicit org_id"):
        validate_filters({"org_id": "", "all_in_org": True})


@pytest.mark.parametrize("value", ["o", "org_acme", "Org.Acme-2", "a" * 128, "0rg"])
def test_good_names_still_pass(value):
    assert validate_filters({"org_id": value, "all_in_org": True})["org_id"] == value
    assert validate_filters({"client_id": value})["client_id"] == value


@pytest.mark.parametrize("value", ["a" * 129, "-org", ".org", "_org", "org/acme", "org acme"])
def test_names_outside_the_pattern_are_refused(value):
    with pytest.raises(SelectionError, match="invalid org_id"):
        validate_filters({"org_id": value, "all_in_org": True})


def test_the_refused_value_is_shown_cut_short():
    with pytest.raises(SelectionError) as exc:
        validate_filters({"org_id": "x" * 5000 + "\n", "all_in_org": True})
    assert len(str(exc.value)) < 400 and "..." in str(exc.value)


def test_a_refused_org_sends_no_request():
    client = FakeClient([tok(1)])
    with pytest.raises(SelectionError):
        select_tokens(client, validate_filters({"org_id": "org_acme\n", "all_in_org": True}), now=NOW)
    assert client.calls == []
