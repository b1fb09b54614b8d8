# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's password, as the role itself sets it: the verifier (SCRAM-SHA-256 by default) is computed by libpq on
this side, so that the new password in clear reaches no server log, pg_stat_activity or replication stream; only
`ALTER ROLE CURRENT_USER PASSWORD '<verifier>'` is sent. And the proof of a password: does the server accept it?
No Ansible here."""

from __future__ import annotations

ALGORITHMS = ("scram-sha-256", "md5")
REFUSED_SQLSTATES = ("28P01", "28000")  # invalid_password, invalid_authorization_specification


def verifier(session, role, password, algorithm):
    """The server-side form of `password` for `role`, computed by libpq (psycopg 3 or psycopg2) over `session`."""
    if session.driver == "psycopg":
        raw = session.conn.pgconn.encrypt_password(password.encode("utf-8"), role.encode("utf-8"),
                                                   algorithm.encode("ascii"))
        return raw.decode("ascii")
    import psycopg2.extensions  # psycopg2 >= 2.8

    return psycopg2.extensions.encrypt_password(password, role, session.conn, algorithm)


def set_own_password(session, role, password, algorithm):
    """ALTER ROLE CURRENT_USER with the verifier (a role may always change its own password)."""
    text = verifier(session, role, password, algorithm)
    # a utility statement takes no bind parameters: the verifier (base64, $ and :) is quoted as a literal
    session.query("ALTER ROLE CURRENT_USER PASSWORD '%s'" % text.replace("'", "''"), what="ALTER ROLE (new password)")


def is_refused(error):
    """Whether a PgError of connect() says the server refused the password (not: it is down, or a typo'd host)."""
    text = str(getattr(error, "msg", error)).lower()
    return error.sqlstate in REFUSED_SQLSTATES or "password authentication failed" in text
