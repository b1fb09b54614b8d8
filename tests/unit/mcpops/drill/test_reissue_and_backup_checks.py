"""The checks of the INC-002 and stale-backup drills (mcpops.drill.checks), on what they read, without a lab:
token_reissued (the failing token revoked, the new one the run names active for the same client, its secret in a
0600 file that holds it), backup_fresh (a backup taken since the fault, under the alert's 26 h), and the tokens check
that wants exactly the tokens the runbook issues."""

from mcpops.drill import checks
from mcpops.drill.checks import check_backup_fresh, check_token_reissued, check_tokens

FAULT = {"token_id": "tok_old", "client_id": "ci-bot"}
SAID = ("tok_new", "mcp_ab12", "ci-bot", "/runs/secrets/ci-bot-20261206T012742Z.token")
OLD = {"id": "tok_old", "clientId": "ci-bot", "prefix": "mcp_zz99", "revokedAt": "2026-12-06T01:27:00Z"}
NEW = {"id": "tok_new", "clientId": "ci-bot", "prefix": "mcp_ab12", "revokedAt": None}
SUMMARY = ("New token tok_new prefix mcp_ab12 for ci-bot (scopes tools:read); "
           "secret in /runs/secrets/ci-bot-20261206T012742Z.token (mode 0600)")


def test_a_reissue_passes_with_the_old_token_revoked_the_new_one_active_and_its_secret_in_a_0600_file():
    check = check_token_reissued("gw1", FAULT, [OLD, NEW], SAID, (0o600, True))
    assert check.ok, check.detail
    assert "tok_old revoked" in check.detail and "tok_new prefix mcp_ab12: active, of ci-bot" in check.detail
    assert checks.REISSUED_LINE.search(SUMMARY).groups() == SAID


def test_a_reissue_fails_on_each_thing_that_can_go_wrong():
    cases = {
        "no run line": ([OLD, NEW], None, (0o600, True)),
        "old still active": ([dict(OLD, revokedAt=None), NEW], SAID, (0o600, True)),
        "new revoked": ([OLD, dict(NEW, revokedAt="2026-12-06T01:28:00Z")], SAID, (0o600, True)),
        "new of another client": ([OLD, dict(NEW, clientId="n8n")], SAID, (0o600, True)),
        "new not on the gateway": ([OLD], SAID, (0o600, True)),
        "secret file missing": ([OLD, NEW], SAID, None),
        "secret file readable by others": ([OLD, NEW], SAID, (0o644, True)),
        "secret file of another token": ([OLD, NEW], SAID, (0o600, False)),
    }
    for why, (tokens, said, secret_file) in cases.items():
        assert not check_token_reissued("gw1", FAULT, tokens, said, secret_file).ok, why


def test_the_secret_never_goes_into_the_detail():
    # the check is given (mode, matches), never the secret: nothing to leak
    check = check_token_reissued("gw1", FAULT, [OLD, NEW], SAID, (0o600, False))
    assert "NOT the new token's" in check.detail and "mode 600" in check.detail


def test_backup_fresh_wants_a_backup_taken_since_the_fault_under_26_hours():
    now, fault_at = 1_800_000_000, 1_799_999_990
    assert check_backup_fresh("gw1", now - 5, fault_at, now).ok
    assert not check_backup_fresh("gw1", None, fault_at, now).ok  # no backup at all
    stale = check_backup_fresh("gw1", now - 30 * 3600, fault_at, now)  # what the fault left
    assert not stale.ok and "30.0 h old (from before the fault" in stale.detail
    assert not check_backup_fresh("gw1", fault_at - 1, fault_at, now).ok  # fresh, but not the run's
    assert not check_backup_fresh("gw1", now - 27 * 3600, None, now).ok


def test_the_tokens_check_wants_exactly_the_tokens_the_runbook_issues():
    before = {"tok_old": True, "tok_a": False}
    after = dict(before, tok_new=False)
    assert not check_tokens("gw1", before, after).ok  # a drill that issues nothing: an added token fails
    issued = check_tokens("gw1", before, after, issued=1)
    assert issued.ok and "1 issued by the run, the others unchanged" in issued.detail
    assert not check_tokens("gw1", before, before, issued=1).ok  # none issued
    assert not check_tokens("gw1", before, dict(after, tok_more=False), issued=1).ok  # two
    assert not check_tokens("gw1", before, dict(after, tok_a=True), issued=1).ok  # another token revoked
