"""The reference gateway's reading of the identity headers (server.actor_of) and the actor on audit lines
(audit.Audit.acting): what the collection's client sends decodes to what it was given; anything else is a 400."""

import threading
from email.message import Message

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.operator_identity import OperatorIdentity
from mcpops.lab.gateway.audit import Audit
from mcpops.lab.gateway.errors import ApiError
from mcpops.lab.gateway.server import actor_of


def headers(**values):
    message = Message()
    for name, value in values.items():
        message[name.replace("_", "-")] = value
    return message


@pytest.mark.parametrize("bg, op", [("bg-oncall", "alice"), ("svc_breakglass_01", "Иван Петров"), ("50%", "o'brien")])
def test_what_the_client_sends_decodes_to_what_it_was_given(bg, op):
    sent = OperatorIdentity(bg, op).headers()
    message = Message()
    for name, value in sent.items():
        message[name] = value
    assert actor_of(message) == {"breakGlass": bg, "operator": op}


def test_no_headers_is_a_null_actor():
    assert actor_of(headers()) == {"breakGlass": None, "operator": None}
    assert actor_of(headers(X_Mcpops_Operator="bob")) == {"breakGlass": None, "operator": "bob"}


@pytest.mark.parametrize("raw", ["a\tb", " bob", "%0Abob", "%FF", "x" * 129, "%E2%80%A8", "Ä"], ids=ascii)
def test_a_bad_header_is_a_400_that_names_it_and_not_its_value(raw):
    with pytest.raises(ApiError) as exc:
        actor_of(headers(X_Mcpops_Break_Glass=raw))
    assert exc.value.status == 400 and exc.value.code == "invalid_actor"
    assert "X-Mcpops-Break-Glass" in exc.value.message and raw not in exc.value.message


def test_the_header_twice_is_refused():
    message = headers(X_Mcpops_Operator="a")
    message["X-Mcpops-Operator"] = "b"
    with pytest.raises(ApiError):
        actor_of(message)


class ListStore:
    def __init__(self):
        self.lines = []

    def append(self, name, record):
        self.lines.append((name, record))


def test_lines_written_while_acting_carry_the_actor_and_only_those():
    store = ListStore()
    audit = Audit(store)
    audit.event("auth.failed", status=401)
    with audit.acting({"breakGlass": "bg", "operator": "alice"}):
        audit.event("token.revoked", status=200, tokenId="t1")
        other = threading.Thread(target=audit.event, args=("auth.ok",))  # another request's thread: not this actor
        other.start()
        other.join()
    audit.event("tool.called", status=200)
    actors = [(record["event"], record.get("actor")) for _, record in store.lines]
    assert actors == [("auth.failed", None), ("token.revoked", {"breakGlass": "bg", "operator": "alice"}),
                      ("auth.ok", None), ("tool.called", None)]
