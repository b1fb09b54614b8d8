"""token_issue without Ansible or a server: an in-process fake client for issue/update, check mode, diff,
and the secret never kept when it cannot be written (the token is revoked again)."""

import os
import stat

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils import token_issue
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import GatewayError
from ansible_collections.mcpops.runbooks.plugins.module_utils.token_issue import (
    TokenIssueError,
    normalize_expires_at,
    run_mcp_token,
)

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
def fake(monkeypatch):
    client = FakeClient([{"id": "tok_1", "prefix": "mcp_0001", "rateLimit": {"requestsPerMinute": 60}, "blocked": False,
                          "expiresAt": "2030-01-01T00:00:00Z", "revokedAt": None}])
    monkeypatch.setattr(token_issue, "_client", lambda params: client)
    return client


def params(**kw):
    base = dict(api_url="http://127.0.0.1:1", api_token="adm", validate_certs=True, timeout=5)
    base.update(kw)
    return base


def issue_params(tmp_path, **kw):
    return params(client_id="cursor-ide", org_id="org_acme", scopes=["tools:read"], rate_limit=30, expires_in=60,
                  secret_dest=str(tmp_path / "t.token"), **kw)


def test_issue_writes_secret_0600_and_returns_only_record_and_prefix(fake, tmp_path):
    result = run_mcp_token(issue_params(tmp_path))
    assert result["changed"] and result["prefix"] == "mcp_ab12" and result["token"]["id"] == "tok_new"
    assert SECRET not in repr(result)
    path = tmp_path / "t.token"
    assert path.read_text() == SECRET + "\n" and stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert fake.calls[0] == ("issue", {"clientId": "cursor-ide", "orgId": "org_acme", "scopes": ["tools:read"],
                                       "rateLimit": {"requestsPerMinute": 30}, "expiresIn": 60})


def test_issue_check_mode_sends_nothing_writes_nothing(fake, tmp_path):
    result = run_mcp_token(issue_params(tmp_path), check_mode=True)
    assert result["changed"] and result["token"]["id"] is None and fake.calls == [] and os.listdir(str(tmp_path)) == []


def test_issue_refused_before_issuing(fake, tmp_path):
    with pytest.raises(TokenIssueError) as exc:
        run_mcp_token(issue_params(tmp_path, blocked=True))
    assert "only apply to an existing token" in exc.value.msg
    with pytest.raises(TokenIssueError) as exc:
        run_mcp_token(params(client_id="c", org_id="o", scopes=["tools:read"], secret_dest=str(tmp_path / "no" / "t")))
    assert "does not exist" in exc.value.msg
    with pytest.raises(TokenIssueError) as exc:
        run_mcp_token(params(client_id="c", scopes=["tools:read"], secret_dest=str(tmp_path / "t")))
    assert "org_id" in exc.value.msg
    assert fake.calls == []


def test_secret_that_cannot_be_written_is_revoked_again(fake, tmp_path, monkeypatch):
    def broken(path, secret, newline=True):
        raise token_issue.SecretFileError("writing secret_dest %s failed: disk full" % path)
    monkeypatch.setattr(token_issue, "write_secret_file", broken)
    with pytest.raises(TokenIssueError) as exc:
        run_mcp_token(issue_params(tmp_path))
    assert "revoked again" in exc.value.msg and SECRET not in exc.value.msg
    assert [c[0] for c in fake.calls] == ["issue", "revoke"] and fake.tokens["tok_new"]["revokedAt"]


def test_update_patches_only_what_differs_with_diff(fake):
    result = run_mcp_token(params(id="tok_1", rate_limit=60, blocked=True, expires_at="2030-01-01T01:00:00+01:00"), diff=True)
    assert result["changed"] and fake.calls[-1] == ("patch", "tok_1", {"blocked": True})
    assert result["diff"]["before"] == {"blocked": False} and result["diff"]["after"] == {"blocked": True}
    again = run_mcp_token(params(id="tok_1", rate_limit=60, blocked=True), diff=True)
    assert again["changed"] is False and "diff" not in again and fake.calls[-1] == ("get", "tok_1")


def test_update_check_mode_and_unknown_id(fake):
    result = run_mcp_token(params(id="tok_1", rate_limit=5, expires_at="never"), check_mode=True)
    assert result["changed"] and result["token"]["rateLimit"] == {"requestsPerMinute": 5} and result["token"]["expiresAt"] is None
    assert [c[0] for c in fake.calls] == ["get"]
    with pytest.raises(TokenIssueError) as exc:
        run_mcp_token(params(id="tok_nope", blocked=True))
    assert "no token with id tok_nope" in exc.value.msg
    with pytest.raises(TokenIssueError) as exc:
        run_mcp_token(params(id="../etc", blocked=True))
    assert "invalid token id" in exc.value.msg
    with pytest.raises(TokenIssueError):
        run_mcp_token(params(id="tok_1"))


def test_normalize_expires_at():
    assert normalize_expires_at("2031-02-03T04:05:06.789+01:00") == "2031-02-03T03:05:06Z"
    assert normalize_expires_at("NEVER") is None and normalize_expires_at(None) is None
    with pytest.raises(ValueError):
        normalize_expires_at("tomorrow")
