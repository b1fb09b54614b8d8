"""The chain's rule record by record: the hash over content and link, the link to the previous record, the signer's
signature; tampering of each kind is found at the record where it happened, and the lab's writer hashes the same way."""

import base64
import copy
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from ansible_collections.mcpops.runbooks.plugins.module_utils._auditchain.chain_links import (
    GENESIS,
    MAX_PROBLEMS,
    ChainWalk,
    record_digest,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._auditchain.signatures import Verifier
from mcpops.lab.services import lego_audit_chain

HSM_KEY = ec.generate_private_key(ec.SECP256R1())
FALLBACK_KEY = ec.generate_private_key(ec.SECP256R1())


def sign(key, digest):
    return base64.b64encode(key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))).decode()


def make_chain(n, fallback_ids=()):
    records, prev = [], GENESIS
    for i in range(1, n + 1):
        record = {"id": i, "ts": "2026-12-05T10:00:%02d.000Z" % i, "actor": "shift-lead", "action": "equipment.status",
                  "payload": json.dumps({"equipment_id": "PRN-001", "to": "idle", "n": i}), "prev_hash": prev}
        digest = record_digest(record)
        signed_by = "software-fallback" if i in fallback_ids else "hsm"
        record.update(hash=digest.hex(), signed_by=signed_by,
                      signature=sign(FALLBACK_KEY if i in fallback_ids else HSM_KEY, digest))
        records.append(record)
        prev = record["hash"]
    return records


def walk(records, fallback=True):
    chain = ChainWalk(Verifier(HSM_KEY.public_key(), FALLBACK_KEY.public_key() if fallback else None))
    for record in records:
        chain.feed(record)
    return chain.result()


def test_an_intact_chain_verifies_and_lists_its_fallback_records():
    result = walk(make_chain(5, fallback_ids=(2, 3)))
    assert result["ok"] and result["records"] == 5 and result["first_broken"] is None
    assert result["fallback"] == {"count": 2, "ids": [2, 3], "first_ts": "2026-12-05T10:00:02.000Z",
                                  "last_ts": "2026-12-05T10:00:03.000Z"}
    assert result["head"]["id"] == 5


def test_changed_content_is_a_hash_mismatch_at_that_record_only():
    records = make_chain(4)
    records[1]["actor"] = "intruder"
    result = walk(records)
    assert not result["ok"]
    assert [(p["id"], p["problem"]) for p in result["problems"]] == [(2, "hash_mismatch")]


def test_a_rehashed_record_breaks_the_next_link_and_its_signature():
    records = make_chain(4)
    records[1]["payload"] = "{}"
    records[1]["hash"] = record_digest(records[1]).hex()  # recomputed, but the HSM did not sign it
    result = walk(records)
    assert [(p["id"], p["problem"]) for p in result["problems"]] == [(2, "bad_signature"), (3, "broken_link")]


def test_a_removed_record_and_a_false_start_are_broken_links():
    records = make_chain(4)
    assert walk(records[:1] + records[2:])["first_broken"]["id"] == 3
    result = walk(records[1:])  # the first record is gone: the chain does not start at genesis
    assert (result["first_broken"]["id"], result["first_broken"]["problem"]) == (2, "broken_link")


def test_signer_problems():
    records = make_chain(3, fallback_ids=(2,))
    assert [p["id"] for p in walk(records, fallback=False)["problems"]] == [2]  # no fallback key: unverifiable
    forged = copy.deepcopy(records)
    forged[2]["signed_by"] = "software-fallback"  # an HSM record claimed by the fallback key
    assert walk(forged)["first_broken"]["problem"] == "bad_signature"
    forged[2]["signed_by"] = "hsm"
    forged[2]["hash"] = "not hex"
    assert [p["problem"] for p in walk(forged)["problems"]] == ["hash_mismatch", "bad_signature"]
    forged[2]["hash"] = records[2]["hash"]
    forged[2]["signed_by"] = "nobody"
    assert walk(forged)["first_broken"]["problem"] == "unknown_signer"


def test_problems_are_capped_but_counted():
    records = make_chain(MAX_PROBLEMS + 5)
    for record in records:
        record["actor"] = "x"
    result = walk(records)
    assert len(result["problems"]) == MAX_PROBLEMS and result["problem_count"] == MAX_PROBLEMS + 5


@pytest.mark.parametrize("payload", [{"equipment_id": "PRN-001", "from": "idle", "to": "maintenance"},
                                     {"note": "Grüße \"quoted\" \u2603", "n": [1, 2]}])
def test_the_lab_writer_and_the_verifier_hash_alike(payload):
    text = lego_audit_chain.canonical_payload(payload)
    lab = lego_audit_chain.record_digest(7, "2026-12-05T10:00:00.000Z", "a", "equipment.status", text, "ab" * 32)
    ours = record_digest({"id": 7, "ts": "2026-12-05T10:00:00.000Z", "actor": "a", "action": "equipment.status",
                          "payload": text, "prev_hash": "ab" * 32})
    assert lab == ours and len(ours) == 32
