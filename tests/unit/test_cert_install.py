"""cert_pair checks and cert_install's install / restore on real files made by the lab's test CA."""

import datetime
import os

import pytest

from mcpops.lab.test_ca import TestCA, self_signed
from ansible_collections.mcpops.runbooks.plugins.module_utils.cert_install_tasks import (
    CertInstallError,
    check_only,
    install,
    restore,
)


@pytest.fixture(scope="module")
def ca():
    return TestCA()


@pytest.fixture
def svc(tmp_path, ca):
    old = ca.issue(["gw.example", "127.0.0.1"], days=5)
    cert, key = old.write(tmp_path / "tls/server.crt", tmp_path / "tls/server.key")
    os.chmod(key, 0o640)
    return tmp_path, cert, key


def params(cert_src, key_src, cert_path=None, key_path=None, names=("gw.example",), **extra):
    p = dict(cert_src=cert_src, key_src=key_src, cert_path=cert_path, key_path=key_path, names=list(names),
             backup_dir=None, backup=None)
    p.update(extra)
    return p


def snapshot(*paths):
    return [open(p, "rb").read() for p in paths]


def test_install_backup_idempotent_and_restore(svc, ca):
    tmp, cert, key = svc
    before = snapshot(cert, key)
    new = ca.issue(["gw.example", "127.0.0.1"], days=90)
    src_cert, src_key = new.write(tmp / "new/fullchain.pem", tmp / "new/privkey.pem")
    p = params(src_cert, src_key, cert, key)

    dry = install(p, check_mode=True)
    assert dry["changed"] is True and dry["backup"] is None and snapshot(cert, key) == before
    assert dry["new_serial"] == "%X" % new.serial

    done = install(p, check_mode=False)
    assert done["changed"] is True and snapshot(cert, key) == snapshot(src_cert, src_key)
    assert snapshot(os.path.join(done["backup"], "cert.pem"), os.path.join(done["backup"], "key.pem")) == before
    assert oct(os.stat(key).st_mode & 0o777) == "0o640"  # the key's mode is kept

    assert install(p, check_mode=False)["changed"] is False
    back = restore(dict(p, backup=done["backup"], cert_path=None, key_path=None), check_mode=False)
    assert back["changed"] is True and snapshot(cert, key) == before
    assert restore(dict(p, backup=done["backup"]), check_mode=False)["changed"] is False


@pytest.mark.parametrize("problem, match", [
    ("mismatch", "does not match the key"),
    ("names", "does not cover gw.example"),
    ("expired", "expired at"),
    ("chain", "out of order"),
    ("not-pem", "cannot read the certificate"),
])
def test_bad_pairs_are_refused_before_anything_is_touched(svc, ca, problem, match):
    tmp, cert, key = svc
    before = snapshot(cert, key)
    good = ca.issue(["gw.example"])
    now = datetime.datetime.now(datetime.timezone.utc)
    issued = {
        "mismatch": good,
        "names": ca.issue(["other.example"]),
        "expired": ca.issue(["gw.example"], not_before=now - datetime.timedelta(days=9),
                            not_after=now - datetime.timedelta(days=1)),
        "chain": good,
        "not-pem": good,
    }[problem]
    src_cert, src_key = issued.write(tmp / "new/fullchain.pem", tmp / "new/privkey.pem")
    if problem == "mismatch":
        (tmp / "new/privkey.pem").write_bytes(ca.issue(["gw.example"]).key_pem())
    if problem == "chain":
        (tmp / "new/fullchain.pem").write_bytes(good.cert_pem(False) + self_signed(["x"]).cert_pem())
    if problem == "not-pem":
        (tmp / "new/fullchain.pem").write_text("hello\n")
    with pytest.raises(CertInstallError, match=match) as refused:
        install(params(src_cert, src_key, cert, key), check_mode=False)
    assert "Refused before anything was touched" in str(refused.value)
    assert snapshot(cert, key) == before and not (tmp / "tls/.cert-backups").exists()
    assert "PRIVATE KEY" not in str(refused.value)


def test_check_only_and_restore_input(svc, ca):
    tmp, _, _ = svc
    src_cert, src_key = ca.issue(["gw.example"]).write(tmp / "n/c.pem", tmp / "n/k.pem")
    assert check_only(params(src_cert, src_key))["changed"] is False
    with pytest.raises(CertInstallError, match="needs backup"):
        restore(params(src_cert, src_key), check_mode=False)
    with pytest.raises(CertInstallError, match="not a certificate backup"):
        restore(params(src_cert, src_key, backup=str(tmp)), check_mode=False)
