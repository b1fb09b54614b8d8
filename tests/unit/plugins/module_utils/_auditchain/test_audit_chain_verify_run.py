"""The module's run(): keys from its options, the chain read through the connection helper, the verdict in the
result, a failed task for a broken chain unless fail_on_broken is off, and PostgreSQL failures that say where."""

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from ansible_collections.mcpops.runbooks.plugins.module_utils._auditchain.audit_chain_verify_run import run
from ansible_collections.mcpops.runbooks.plugins.module_utils._auditchain.chain_links import GENESIS, record_digest
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.connect import PgError

KEY = ec.generate_private_key(ec.SECP256R1())


def chain(n):
    out, prev = [], GENESIS
    for i in range(1, n + 1):
        record = {"id": i, "ts": "t%d" % i, "actor": "a", "action": "x", "payload": "{}", "prev_hash": prev}
        digest = record_digest(record)
        record.update(hash=digest.hex(), signed_by="hsm",
                      signature=base64.b64encode(KEY.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))).decode())
        out.append(record)
        prev = record["hash"]
    return out


class Session:
    def __init__(self, rows):
        self.rows = rows
        self.sql = []

    def query(self, sql, args=None, what=""):
        self.sql.append(sql)
        if args is None:
            return []
        return [r for r in self.rows if r["id"] > args[0]][:1000]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "hsm.pem"
    path.write_bytes(KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
    return str(path)


def test_an_intact_chain_is_ok_and_read_in_a_read_only_session(key_file):
    session = Session(chain(3))
    result = run({"hsm_public_key": key_file}, connect=lambda params: session)
    assert (result["ok"], result["records"], result["changed"]) == (True, 3, False)
    assert "verifies: 3 records" in result["msg"]
    assert "READ ONLY" in session.sql[0]


def test_a_broken_chain_fails_the_task_unless_told_not_to(key_file):
    rows = chain(3)
    rows[1]["payload"] = '{"x": 1}'
    with pytest.raises(TaskError) as caught:
        run({"hsm_public_key": key_file}, connect=lambda params: Session(rows))
    assert "BROKEN at record 2 (hash_mismatch" in caught.value.msg
    assert caught.value.result["first_broken"]["id"] == 2
    result = run({"hsm_public_key": key_file, "fail_on_broken": False}, connect=lambda params: Session(rows))
    assert result["ok"] is False and result["first_broken"]["id"] == 2


def test_the_key_may_be_fetched_and_must_be_given(key_file):
    fetched = []

    def fetch(url, ca_cert, validate_certs):
        fetched.append((url, ca_cert, validate_certs))
        return KEY.public_key()

    result = run({"hsm_public_key_url": "https://hsm:1/public-key", "hsm_ca_cert": "/ca.pem"},
                 connect=lambda params: Session(chain(1)), fetch=fetch)
    assert result["ok"] and fetched == [("https://hsm:1/public-key", "/ca.pem", True)]
    with pytest.raises(TaskError, match="give hsm_public_key"):
        run({}, connect=lambda params: Session([]))


def test_a_database_failure_says_where(key_file):
    def refuse(params):
        raise PgError("could not connect as user lego to database lego_mcp at 127.0.0.1:1: refused")

    with pytest.raises(TaskError, match="could not connect as user lego"):
        run({"hsm_public_key": key_file}, connect=refuse)
    with pytest.raises(TaskError, match="not a plain identifier"):
        run({"hsm_public_key": key_file, "table": "x;y"}, connect=refuse)
