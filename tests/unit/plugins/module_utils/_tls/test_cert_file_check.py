"""PEM files on the host: the first certificate's facts, and whether the bundle chains to an anchor of the
trust store, for each of the lab's certificate cases."""

import pytest

from mcpops.lab.fixtures.ca import make_cases
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls import cert_status as st
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_file_check import TrustAnchors, check_file


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    _ca, paths, root = make_cases(tmp_path_factory.mktemp("certs"))
    return paths, root


@pytest.mark.parametrize("case, reason, verified", [
    ("valid", None, True),
    ("expiring", None, True),
    ("expired", None, True),  # the chain is fine; expiry is the row's `expired`, classified later
    ("wrong-host", None, True),  # a file has no host to match
    ("self-signed", st.SELF_SIGNED, False),
    ("untrusted-root", st.UNTRUSTED, False),
    ("incomplete-chain", st.INCOMPLETE_CHAIN, False),
])
def test_each_case(cases, case, reason, verified):
    paths, root = cases
    row = check_file(paths[case]["cert"], TrustAnchors(root))
    assert (row["reason"], row["chain_verified"]) == (reason, verified)
    assert row["path"] == paths[case]["cert"] and row["serial"] == "%X" % paths[case]["serial"]
    assert row["expired"] is (case == "expired")
    assert row["chain_length"] == (1 if case in ("self-signed", "incomplete-chain") else 2)
    if reason:
        assert row["message"] == row["chain_error"] and root in row["message"]


def test_an_unreadable_file_is_a_row(cases, tmp_path):
    paths, root = cases
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    missing = check_file(str(tmp_path / "none.pem"), TrustAnchors(root))
    junk = check_file(str(tmp_path / "junk.pem"), TrustAnchors(root))
    assert missing["reason"] == junk["reason"] == st.UNREADABLE
    assert "No such file" in missing["message"] and "no PEM certificate" in junk["message"]
    assert st.classify(junk, 30, 7)["status"] == "error"


def test_a_hashed_directory_is_a_trust_store_and_a_bad_one_says_so(cases, tmp_path):
    paths, root = cases
    store = tmp_path / "store"
    store.mkdir()
    (store / "root.pem").write_bytes(open(root, "rb").read())
    (store / "README").write_text("not a certificate\n")  # skipped, not an error
    assert check_file(paths["valid"]["cert"], TrustAnchors(str(store)))["chain_verified"] is True
    (tmp_path / "bad.pem").write_text("nope\n")
    row = check_file(paths["valid"]["cert"], TrustAnchors(str(tmp_path / "bad.pem")))
    assert row["reason"] == st.UNTRUSTED and "cannot read the trust store" in row["message"]
