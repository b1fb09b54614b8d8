"""_token/mcp_token_run.py without Ansible or a server: an in-process fake client for issue/update, check mode, diff,
and the secret never kept when it cannot be written (the token is revoked again)."""

import os
import stat

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import GatewayError
from ansible_collections.mcpops.runbooks.plugins.module_utils._token import mcp_token_run
from ansible_collections.mcpops.runbooks.plugins.module_utils._token.mcp_token_run import normalize_expires_at

SECRET = "mcp_ab12" + "q" * 40


class FakeClient:
    def __init__(self, tokens=None):
        self.tokens = dict((t["id"], dict(t)) for t in tokens or [])
        self.calls = []

    def issue_token(self, body):
        self.calls.append(("issue", body))
        record = dict(id="tok_new", prefix="mcp_ab12", clientId=body["clientId"], orgId=body["orgId"], scopes=body["scopes"],
                      rateLimit=body.get("rateLimit", {"requestsPerMinute": 60}), blocked=False, revokedAt=None, expiresAt=None)
        self.tokens["tok_new"] = record
        return dict(record), SECRET

    def get_token(self, token_id):
        self.calls.append(("get", token_id))
        if token_id not in self.tokens:
            raise GatewayError("GET", "/api/mcp-tokens/" + token_id, 404, "token_not_found", "no token")
        return dict(self.tokens[token_id])

    def update_token(self, token_id, body):
        self.calls.append(("patch", token_id, body))
        self.tokens[token_id].update(body)
        return dict(self.tokens[token_id])

    def revoke_token(self, token_id):
        self.calls.append(("revoke", token_id))
        self.tokens[token_id]["revokedAt"] = "now"
        return self.tokens[token_id], False


@pytest.fixture
def fake():
    return FakeClient([{"id": "tok_1", "prefix": "mcp_0001", "rateLimit": {"requestsPerMinute": 60}, "blocked": False,
                        "expiresAt": "2030-01-01T00:00:00Z", "revokedAt": None}])


@pytest.fixture
def run_mcp_token(fake):
    """run() with the fake client, as the module calls it otherwise."""
    def call(params, check_mode=False, diff=False):
        return mcp_token_run.run(params, check_mode, diff=diff, client=fake)
    return call


def params(**kw):
    base = dict(api_url="http://127.0.0.1:1", api_token="adm", validate_certs=True, timeout=5)
    base.update(kw)
    return base


def issue_params(tmp_path, **kw):
    return params(client_id="cursor-ide", org_id="org_acme", scopes=["tools:read"], rate_limit=30, expires_in=60,
                  secret_dest=str(tmp_path / "t.token"), **kw)


def test_issue_writes_secret_0600_and_returns_only_record_and_prefix(fake, tmp_path, run_mcp_token):
    result = run_mcp_token(issue_params(tmp_path))
    assert result["changed"] and result["prefix"] == "mcp_ab12" and result["token"]["id"] == "tok_new"
    assert SECRET not in repr(result)
    path = tmp_path / "t.token"
    assert path.read_text() == SECRET + "\n" and stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert fake.calls[0] == ("issue", {"clientId": "cursor-ide", "orgId": "org_acme", "scopes": ["tools:read"],
                                       "rateLimit": {"requestsPerMinute": 30}, "expiresIn": 60})


def test_issue_check_mode_sends_nothing_writes_nothing(fake, tmp_path, run_mcp_token):
    result = run_mcp_token(issue_params(tmp_path), check_mode=True)
    assert result["changed"] and result["token"]["id"] is None and fake.calls == [] and os.listdir(str(tmp_path)) == []


def test_issue_refused_before_issuing(fake, tmp_path, run_mcp_token):
    with pytest.raises(TaskError) as exc:
        run_mcp_token(issue_params(tmp_path, blocked=True))
    assert "only apply to an existing token" in exc.value.msg
    with pytest.raises(TaskError) as exc:
        run_mcp_token(params(client_id="c", org_id="o", scopes=["tools:read"], secret_dest=str(tmp_path / "no" / "t")))
    assert "does not exist" in exc.value.msg
    with pytest.raises(TaskError) as exc:
        run_mcp_token(params(client_id="c", scopes=["tools:read"], secret_dest=str(tmp_path / "t")))
    assert "org_id" in exc.value.msg
    assert fake.calls == []


