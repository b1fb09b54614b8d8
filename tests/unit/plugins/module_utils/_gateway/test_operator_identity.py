"""_gateway/operator_identity.py and the client's use of it: which values may go into the identity headers, how
they are sent, that only changing calls carry them, and that a bad one stops the call before it is sent."""

from pathlib import Path

import pytest
import yaml

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.api_args import gateway_api_argument_spec
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import (
    GatewayClient,
    IdentityRefused,
    KeepAliveGatewayClient,
    is_transient,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.operator_identity import (
    BREAK_GLASS_HEADER,
    OPERATOR_HEADER,
    VALUE_PATTERN,
    OperatorIdentity,
    OperatorIdentityError,
    check_value,
    wire_value,
)

REPO = Path(__file__).resolve().parents[5]
CANARY = "CANARY-admin-token-9d1e2f"
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("value", ["bg-oncall", "svc_mcpops_breakglass_01", "alice.smith@example.org", "a",
                                   "Иван Петров", "x" * 128, "ops team (night)", "50%"])
def test_good_values_are_kept_as_given(value):
    assert check_value(value, "operator") == value


@pytest.mark.parametrize("value", ["", " bg", "bg ", "bg\n", "bg\r\n", "b\rg", "b\ng", "\tbg", "b\tg", "b\x00g",
                                   "b\x7fg", "b\x85g", "b\u2028g", "x" * 129, "\n"], ids=ascii)
def test_bad_values_are_refused_naming_the_option_and_the_rule(value):
    with pytest.raises(OperatorIdentityError) as exc:
        check_value(value, "break_glass_account")
    text = str(exc.value)
    assert text.startswith("break_glass_account ") and "1-128 characters" in text and "no CR, LF or tab" in text
    assert "\n" not in text and "\r" not in text  # the refusal never carries the control characters it refuses


def test_a_non_string_is_refused():
    with pytest.raises(OperatorIdentityError, match="operator int"):
        check_value(5, "operator")


def test_the_wire_value_is_printable_ascii_and_keeps_plain_names_readable():
    assert wire_value("alice.smith@example.org") == "alice.smith@example.org"
    assert wire_value("ops team (night)") == "ops team (night)"
    assert wire_value("50%") == "50%25"
    encoded = wire_value("Иван")
    assert encoded == "%D0%98%D0%B2%D0%B0%D0%BD" and encoded.isascii()


def test_blank_values_are_not_given_and_send_no_header():
    assert OperatorIdentity("", None).headers() == {}
    assert OperatorIdentity.from_params({}).as_dict() == {"break_glass_account": None, "operator": None}
    identity = OperatorIdentity.from_params({"break_glass_account": "bg-oncall", "operator": "Иван"})
    assert identity.headers() == {BREAK_GLASS_HEADER: "bg-oncall", OPERATOR_HEADER: "%D0%98%D0%B2%D0%B0%D0%BD"}
    assert identity.problem() is None
    assert "operator" in OperatorIdentity("bg", "bob\n").problem()


def test_every_gateway_module_gets_the_two_options():
    spec = gateway_api_argument_spec(api_url_default=None, token_required=False)
    assert spec["break_glass_account"] == {"type": "str"} and spec["operator"] == {"type": "str"}


def test_the_role_checks_with_the_same_pattern():
    role_vars = yaml.safe_load((REPO / "roles/operator_identity/vars/main.yml").read_text())
    assert role_vars["operator_identity_value_pattern"] == VALUE_PATTERN


# -- the client -------------------------------------------------------------------------------------


def client_for(stub, **identity):
    params = {"api_url": stub.url, "api_token": CANARY, "validate_certs": True, "timeout": 5}
    params.update(identity)
    return GatewayClient.from_params(params)


def test_changing_calls_carry_the_identity_and_reads_do_not(stub):
    stub.routes[("POST", "/api/mcp-tokens/t1/revoke")] = (200, JSON, {"token": {"id": "t1"}, "alreadyRevoked": False})
    stub.routes[("PATCH", "/api/mcp-tokens/t1")] = (200, JSON, {"token": {"id": "t1"}})
    stub.routes[("POST", "/api/system/backups")] = (201, JSON, {"backup": {"id": "b1"}})
    stub.routes[("GET", "/api/system/jobs")] = (200, JSON, {"jobs": []})
    client = client_for(stub, break_glass_account="bg-oncall", operator="Иван")
    client.revoke_token("t1")
    client.update_token("t1", {"blocked": True})
    client.create_backup()
    client.jobs()
    sent = [(r["method"], r["headers"].get(BREAK_GLASS_HEADER), r["headers"].get(OPERATOR_HEADER)) for r in stub.requests]
    assert sent == [("POST", "bg-oncall", "%D0%98%D0%B2%D0%B0%D0%BD"), ("PATCH", "bg-oncall", "%D0%98%D0%B2%D0%B0%D0%BD"),
                    ("POST", "bg-oncall", "%D0%98%D0%B2%D0%B0%D0%BD"), ("GET", None, None)]


def test_no_identity_sends_no_header(stub):
    stub.routes[("POST", "/api/system/backups")] = (201, JSON, {"backup": {"id": "b1"}})
    client_for(stub).create_backup()
    headers = stub.requests[0]["headers"]
    assert BREAK_GLASS_HEADER not in headers and OPERATOR_HEADER not in headers


@pytest.mark.parametrize("identity", [{"break_glass_account": "bg\n"}, {"operator": "alice\r\nX-Evil: 1"},
                                      {"operator": "y" * 200}], ids=["bg-newline", "header-injection", "too-long"])
def test_a_bad_identity_stops_a_change_before_it_is_sent_and_is_not_retried(stub, identity):
    stub.routes[("POST", "/api/mcp-tokens/t1/revoke")] = (200, JSON, {"token": {"id": "t1"}, "alreadyRevoked": False})
    stub.routes[("GET", "/api/system/jobs")] = (200, JSON, {"jobs": []})
    client = client_for(stub, **identity)
    assert client.jobs() == []  # reads carry no identity: they go on
    with pytest.raises(IdentityRefused) as exc:
        client.revoke_token("t1")
    assert [r["method"] for r in stub.requests] == ["GET"]  # the revoke never left
    text = str(exc.value)
    assert text.startswith("POST %s/api/mcp-tokens/t1/revoke: not sent, nothing was changed: " % stub.url)
    assert exc.value.code == "invalid_operator_identity" and not is_transient(exc.value)
    assert CANARY not in text and "\n" not in text and "\r" not in text


def test_the_keep_alive_client_carries_it_too(stub):
    stub.routes[("POST", "/api/mcp-tokens/t1/revoke")] = (200, JSON, {"token": {"id": "t1"}, "alreadyRevoked": True})
    client = KeepAliveGatewayClient.from_params({"api_url": stub.url, "api_token": CANARY, "break_glass_account": "bg-1",
                                                 "operator": "bob"})
    try:
        assert client.revoke_token("t1") == ({"id": "t1"}, True)
    finally:
        client.close()
    assert (stub.requests[0]["headers"][BREAK_GLASS_HEADER], stub.requests[0]["headers"][OPERATOR_HEADER]) == ("bg-1", "bob")
