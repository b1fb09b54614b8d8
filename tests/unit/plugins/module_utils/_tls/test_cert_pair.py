"""cert_install's checks of a new pair, one by one: parse, key match, names, validity, chain order; the key's
bytes never in a message."""

import datetime

import pytest

from mcpops.lab.fixtures.ca import TestCA, self_signed
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_pair import CertPairError, check_pair

UTC = datetime.timezone.utc


@pytest.fixture(scope="module")
def ca():
    return TestCA()


def check(issued, names=("gw.example",), cert=None, key=None, now=None):
    return check_pair(cert or issued.cert_pem(), "cert.pem", key or issued.key_pem(), "key.pem", list(names), now)


def test_a_good_pair_gives_the_facts_with_the_chain_length(ca):
    issued = ca.issue(["gw.example", "*.api.example"])
    facts = check(issued, names=["gw.example", "x.api.example"])
    assert facts["serial"] == "%X" % issued.serial and facts["chain_length"] == 2
    assert check(issued, cert=issued.cert_pem(with_chain=False))["chain_length"] == 1


def test_each_check_says_what_failed(ca):
    issued = ca.issue(["gw.example"])
    with pytest.raises(CertPairError, match="does not match the key key.pem: they are not a pair"):
        check(issued, key=ca.issue(["gw.example"]).key_pem())
    with pytest.raises(CertPairError, match=r"does not cover other.example \(it names DNS:gw.example\)"):
        check(issued, names=["gw.example", "other.example"])
    with pytest.raises(CertPairError, match="expired at"):
        check(issued, now=datetime.datetime.now(UTC) + datetime.timedelta(days=400))
    with pytest.raises(CertPairError, match="is not valid before"):
        check(issued, now=datetime.datetime.now(UTC) - datetime.timedelta(days=30))
    with pytest.raises(CertPairError, match="out of order or broken"):
        check(issued, cert=issued.cert_pem(False) + self_signed(["x"]).cert_pem())
    with pytest.raises(CertPairError, match="cannot read the certificate cert.pem as PEM"):
        check(issued, cert=b"hello")


def test_an_unreadable_key_is_named_without_its_bytes(ca):
    issued = ca.issue(["gw.example"])
    garbage = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n"
    with pytest.raises(CertPairError) as err:
        check(issued, key=garbage)
    assert str(err.value).startswith("cannot read the private key key.pem (PEM, unencrypted): ")
    assert "c2VjcmV0" not in str(err.value) and "PRIVATE KEY" not in str(err.value)
