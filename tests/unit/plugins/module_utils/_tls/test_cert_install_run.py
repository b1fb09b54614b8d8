"""cert_install's run(): install (the pair checked first, the old one backed up), check only, restore, on real
files made by the lab's CA; every refusal a TaskError, the diff only with --diff."""

import datetime
import os
import sys

import pytest

from mcpops.lab.fixtures.ca import TestCA, self_signed
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_install_run import (
    check_only,
    install,
    restore,
    run,
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
    with pytest.raises(TaskError, match=match) as refused:
        install(params(src_cert, src_key, cert, key), check_mode=False)
    assert "Refused before anything was touched" in str(refused.value)
    assert snapshot(cert, key) == before and not (tmp / "tls/.cert-backups").exists()
    assert "PRIVATE KEY" not in str(refused.value)


def test_check_only_and_restore_input(svc, ca):
    tmp, _, _ = svc
    src_cert, src_key = ca.issue(["gw.example"]).write(tmp / "n/c.pem", tmp / "n/k.pem")
    assert check_only(params(src_cert, src_key))["changed"] is False
    with pytest.raises(TaskError, match="needs backup"):
        restore(params(src_cert, src_key), check_mode=False)
    with pytest.raises(TaskError, match="not a certificate backup"):
        restore(params(src_cert, src_key, backup=str(tmp)), check_mode=False)


def test_run_picks_the_state_and_keeps_the_diff_only_with_diff(svc, ca):
    tmp, cert, key = svc
    before = snapshot(cert, key)
    src_cert, src_key = ca.issue(["gw.example"], days=90).write(tmp / "new/fullchain.pem", tmp / "new/privkey.pem")
    p = params(src_cert, src_key, cert, key, state="present")
    plan = run(p, check_mode=True, diff=True)
    assert plan["changed"] is True and snapshot(cert, key) == before
    assert plan["diff"]["after"]["serial"] == plan["new_serial"] != plan["diff"]["before"]["serial"]
    done = run(p, check_mode=False)
    assert "diff" not in done and done["changed"] is True and snapshot(cert, key) == snapshot(src_cert, src_key)
    checked = run(dict(p, state="checked"), check_mode=False)
    assert checked["changed"] is False and checked["certificate"]["serial"] == done["new_serial"]
    back = run(dict(p, state="restored", backup=done["backup"], cert_path=None, key_path=None), diff=True)
    assert back["changed"] is True and snapshot(cert, key) == before
    assert back["diff"] == {"before": {"serial": done["new_serial"]}, "after": {"serial": done["old_serial"]}}


def test_run_without_cryptography_names_the_library(svc, monkeypatch):
    tmp, cert, key = svc
    monkeypatch.setitem(sys.modules, "cryptography", None)  # import raises ImportError
    with pytest.raises(TaskError) as err:
        run(params(cert, key, cert, key, state="checked"))
    assert (err.value.library, err.value.reason) == ("cryptography >= 39", "to read certificates")
    assert "cryptography" in err.value.exception


def test_a_destination_without_its_directory_is_refused(svc, ca):
    tmp, cert, key = svc
    src_cert, src_key = ca.issue(["gw.example"]).write(tmp / "n/c.pem", tmp / "n/k.pem")
    with pytest.raises(TaskError, match="its directory does not exist; nothing was changed"):
        run(params(src_cert, src_key, str(tmp / "none/c.pem"), key, state="present"))
    with pytest.raises(TaskError, match="the same file"):
        run(params(src_cert, src_key, cert, cert, state="present"))
