"""bearer_token.bearer_problem: the event of a bad Authorization header."""

from mcpops.lab.services.bearer_token import bearer_problem

TOKEN = "tok-canary-1"


def test_bearer_problems():
    assert bearer_problem("Bearer " + TOKEN, TOKEN) is None
    assert bearer_problem("bearer  %s " % TOKEN, TOKEN) is None
    assert bearer_problem(None, TOKEN) == bearer_problem("  ", TOKEN) == "auth_failure"
    for malformed in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", TOKEN):
        assert bearer_problem(malformed, TOKEN) == "unauthorized", malformed
    assert bearer_problem("Bearer tok-canary-2", TOKEN) == "invalid_token"
    assert bearer_problem("Bearer " + TOKEN, "") == "invalid_token"  # no token configured: nothing is valid
