"""The Bearer-token check of connector-mcp's /api/me: what is wrong with an Authorization header, as the event its
log line names: auth_failure (no header), unauthorized (not `Bearer <token>`), invalid_token (a token, not the one;
also every token when the backend has none configured). Compared in constant time; the token is never echoed."""

import hmac

AUTH_FAILURE = "auth_failure"
UNAUTHORIZED = "unauthorized"
INVALID_TOKEN = "invalid_token"


def bearer_problem(header, expected):
    """None when `header` carries the expected token, else the event that names the problem."""
    if header is None or not header.strip():
        return AUTH_FAILURE
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return UNAUTHORIZED
    if not expected or not hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8")):
        return INVALID_TOKEN
    return None
