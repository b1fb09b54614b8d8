# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What audit_chain_verify does: read the chain, check every link and signature, say where it first breaks and
which records were signed in software fallback. Read-only, so check mode runs it whole."""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._auditchain.chain_links import ChainWalk
from ansible_collections.mcpops.runbooks.plugins.module_utils._auditchain.chain_reader import check_table, records
from ansible_collections.mcpops.runbooks.plugins.module_utils._auditchain.signatures import (
    Verifier,
    fetch_public_key,
    read_public_key,
    require_cryptography,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg import connect as pg


def hsm_key(params, fetch=fetch_public_key):
    if params.get("hsm_public_key"):
        return read_public_key(params["hsm_public_key"])
    if params.get("hsm_public_key_url"):
        return fetch(params["hsm_public_key_url"], ca_cert=params.get("hsm_ca_cert") or "",
                     validate_certs=params.get("hsm_validate_certs", True))
    raise TaskError("give hsm_public_key (a PEM file) or hsm_public_key_url (the HSM service's /public-key)")


def summary(result, table):
    if result["ok"]:
        text = "the audit chain in %s verifies: %d records" % (table, result["records"])
    else:
        broken = result["first_broken"]
        text = ("the audit chain in %s is BROKEN at record %s (%s: %s); %d problems in %d records"
                % (table, broken["id"], broken["problem"], broken["detail"], result["problem_count"],
                   result["records"]))
    if result["fallback"]["count"]:
        fb = result["fallback"]
        text += "; %d records signed by the software fallback (%s .. %s)" % (
            fb["count"], fb["first_ts"], fb["last_ts"])
    return text


def run(params, check_mode=False, connect=pg.connect, fetch=fetch_public_key):
    table = check_table(params.get("table") or "audit_log")
    require_cryptography()
    fallback_key = read_public_key(params["fallback_public_key"]) if params.get("fallback_public_key") else None
    verifier = Verifier(hsm_key(params, fetch), fallback_key)
    walk = ChainWalk(verifier)
    try:
        with connect(params) as session:
            session.query("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", what="a read-only session")
            for record in records(session, table):
                walk.feed(record)
    except pg.DriverMissing as exc:
        raise pg.missing_driver(exc, "to read the audit chain from PostgreSQL")
    except pg.PgError as exc:
        raise TaskError(exc.msg)
    result = walk.result()
    result.update(changed=False, table=table)
    if not result["ok"] and params.get("fail_on_broken", True):
        raise TaskError(summary(result, table), result)
    result["msg"] = summary(result, table)
    return result