def test_secret_that_cannot_be_written_is_revoked_again(fake, tmp_path, monkeypatch, run_mcp_token):
    def broken(path, secret, newline=True):
        raise mcp_token_run.SecretFileError("writing secret_dest %s failed: disk full" % path)
    monkeypatch.setattr(mcp_token_run, "write_secret_file", broken)
    with pytest.raises(TaskError) as exc:
        run_mcp_token(issue_params(tmp_path))
    assert "revoked again" in exc.value.msg and SECRET not in exc.value.msg
    assert [c[0] for c in fake.calls] == ["issue", "revoke"] and fake.tokens["tok_new"]["revokedAt"]


def test_update_patches_only_what_differs_with_diff(fake, run_mcp_token):
    result = run_mcp_token(params(id="tok_1", rate_limit=60, blocked=True, expires_at="2030-01-01T01:00:00+01:00"), diff=True)
    assert result["changed"] and fake.calls[-1] == ("patch", "tok_1", {"blocked": True})
    assert result["diff"]["before"] == {"blocked": False} and result["diff"]["after"] == {"blocked": True}
    again = run_mcp_token(params(id="tok_1", rate_limit=60, blocked=True), diff=True)
    assert again["changed"] is False and "diff" not in again and fake.calls[-1] == ("get", "tok_1")


def test_update_check_mode_and_unknown_id(fake, run_mcp_token):
    result = run_mcp_token(params(id="tok_1", rate_limit=5, expires_at="never"), check_mode=True)
    assert result["changed"] and result["token"]["rateLimit"] == {"requestsPerMinute": 5} and result["token"]["expiresAt"] is None
    assert [c[0] for c in fake.calls] == ["get"]
    with pytest.raises(TaskError) as exc:
        run_mcp_token(params(id="tok_nope", blocked=True))
    assert "no token with id tok_nope" in exc.value.msg
    with pytest.raises(TaskError) as exc:
        run_mcp_token(params(id="../etc", blocked=True))
    assert "invalid token id" in exc.value.msg
    with pytest.raises(TaskError):
        run_mcp_token(params(id="tok_1"))


def test_normalize_expires_at():
    assert normalize_expires_at("2031-02-03T04:05:06.789+01:00") == "2031-02-03T03:05:06Z"
    assert normalize_expires_at("NEVER") is None and normalize_expires_at(None) is None
    with pytest.raises(ValueError):
        normalize_expires_at("tomorrow")


def test_run_without_admin_token_fails_after_the_input_checks(tmp_path):
    with pytest.raises(TaskError) as exc:
        mcp_token_run.run(params(api_token=None, id="tok_1", blocked=True))
    assert exc.value.msg == "api_token (the admin token) is required"
    assert exc.value.result == {"changed": False, "token": None, "prefix": None}
    with pytest.raises(TaskError, match="only apply to an existing token"):
        mcp_token_run.run(issue_params(tmp_path, api_token=None, blocked=True))


def test_run_through_the_real_client(stub, tmp_path):
    stub.routes[("POST", "/api/mcp-tokens")] = (201, {"Content-Type": "application/json"},
                                                {"token": {"id": "tok_9", "prefix": "mcp_9999", "secretHash": "x"}, "secret": SECRET})
    result = mcp_token_run.run(issue_params(tmp_path, api_url=stub.url))
    assert result["token"] == {"id": "tok_9", "prefix": "mcp_9999"} and result["prefix"] == "mcp_9999"
    assert stub.requests[0]["headers"]["Authorization"] == "Bearer adm"
    assert (tmp_path / "t.token").read_text() == SECRET + "\n"


@pytest.mark.parametrize("option, value", [
    ("org_id", "org_acme\n"), ("org_id", "org_acme "), ("org_id", ""), ("client_id", "cursor-ide\t"),
    ("client_id", "cursor-\u0456de"), ("client_id", " cursor-ide"),
], ids=["org-newline", "org-space", "org-empty", "client-tab", "client-lookalike", "client-leading-space"])
def test_issue_refuses_names_that_token_revoke_could_never_select(fake, tmp_path, run_mcp_token, option, value):
    with pytest.raises(TaskError) as exc:
        run_mcp_token(params(**dict({"client_id": "cursor-ide", "org_id": "org_acme", "scopes": ["tools:read"],
                                     "secret_dest": str(tmp_path / "t.token")}, **{option: value})))
    assert option in exc.value.msg and "nothing was issued" in exc.value.msg
    assert fake.calls == [] and os.listdir(str(tmp_path)) == []
