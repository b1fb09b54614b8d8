# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_password_rotate's work: log in as the role with its current password, set the new one, then prove it - the
new password is accepted and the old one refused by the server, each on a fresh connection.

Idempotent: when the current password is refused and the new one accepted, the rotation was done already (a re-run
after a failure further on) and nothing changes. Check mode logs in with the current password (the proof that the
rotation can run) and changes nothing. No password in any result or message (connect() scrubs the login one; the
new one is scrubbed here too). No Ansible here.
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.connect import (
    DriverMissing,
    PgError,
    connect,
    missing_driver,
    where,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.role_password import (
    ALGORITHMS,
    is_refused,
    set_own_password,
)


def _try(params, password, driver):
    """None when the server accepts `password` for the login role, else the PgError."""
    try:
        with connect(dict(params, login_password=password), driver) as session:
            session.query("SELECT 1", what="SELECT 1")
    except PgError as exc:
        return exc
    return None


def _scrub(text, params):
    return str(text).replace(params["new_password"], "********") if params.get("new_password") else str(text)


def run(params, check_mode=False, *, driver=None):
    """driver: (name, module) instead of importing psycopg (tests)."""
    role, old, new = params.get("login_user"), params.get("login_password") or "", params.get("new_password") or ""
    algorithm = params.get("encryption") or ALGORITHMS[0]
    if algorithm not in ALGORITHMS:
        raise TaskError("encryption must be one of %s (got %r)" % (", ".join(ALGORITHMS), algorithm))
    if not old or not new:
        raise TaskError("login_password (the role's current password) and new_password must both be given")
    if old == new:
        raise TaskError("new_password is the current password: a rotation needs a new value. Nothing was changed.")
    result = dict(changed=False, role=role, encryption=algorithm, already_rotated=False, new_accepted=False,
                  old_refused=False)
    try:
        first = _try(params, old, driver)
        if first is not None:
            if not is_refused(first):
                raise TaskError(_scrub(first.msg, params), dict(result, sqlstate=first.sqlstate))
            # the current password refused: done already (then the new one works), or a wrong login_password
            second = _try(params, new, driver)
            if second is not None:
                raise TaskError("neither login_password nor new_password is accepted as %s: %s. Nothing was changed."
                                % (where(params), _scrub(second.msg, params)), result)
            return dict(result, already_rotated=True, new_accepted=True, old_refused=True)
        if check_mode:
            return dict(result, changed=True)
        with connect(params, driver) as session:
            set_own_password(session, role, new, algorithm)
        result["changed"] = True
        refused_new = _try(params, new, driver)
        if refused_new is not None:
            raise TaskError("the password of %s was changed, but the new one is not accepted on a new connection: %s. "
                            "Next: set it again as a superuser (ALTER ROLE) and check pg_hba.conf"
                            % (role, _scrub(refused_new.msg, params)), result)
        result["new_accepted"] = True
        refused_old = _try(params, old, driver)
        if refused_old is None:
            raise TaskError("the password of %s was changed, yet the server still accepts the OLD one: pg_hba.conf lets "
                            "this client in without a password check (trust, peer or ident). Next: require "
                            "scram-sha-256 for this role in pg_hba.conf and reload" % role, result)
        if not is_refused(refused_old):
            raise TaskError("the new password works, but the proof that the old one is refused did not get an answer: "
                            "%s" % _scrub(refused_old.msg, params), result)
        result["old_refused"] = True
        return result
    except DriverMissing as exc:
        raise missing_driver(exc, "to talk to PostgreSQL; or delegate_to a host that has it")
    except PgError as exc:
        raise TaskError(_scrub(exc.msg, params), dict(result, sqlstate=exc.sqlstate) if exc.sqlstate else result)
