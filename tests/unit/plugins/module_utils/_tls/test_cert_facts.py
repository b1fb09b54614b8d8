"""One certificate's facts as plain values, the validity checks against a given now, PEM bundles, and a host
without `cryptography` told so."""

import datetime
import sys

import pytest

from mcpops.lab.fixtures.ca import TestCA, self_signed
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_facts import (
    cert_facts,
    days_left,
    is_expired,
    is_not_yet_valid,
    is_self_issued,
    load_der,
    load_pem_bundle,
    require_cryptography,
)

UTC = datetime.timezone.utc
NOT_BEFORE = datetime.datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca():
    return TestCA()


@pytest.fixture(scope="module")
def leaf(ca):
    return ca.issue(["gw.example", "127.0.0.1"], not_before=NOT_BEFORE, not_after=NOT_AFTER)


def test_facts_of_a_leaf(ca, leaf):
    now = datetime.datetime(2026, 2, 1, tzinfo=UTC)
    facts = cert_facts(leaf.cert, now)
    assert facts == {
        "subject": "CN=gw.example,O=mcpops lab",
        "issuer": ca.intermediate.cert.subject.rfc4514_string(),
        "sans": ["DNS:gw.example", "IP:127.0.0.1"],
        "serial": "%X" % leaf.serial,
        "not_before": "2026-01-01T00:00:00Z",
        "not_after": "2026-03-01T12:00:00Z",
        "days_left": 28,  # 28 days and 12 hours, rounded down
        "key_type": "EC secp256r1",
        "key_size": 256,
        "signature_algorithm": "ecdsa-with-SHA256",
        "self_signed": False,
    }


def test_rsa_key_and_self_signed(ca):
    rsa_leaf = ca.issue(["gw.example"], rsa_bits=2048)
    facts = cert_facts(rsa_leaf.cert)
    assert (facts["key_type"], facts["key_size"]) == ("RSA", 2048)
    assert is_self_issued(self_signed(["x.example"]).cert) and not is_self_issued(rsa_leaf.cert)


def test_validity_against_now(leaf):
    before, inside, after = (datetime.datetime(2025, 12, 31, tzinfo=UTC), datetime.datetime(2026, 2, 1, tzinfo=UTC),
                             datetime.datetime(2026, 3, 2, tzinfo=UTC))
    assert is_not_yet_valid(leaf.cert, before) and not is_not_yet_valid(leaf.cert, inside)
    assert is_expired(leaf.cert, after) and not is_expired(leaf.cert, inside)
    assert days_left(leaf.cert, after) == -1  # rounded down: half a day past notAfter is day -1


def test_pem_bundles_in_file_order_and_der(ca, leaf):
    certs = load_pem_bundle(leaf.cert_pem().decode())  # text is accepted as well as bytes
    assert [c.serial_number for c in certs] == [leaf.serial, ca.intermediate.serial]
    from cryptography.hazmat.primitives import serialization

    assert load_der(leaf.cert.public_bytes(serialization.Encoding.DER)).serial_number == leaf.serial
    with pytest.raises(ValueError, match="no PEM certificate"):
        load_pem_bundle(b"hello")


def test_require_cryptography(monkeypatch):
    require_cryptography()  # installed here: nothing to say
    monkeypatch.setitem(sys.modules, "cryptography", None)  # import raises ImportError
    with pytest.raises(TaskError) as err:
        require_cryptography()
    assert (err.value.library, err.value.reason) == ("cryptography >= 39", "to read certificates")
